"""The files service plugin."""

from __future__ import annotations

from gravity_platform.kernel.plugins import Service


class FilesService(Service):
    """Streaming file storage with Range, tus resumable uploads, signed URLs and quotas (port 8084)."""

    name = "files"
    port = 8084
    description = "Streaming file storage with Range, tus resumable uploads, signed URLs and quotas"
    route_prefixes = ("/api/v1/files",)
