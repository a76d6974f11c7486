"""Settings of the files service (`[service.files]` in gravity.toml, `GRAVITY_SERVICE__FILES__*` in the environment)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

GIB = 1024**3


class FilesSettings(BaseModel):
    """Storage backend, limits and lifetimes."""

    storage: str = Field("local", description="the storage backend (`gravity_storage_backend` hook), e.g. local, s3")
    storage_options: dict[str, Any] = Field(
        default_factory=dict, description="the backend's options; local: `root` (default <project_dir>/files)")
    max_file_size: int = Field(5 * GIB, ge=1, description="largest file one upload may carry, in bytes")
    quota_bytes: int = Field(10 * GIB, ge=0, description="bytes each user may keep in total")
    signed_url_max_ttl: int = Field(7 * 24 * 3600, ge=1, description="longest lifetime of a signed URL, seconds")
    signed_url_default_ttl: int = Field(3600, ge=1)
    tus_upload_ttl: int = Field(24 * 3600, ge=60, description="seconds an unfinished resumable upload is kept")
    advertise_url: str | None = Field(
        None, description="this node's internal HTTP URL for streamed requests from gateways on other nodes "
                          "(default http://<gateway.host>:<the node's port>)")
