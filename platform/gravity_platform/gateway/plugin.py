"""The gateway service: CORS, routing to services on other nodes over NATS, the merged OpenAPI and Swagger UI.

Request IDs, the body limit, token verification and rate limiting are the kernel's and run on every node,
so a service reached on its own port is guarded exactly as one reached through the gateway."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import MediaType, Request, Response, Router, get, route
from litestar.config.app import AppConfig
from litestar.config.cors import CORSConfig
from litestar.types import ControllerRouterHandler

from gravity_platform.gateway.openapi import SWAGGER_HTML, merged_schema
from gravity_platform.gateway.realtime import realtime
from gravity_platform.gateway.streaming import StreamingProxy, streamed_route
from gravity_platform.kernel.access import CLIENT_KEY, PUBLIC
from gravity_platform.kernel.forwarding import forward
from gravity_platform.kernel.plugins import Service

_METHODS: list[Any] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class GatewayService(Service):
    """The single public entry of the platform (port 8080)."""

    name = "gateway"
    port = 8080
    description = "Public edge: routing, CORS, merged OpenAPI and Swagger UI"

    def route_handlers(self) -> Sequence[ControllerRouterHandler]:
        handlers: list[ControllerRouterHandler] = [openapi_json, swagger_ui, realtime]
        for name, service in sorted(self.node.installed.items()):
            if not self.node.hosts(name) and service.route_prefixes:
                handlers.append(_forwarding_router(service, self.streaming))
        return handlers

    def attach(self, node: Any) -> None:
        super().attach(node)
        self.streaming = StreamingProxy(node)

    async def stop(self) -> None:
        await self.streaming.close()

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        origins = self.node.settings.gateway.cors_origins
        if origins:
            app_config.cors_config = CORSConfig(
                allow_origins=origins, allow_methods=_METHODS, allow_credentials=False,
                allow_headers=["Authorization", "Content-Type", "X-Request-ID", "Idempotency-Key"],
                expose_headers=["X-Request-ID", "Retry-After", "Location"], max_age=600,
            )
        return super().on_app_init(app_config)


def _forwarding_router(target: Service, streaming: StreamingProxy) -> Router:
    service = target.name
    paths = [p for prefix in target.route_prefixes for p in (prefix, f"{prefix.rstrip('/')}/{{rest:path}}")]

    @route(paths, http_method=_METHODS, opt={"permission": PUBLIC}, include_in_schema=False, name=f"fwd-{service}")
    async def forward_request(request: Request[Any, Any, Any]) -> Response[Any]:
        node = request.app.state.node
        client = str(request.scope.get(CLIENT_KEY, "unknown"))
        if streamed_route(target, request.method, request.scope["path"]):
            return await streaming.forward(service, request, client)
        return await forward(node, service, request, client)

    return Router(path="/", route_handlers=[forward_request])


@get("/openapi.json", opt={"permission": PUBLIC}, include_in_schema=False)
async def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The merged OpenAPI 3.1 document of every service, local or remote."""
    local = request.app.openapi_schema.to_schema()
    return await merged_schema(request.app.state.node, local)


@get("/docs", opt={"permission": PUBLIC}, include_in_schema=False, media_type=MediaType.HTML, sync_to_thread=False)
def swagger_ui() -> str:
    """Swagger UI over the merged document."""
    return SWAGGER_HTML
