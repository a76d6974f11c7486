"""The node app factory: one Litestar app hosting the chosen services, with the kernel's edge around them."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Litestar, MediaType, Request, Response, get
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gravity_platform import __version__
from gravity_platform.kernel.access import PUBLIC, check_route_permissions
from gravity_platform.kernel.errors import EXCEPTION_HANDLERS, ForbiddenError, ServiceUnavailableError
from gravity_platform.kernel.middleware import AuthRateLimitMiddleware, Networks, RequestContextMiddleware
from gravity_platform.kernel.node import Node


def _node(request: Request[Any, Any, Any]) -> Node:
    node: Node = request.app.state.node
    return node


@get("/healthz", opt={"permission": PUBLIC}, include_in_schema=False, sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@get("/readyz", opt={"permission": PUBLIC}, include_in_schema=False)
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """This node can serve: 503 while draining or while a dependency it cannot work without is down."""
    try:
        checks = await asyncio.wait_for(_node(request).readiness(), timeout=3.0)
    except TimeoutError:
        checks = {"timeout": False}
    ready = all(checks.values())
    return Response({"status": "ready" if ready else "unavailable", "checks": checks},
                    status_code=200 if ready else 503)


@get("/metrics", opt={"permission": PUBLIC}, include_in_schema=False, sync_to_thread=False)
def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus metrics, only for addresses allowed to scrape (loopback by default)."""
    node = _node(request)
    peer = (request.scope.get("client") or ("", 0))[0]
    if peer not in Networks(node.settings.gateway.metrics_allow):
        raise ForbiddenError("Metrics are not served to this address")
    return Response(generate_latest(node.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def create_app(node: Node) -> Litestar:
    """Build the node's app; the node's connections open in the app's lifespan."""
    settings = node.settings

    async def on_startup() -> None:
        if not settings.environment == "dev" and not node.services:
            raise ServiceUnavailableError("no services to host")
        await node.start()

    app = Litestar(
        route_handlers=[healthz, readyz, metrics],
        plugins=list(node.services),
        middleware=[DefineMiddleware(AuthRateLimitMiddleware, node=node)],
        exception_handlers=EXCEPTION_HANDLERS,
        on_startup=[on_startup],
        on_shutdown=[node.stop],
        request_max_body_size=settings.gateway.body_limit,
        state=State({"node": node}),
        openapi_config=OpenAPIConfig(
            title="Gravity", version=__version__, path="/schema",
            components=Components(security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
            }),
            security=[{"bearer": []}],
        ),
        debug=False,
        logging_config=None,
    )
    check_route_permissions([handler for route in app.routes for handler in getattr(route, "route_handlers", [])])
    # Outermost, unlike route middleware: unmatched paths, CORS preflights and router errors get a request ID too.
    app.asgi_handler = RequestContextMiddleware(app.asgi_handler, node)
    node.app = app
    return app


def json_response(body: Any, status: int = 200) -> Response[Any]:
    """A JSON response with an explicit status (for handlers choosing it at run time)."""
    return Response(body, status_code=status, media_type=MediaType.JSON)

