"""The S3 backend's options: `[service.files.storage_options]` when `[service.files] storage = "s3"`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from gravity_platform.kernel.plugins import PluginError

MIB = 1024 * 1024
# S3 refuses multipart parts under 5 MiB (except the last) and uploads of more than 10,000 parts.
MIN_PART_SIZE = 5 * MIB
MAX_PART_SIZE = 5 * 1024 * MIB


class S3OptionsError(PluginError):
    """The storage options do not describe a usable S3 store."""


class S3Options(BaseModel):
    """Where the bucket is, how to sign in, and how objects are laid out and uploaded.

    Credentials left out fall back to botocore's usual chain (environment, shared files, instance role)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: str = Field(min_length=3, max_length=63, description="the bucket holding the files")
    endpoint_url: str | None = Field(None, description="the S3 API URL; None means AWS itself")
    region: str = Field("us-east-1", description="the signing region")
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    prefix: str = Field("", description="prepended to every object key, e.g. `gravity/files/`")
    part_size: int = Field(8 * MIB, ge=MIN_PART_SIZE, le=MAX_PART_SIZE, description="multipart part size, bytes")
    create_bucket: bool = Field(False, description="create the bucket on first use when it is missing")
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(60.0, gt=0)
    max_attempts: int = Field(3, ge=1, le=10, description="attempts of each S3 call (botocore's retries)")
    max_connections: int = Field(64, ge=1, description="connections kept open to S3 (each download holds one)")

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_a_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix_is_relative(cls, value: str) -> str:
        if value.startswith("/"):
            raise ValueError("must not start with '/'")
        return value

    @classmethod
    def parse(cls, options: dict[str, Any]) -> S3Options:
        """Validate the operator's options (strings from the environment are converted)."""
        try:
            return cls.model_validate(options)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, item['loc'])) or 'options'}: {item['msg']}" for item in error.errors())
            raise S3OptionsError(f"invalid S3 storage options: {problems}") from None

    def object_key(self, key: str) -> str:
        """The S3 key of the files service's `key`."""
        return f"{self.prefix}{key}"

    def staging_key(self, token: str, name: str) -> str:
        """The S3 key of a resumable upload's staged tail object."""
        return f"{self.prefix}.gravity-uploads/{token}/{name}"

    def staging_prefix(self, token: str) -> str:
        """Where every staged object of one resumable upload lives."""
        return f"{self.prefix}.gravity-uploads/{token}/"
