"""The hooks extension plugins implement (with `@hookimpl`), documented for plugin authors.

Every hook states its parameters, what it returns, and whether the first non-None result wins."""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "gravity"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec(firstresult=True)
def gravity_auth_token_sender(kind: str, email: str, token: str, link: str) -> bool | None:
    """Deliver an account token (email verification or password reset) to its owner.

    Parameters: `kind` is `"verify-email"` or `"password-reset"`; `email` the recipient; `token` the
    single-use secret; `link` the public URL that carries it.
    Returns: True once delivered. First result wins: the first implementation that returns a value
    ends the call. With none installed, the auth service writes the link to its log (dev only)."""


@hookspec
def gravity_role_permissions() -> dict[str, list[str]]:  # type: ignore[empty-body]
    """Add roles, or permissions to existing roles, for the RBAC check on every route.

    Parameters: none.
    Returns: a mapping of role name to permissions (`service:action`, `service:*` or `*`).
    All results are merged (not first-result)."""


def documented_hooks() -> dict[str, Any]:
    """Every hookspec in this module, by name (the test suite checks each is documented)."""
    return {name: value for name, value in globals().items() if name.startswith("gravity_") and callable(value)}
