"""Configuration: defaults < gravity.toml < GRAVITY_* environment (NATS KV layering comes with the config service)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

CONFIG_ENV = "GRAVITY_CONFIG"
DEFAULT_CONFIG_FILE = "gravity.toml"

ModelT = TypeVar("ModelT", bound=BaseModel)
_SENTINEL_SCHEMES = ("redis", "valkey")


class DatabaseSettings(BaseModel):
    """PostgreSQL. `url` is the administrative DSN used only by migrations to create schemas and roles;
    nodes connect as each service's own least-privilege role, on the same host and database."""

    url: str = "postgresql://postgres@127.0.0.1:55432/gravity"
    pool_min: int = Field(1, ge=0)
    pool_max: int = Field(4, ge=1)
    command_timeout: float = Field(10.0, gt=0)
    admin_reserve: int = Field(5, ge=0, description="connections kept free for administrators")


class NatsSettings(BaseModel):
    """NATS with JetStream: the bus between services and nodes."""

    url: str = "nats://127.0.0.1:54222"
    request_timeout: float = Field(10.0, gt=0)
    stream_replicas: int = Field(1, ge=1, le=5)


class ValkeySettings(BaseModel):
    """Valkey: rate limits, deny-lists, short-lived state."""

    url: str = Field("redis://127.0.0.1:56379/0", description=(
        "the server, user name, password and database; with `sentinels`, only the user name, password and database "
        "are used (the host and port are not)"))
    timeout: float = Field(0.5, gt=0)
    sentinels: list[str] = Field(default_factory=list, description=(
        'Sentinels as "host:port" ("[v6]:port"); the primary is the one they name, followed across failovers. '
        "They are asked with the url's user name and password. Empty: the url's host is the server"))
    sentinel_master: str = Field("gravity", min_length=1, description="the name the sentinels know the primary by")

    @field_validator("sentinels")
    @classmethod
    def _sentinels_are_addresses(cls, sentinels: list[str]) -> list[str]:
        for entry in sentinels:
            host_and_port(entry)
        return sentinels

    @model_validator(mode="after")
    def _sentinels_speak_plain_tcp(self) -> ValkeySettings:
        if self.sentinels and urlsplit(self.url).scheme not in _SENTINEL_SCHEMES:
            raise ValueError("with sentinels the url must be redis:// or valkey:// (no TLS, no unix socket)")
        return self

    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """The sentinels as (host, port) pairs."""
        return [host_and_port(entry) for entry in self.sentinels]


def host_and_port(address: str) -> tuple[str, int]:
    """Split "host:port" (an IPv6 host may be in brackets); ValueError if it is not that."""
    host, _, port = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{address!r} is not host:port")
    return host, int(port)


class GatewaySettings(BaseModel):
    """The public edge of a node."""

    host: str = "127.0.0.1"
    port: int = 8080
    cors_origins: list[str] = Field(default_factory=list)
    body_limit: int = Field(1024 * 1024, ge=1024)
    trusted_proxies: list[str] = Field(default_factory=list, description="CIDRs whose X-Forwarded-For is believed")
    rate_limit_per_minute: int = Field(1200, ge=1, description="per authenticated subject")
    anonymous_rate_limit_per_minute: int = Field(300, ge=1, description="per client address")
    metrics_allow: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    request_timeout: float = Field(15.0, gt=0)


class GravitySettings(BaseSettings):
    """Everything a node reads at start-up. Each service's own settings live under `[service.<name>]`."""

    model_config = SettingsConfigDict(env_prefix="GRAVITY_", env_nested_delimiter="__", extra="ignore")

    environment: Literal["dev", "production"] = "dev"
    project_dir: Path = Path(".gravity")
    master_key_file: Path | None = None
    public_url: str = "http://127.0.0.1:8080"
    node_name: str = Field(default_factory=lambda: os.uname().nodename)
    log_level: str = "info"
    log_json: bool = True
    drain_timeout: float = Field(20.0, ge=0)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    nats: NatsSettings = Field(default_factory=NatsSettings)
    valkey: ValkeySettings = Field(default_factory=ValkeySettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    service: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG_FILE))
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file)

    def for_service(self, name: str, model: type[ModelT]) -> ModelT:
        """Validate the `[service.<name>]` section against the service's settings model."""
        return model.model_validate(self.service.get(name, {}))

    def resolved_master_key_file(self) -> Path:
        """Where the master key is read from: a systemd credential, the configured file, or the dev default."""
        credentials = os.environ.get("CREDENTIALS_DIRECTORY")
        if credentials and (Path(credentials) / "gravity-master-key").exists():
            return Path(credentials) / "gravity-master-key"
        return self.master_key_file or self.project_dir / "secrets" / "master.key"
