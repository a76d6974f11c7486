"""Route-level access control: every route declares `opt={"permission": ...}`; one guard enforces it."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler

from gravity_platform.kernel.errors import GravityError, UnauthorizedError
from gravity_platform.kernel.middleware import AUTH_ERROR_KEY, CLIENT_KEY, PRINCIPAL_KEY
from gravity_platform.kernel.security import Principal, require_permission

PUBLIC = "public"
"""Anyone may call the route (it may still read a principal when a valid token is sent)."""
AUTHENTICATED = "authenticated"
"""Any valid access token."""


class MissingPermissionError(RuntimeError):
    """A route was registered without declaring its permission."""


async def permission_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Refuse the call unless the principal holds the route's declared permission.

    A coroutine although it never awaits: Litestar runs a plain-function guard in a worker thread, which
    cost more than the rest of the request's routing on a busy node."""
    permission = handler.opt.get("permission")
    if permission is None:
        if _framework_owned(handler):
            return
        raise MissingPermissionError(f"route {handler} declares no permission")
    if permission == PUBLIC:
        return
    error: GravityError | None = connection.scope.get(AUTH_ERROR_KEY)  # type: ignore[assignment]
    if error is not None:
        raise error
    principal: Principal | None = connection.scope.get(PRINCIPAL_KEY)  # type: ignore[assignment]
    if principal is None:
        raise UnauthorizedError()
    if permission != AUTHENTICATED:
        require_permission(principal, permission)


def _framework_owned(handler: BaseRouteHandler) -> bool:
    """Litestar's own handlers (CORS preflight OPTIONS, the OpenAPI schema) are public by nature."""
    return getattr(handler.fn, "__module__", "").startswith("litestar.")


def check_route_permissions(handlers: list[BaseRouteHandler]) -> None:
    """Fail start-up if any route lacks an explicit permission."""
    missing = [str(h) for h in handlers if "permission" not in h.opt and not _framework_owned(h)]
    if missing:
        raise MissingPermissionError(f"routes without an explicit permission: {', '.join(missing)}")


def _principal(request: Request[Any, Any, Any]) -> Principal | None:
    principal: Principal | None = request.scope.get(PRINCIPAL_KEY)  # type: ignore[assignment]
    return principal


def _required_principal(request: Request[Any, Any, Any]) -> Principal:
    principal = _principal(request)
    if principal is None:
        raise UnauthorizedError()
    return principal


def _client_address(request: Request[Any, Any, Any]) -> str:
    return str(request.scope.get(CLIENT_KEY, "unknown"))


CurrentPrincipal = NamedDependency[Principal]
"""A handler parameter `principal: CurrentPrincipal` receives the verified caller (401 without one)."""
OptionalPrincipal = NamedDependency[Principal | None]
"""A handler parameter `maybe_principal: OptionalPrincipal` receives the caller if a valid token was sent."""
ClientAddress = NamedDependency[str]
"""A handler parameter `client_address: ClientAddress` receives the real client address."""

DEPENDENCIES = {
    "principal": Provide(_required_principal, sync_to_thread=False),
    "maybe_principal": Provide(_principal, sync_to_thread=False),
    "client_address": Provide(_client_address, sync_to_thread=False),
}
"""Injected into handlers by parameter name."""
