"""Settings layering: defaults < gravity.toml (GRAVITY_CONFIG) < GRAVITY_* environment < explicit arguments."""

from __future__ import annotations

import os
from pathlib import Path

import pydantic
import pytest

from gravity_platform.kernel.settings import GravitySettings
from gravity_platform.services.auth.settings import AuthSettings

TOML = """
environment = "production"
log_level = "debug"

[gateway]
port = 9000
cors_origins = ["https://a.example"]
trusted_proxies = ["10.0.0.0/8"]

[database]
url = "postgresql://from-toml@db.example:5432/gravity"
pool_max = 7

[service.auth]
access_token_ttl = 120
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No GRAVITY_* variables from the outside, and a working directory without a gravity.toml."""
    for name in list(os.environ):
        if name.startswith("GRAVITY_") or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_config(folder: Path, text: str = TOML, name: str = "custom.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_defaults() -> None:
    settings = GravitySettings()
    assert settings.environment == "dev"
    assert settings.gateway.port == 8080
    assert settings.gateway.cors_origins == []
    assert settings.gateway.trusted_proxies == []
    assert settings.gateway.metrics_allow == ["127.0.0.0/8", "::1/128"]
    assert settings.gateway.body_limit == 1024 * 1024
    assert settings.for_service("auth", AuthSettings) == AuthSettings()


def test_toml_named_by_gravity_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRAVITY_CONFIG", str(write_config(tmp_path)))
    settings = GravitySettings()
    assert settings.environment == "production"
    assert settings.gateway.port == 9000
    assert settings.gateway.cors_origins == ["https://a.example"]
    assert settings.gateway.anonymous_rate_limit_per_minute == 300, "unset fields keep their defaults"
    assert settings.database.pool_max == 7
    assert settings.database.pool_min == 1
    assert settings.for_service("auth", AuthSettings).access_token_ttl == 120


def test_gravity_toml_in_the_working_directory_by_default(tmp_path: Path) -> None:
    write_config(tmp_path, name="gravity.toml")
    assert GravitySettings().gateway.port == 9000


def test_environment_beats_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRAVITY_CONFIG", str(write_config(tmp_path)))
    monkeypatch.setenv("GRAVITY_GATEWAY__PORT", "9100")
    monkeypatch.setenv("GRAVITY_DATABASE__URL", "postgresql://from-env@db.example:5432/gravity")
    monkeypatch.setenv("GRAVITY_LOG_LEVEL", "warning")
    monkeypatch.setenv("GRAVITY_GATEWAY__TRUSTED_PROXIES", '["192.168.0.0/16"]')
    settings = GravitySettings()
    assert settings.gateway.port == 9100
    assert settings.gateway.trusted_proxies == ["192.168.0.0/16"]
    assert settings.gateway.cors_origins == ["https://a.example"], "sections merge: the rest still comes from toml"
    assert settings.database.url.startswith("postgresql://from-env@")
    assert settings.database.pool_max == 7
    assert settings.log_level == "warning"
    assert settings.environment == "production"


def test_arguments_beat_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRAVITY_CONFIG", str(write_config(tmp_path)))
    monkeypatch.setenv("GRAVITY_GATEWAY__PORT", "9100")
    monkeypatch.setenv("GRAVITY_LOG_LEVEL", "warning")
    settings = GravitySettings(log_level="error")
    assert settings.log_level == "error"
    assert settings.gateway.port == 9100


def test_missing_config_file_means_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRAVITY_CONFIG", str(tmp_path / "absent.toml"))
    assert GravitySettings().gateway.port == 8080


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRAVITY_GATEWAY__PORT", "not-a-port")
    with pytest.raises(pydantic.ValidationError):
        GravitySettings()
    monkeypatch.delenv("GRAVITY_GATEWAY__PORT")
    monkeypatch.setenv("GRAVITY_CONFIG", str(write_config(tmp_path, "[gateway]\nbody_limit = 10\n")))
    with pytest.raises(pydantic.ValidationError, match="body_limit"):
        GravitySettings()
    monkeypatch.setenv("GRAVITY_CONFIG", str(write_config(tmp_path, 'environment = "staging"\n')))
    with pytest.raises(pydantic.ValidationError, match="environment"):
        GravitySettings()


def test_master_key_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert GravitySettings(project_dir=tmp_path).resolved_master_key_file() == tmp_path / "secrets" / "master.key"
    monkeypatch.setenv("GRAVITY_MASTER_KEY_FILE", str(tmp_path / "elsewhere.key"))
    assert GravitySettings().resolved_master_key_file() == tmp_path / "elsewhere.key"
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "gravity-master-key").write_text("x")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert GravitySettings().resolved_master_key_file() == credentials / "gravity-master-key", \
        "a systemd credential wins"
