"""Route-level access control: every route declares `opt={"permission": ...}`; one guard enforces it.

Handlers reach the caller and their service through small explicit helpers taking the request
(`current_principal`, `optional_principal`, `client_address`, `service_of`) rather than through Litestar
dependency injection: a handler with two or more dependencies makes Litestar resolve them in a task group on
every call, which cost more than the rest of a cached read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

from litestar import MediaType, Request, Response, Router
from litestar.types import ControllerRouterHandler

from gravity_platform.kernel.access import (
    CLIENT_KEY,
    PRINCIPAL_KEY,
)
from gravity_platform.kernel.errors import UnauthorizedError
from gravity_platform.kernel.security import Principal

SERVICE_OPT = "gravity_service"
"""The `opt` key under which a service's router carries the service (`service_router`), for `service_of`."""

S = TypeVar("S")


class _ServiceRef:
    """The service in a router's `opt`: Litestar deep-copies routers it registers, never the service itself."""

    __slots__ = ("service",)

    def __init__(self, service: object) -> None:
        self.service = service

    def __deepcopy__(self, memo: dict[int, Any]) -> _ServiceRef:
        return self


def service_router(service: object, route_handlers: Sequence[ControllerRouterHandler], **kwargs: Any) -> Router:
    """A router for a service's controllers that lets each handler reach the service with `service_of`."""
    return Router(path="/", route_handlers=list(route_handlers), opt={SERVICE_OPT: _ServiceRef(service)}, **kwargs)


def service_of(request: Request[Any, Any, Any], kind: type[S]) -> S:
    """The service whose router (`service_router`) holds the route being served."""
    ref = request.route_handler.opt.get(SERVICE_OPT)
    service = ref.service if isinstance(ref, _ServiceRef) else None
    if not isinstance(service, kind):
        raise TypeError(f"route {request.route_handler} is not served by a {kind.__name__}")
    return service


def current_principal(request: Request[Any, Any, Any]) -> Principal:
    """The verified caller; 401 without one (the permission guard has normally refused such a call already)."""
    principal: Principal | None = request.scope.get(PRINCIPAL_KEY)  # type: ignore[assignment]
    if principal is None:
        raise UnauthorizedError()
    return principal


def optional_principal(request: Request[Any, Any, Any]) -> Principal | None:
    """The caller if a valid access token was sent, else None."""
    principal: Principal | None = request.scope.get(PRINCIPAL_KEY)  # type: ignore[assignment]
    return principal


def client_address(request: Request[Any, Any, Any]) -> str:
    """The real client address (see `gravity_platform.kernel.middleware.client_address`)."""
    return str(request.scope.get(CLIENT_KEY, "unknown"))


def encoded_json(body: bytes, model: type[S]) -> Response[S]:
    """An already encoded JSON document of shape `model`, sent as is (the OpenAPI schema still says `model`)."""
    return cast("Response[S]", Response(body, media_type=MediaType.JSON))
