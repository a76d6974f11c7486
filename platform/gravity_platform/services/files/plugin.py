"""The files service plugin."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from litestar import Request, Response
from litestar.config.app import AppConfig
from litestar.middleware import DefineMiddleware
from litestar.types import ControllerRouterHandler

from gravity_platform.kernel.errors import ServiceUnavailableError, problem_body, problem_response
from gravity_platform.kernel.hookspecs import hookimpl
from gravity_platform.kernel.plugins import BusHandler, Service
from gravity_platform.kernel.routing import service_router
from gravity_platform.services.files.settings import FilesSettings
from gravity_platform.services.files.storage import StorageBackend, StorageError
from gravity_platform.services.files.tables import DB, TABLES

log = logging.getLogger("gravity.files")


def _storage_error(_: Request[Any, Any, Any], error: StorageError) -> Response[bytes]:
    log.error("storage backend failed", extra={"error": str(error)})
    down = ServiceUnavailableError("The file store is unavailable; try again shortly", headers={"Retry-After": "5"})
    return problem_response(503, problem_body(503, down.code, down.title, down.detail), down.headers)


class FilesService(Service):
    """Streaming file storage with Range, tus resumable uploads, signed URLs and quotas (port 8084)."""

    name = "files"
    port = 8084
    description = "Streaming file storage with Range, tus resumable uploads, signed URLs and quotas"
    route_prefixes = ("/api/v1/files",)
    settings_model = FilesSettings
    database = DB
    migrations_module = "gravity_platform.services.files.piccolo_migrations"
    tables = TABLES
    streamed_routes: ClassVar[tuple[tuple[frozenset[str], str], ...]] = (
        (frozenset({"POST"}), r"^/api/v1/files/?$"),
        (frozenset({"PATCH"}), r"^/api/v1/files/tus/[^/]+/?$"),
        (frozenset({"GET", "HEAD"}), r"^/api/v1/files/[^/]+/content/?$"),
    )
    """Requests a gateway on another node proxies over HTTP (streamed both ways) instead of NATS."""

    def __init__(self) -> None:
        super().__init__()
        from gravity_platform.services.files.concat import Concatenation
        from gravity_platform.services.files.resumable import Resumable
        from gravity_platform.services.files.services import Files

        self.settings = FilesSettings()
        self.logic = Files(self)
        self.resumable = Resumable(self)
        self.concat = Concatenation(self)
        self._storage: StorageBackend | None = None

    def attach(self, node: Any) -> None:
        super().attach(node)
        self.settings = node.settings.for_service(self.name, FilesSettings)

    @property
    def storage(self) -> StorageBackend:
        """The configured storage backend (chosen through the `gravity_storage_backend` hook at start)."""
        if self._storage is None:
            self._storage = self._open_storage()
        return self._storage

    def _open_storage(self) -> StorageBackend:
        backend = self.node.hooks.hook.gravity_storage_backend(
            name=self.settings.storage, options=dict(self.settings.storage_options))
        if backend is None:
            raise StorageError(f"no storage backend called {self.settings.storage!r} is installed")
        return backend  # type: ignore[no-any-return]

    @hookimpl
    def gravity_storage_backend(self, name: str, options: dict[str, Any]) -> StorageBackend | None:
        """The built-in local-disk backend, `local` (option `root`, default `<project_dir>/files`)."""
        if name != "local":
            return None
        from gravity_platform.services.files.local import LocalStorage

        root = options.get("root") or self.node.settings.project_dir / "files"
        return LocalStorage(Path(root), fsync=bool(options.get("fsync", True)))

    @hookimpl
    def gravity_role_permissions(self) -> dict[str, list[str]]:
        """Every user may keep, read and share their own files."""
        return {"user": ["files:read", "files:write"]}

    def route_handlers(self) -> Sequence[ControllerRouterHandler]:
        from gravity_platform.services.files.controllers import FilesController
        from gravity_platform.services.files.tus import TusController

        return [service_router(self, [TusController, FilesController],
                               exception_handlers={StorageError: _storage_error})]

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        from gravity_platform.kernel.forwarding import TrustForwardedMiddleware

        app_config.middleware.insert(0, DefineMiddleware(TrustForwardedMiddleware, node=self.node))
        return super().on_app_init(app_config)

    def bus_endpoints(self) -> dict[str, BusHandler]:
        return {"locate": self._locate}

    async def _locate(self, _: bytes, __: dict[str, str]) -> bytes:
        """Where this instance takes streamed HTTP requests (a gateway on another node asks, NATS picks one)."""
        return json.dumps({"url": self.advertised_url(), "node": self.node.settings.node_name}).encode()

    def advertised_url(self) -> str:
        """This node's internal HTTP URL: setting `advertise_url`, else where the node serves HTTP."""
        if self.settings.advertise_url:
            return self.settings.advertise_url.rstrip("/")
        if self.node.http_url:
            return self.node.http_url
        from gravity_platform.kernel.server import advertised_host, listen_port

        return f"http://{advertised_host(self.node.settings.gateway.host)}:{listen_port(self.node, None)}"

    async def start(self) -> None:
        from gravity_platform.services.files.sweeper import Sweeper

        _ = self.storage
        self.sweeper = Sweeper(self)
        self.sweeper.start()

    async def stop(self) -> None:
        sweeper = getattr(self, "sweeper", None)
        if sweeper is not None:
            await sweeper.stop()
        if self._storage is not None:
            await self._storage.close()

