"""Route permissions: every route declares `opt={"permission": ...}` and the kernel middleware enforces it."""

from __future__ import annotations

from litestar.handlers.base import BaseRouteHandler
from litestar.types import Scope

from gravity_platform.kernel.errors import GravityError, UnauthorizedError
from gravity_platform.kernel.security import Principal, require_permission

PRINCIPAL_KEY = "gravity_principal"
AUTH_ERROR_KEY = "gravity_auth_error"
CLIENT_KEY = "gravity_client"

PUBLIC = "public"
"""Anyone may call the route (it may still read a principal when a valid token is sent)."""
AUTHENTICATED = "authenticated"
"""Any valid access token."""


class MissingPermissionError(RuntimeError):
    """A route was registered without declaring its permission."""


def enforce_permission(scope: Scope, handler: BaseRouteHandler) -> None:
    """Refuse the call unless the principal holds the route's declared permission.

    Called by the kernel middleware once the route is known (Litestar sets `route_handler` in the scope
    before a route's middleware runs), rather than as a Litestar guard: a guard costs a copy of the handler
    on every request."""
    permission = handler.opt.get("permission")
    if permission is None:
        if _framework_owned(handler):
            return
        raise MissingPermissionError(f"route {handler} declares no permission")
    if permission == PUBLIC:
        return
    error: GravityError | None = scope.get(AUTH_ERROR_KEY)  # type: ignore[assignment]
    if error is not None:
        raise error
    principal: Principal | None = scope.get(PRINCIPAL_KEY)  # type: ignore[assignment]
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
