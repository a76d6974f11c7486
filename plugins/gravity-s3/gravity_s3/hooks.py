"""The hook implementations this plugin registers (entry point `s3` in the `gravity.plugins` group).

Every node and CLI run loads this module, so it imports botocore only once the operator has chosen S3."""

from __future__ import annotations

from typing import Any

from gravity_platform.kernel.hookspecs import hookimpl
from gravity_platform.services.files.storage import StorageBackend


class S3Hooks:
    """Provides the `s3` storage backend to the files service."""

    @hookimpl
    def gravity_storage_backend(self, name: str, options: dict[str, Any]) -> StorageBackend | None:
        """An S3Storage when the operator chose `storage = "s3"`, else None."""
        if name != "s3":
            return None
        from gravity_s3.options import S3Options
        from gravity_s3.storage import S3Storage

        return S3Storage(S3Options.parse(options))


hooks = S3Hooks()
