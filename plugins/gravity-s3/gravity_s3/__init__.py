"""S3 storage backend for the Gravity files service: `[service.files] storage = "s3"`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gravity_s3.options import S3Options, S3OptionsError

if TYPE_CHECKING:
    from gravity_s3.storage import S3Storage

__all__ = ["S3Options", "S3OptionsError", "S3Storage"]


def __getattr__(name: str) -> object:
    # botocore takes a while to import: only when S3 is really used, not on every node and CLI start.
    if name == "S3Storage":
        from gravity_s3.storage import S3Storage

        return S3Storage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
