"""The hooks extension plugins implement (with `@hookimpl`), documented for plugin authors.

Every hook states its parameters, what it returns, and whether the first non-None result wins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from gravity_platform.services.email.transport import EmailTransport
    from gravity_platform.services.files.storage import StorageBackend
    from gravity_platform.services.notifications.push import PushProvider
    from gravity_platform.services.sms.provider import SmsProvider

PROJECT = "gravity"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec(firstresult=True)
def gravity_auth_token_sender(kind: str, email: str, token: str, link: str) -> bool | None:
    """Deliver an account token (email verification or password reset) to its owner.

    Parameters: `kind` is `"verify-email"` or `"password-reset"`; `email` the recipient; `token` the
    single-use secret; `link` the public URL that carries it.
    Returns: True once delivered. First result wins: the first implementation that returns a value
    ends the call. With none installed, the auth service queues the email with the email service (`email.send`,
    on any node), and writes the link to its log (dev only) when no email service takes it."""


@hookspec
def gravity_role_permissions() -> dict[str, list[str]]:  # type: ignore[empty-body]
    """Add roles, or permissions to existing roles, for the RBAC check on every route.

    Parameters: none.
    Returns: a mapping of role name to permissions (`service:action`, `service:*` or `*`).
    All results are merged (not first-result)."""


@hookspec(firstresult=True)
def gravity_storage_backend(name: str, options: dict[str, Any]) -> StorageBackend | None:
    """Provide the files service's storage backend called `name` (its `storage` setting, e.g. `"local"`, `"s3"`).

    Parameters: `name` the backend the operator chose; `options` that backend's settings
    (`[service.files.storage_options]` in gravity.toml, or GRAVITY_SERVICE__FILES__STORAGE_OPTIONS__*).
    Returns: a `StorageBackend` if `name` is yours, else None. First result wins."""


@hookspec(firstresult=True)
def gravity_email_transport(name: str, options: dict[str, Any]) -> EmailTransport | None:
    """Provide the email service's transport called `name` (its `transport` setting, e.g. `"smtp"`).

    Parameters: `name` the transport the operator chose; `options` that transport's settings
    (`[service.email.transport_options]`).
    Returns: an `EmailTransport` if `name` is yours, else None. First result wins."""


@hookspec(firstresult=True)
def gravity_sms_provider(name: str, options: dict[str, Any]) -> SmsProvider | None:
    """Provide the SMS service's provider called `name` (its `provider` setting, e.g. `"outbox"`, `"twilio"`).

    Parameters: `name` the provider the operator chose; `options` that provider's settings
    (`[service.sms.provider_options]`).
    Returns: an `SmsProvider` if `name` is yours, else None. First result wins."""


@hookspec(firstresult=True)
def gravity_push_provider(name: str, options: dict[str, Any]) -> PushProvider | None:
    """Provide the notifications service's push provider called `name` (e.g. `"webpush"`).

    Parameters: `name` the provider the operator chose (`[service.notifications] push_provider`);
    `options` its settings (`[service.notifications.push_options]`).
    Returns: a `PushProvider` if `name` is yours, else None. First result wins."""


def documented_hooks() -> dict[str, Any]:
    """Every hookspec in this module, by name (the test suite checks each is documented)."""
    return {name: value for name, value in globals().items() if name.startswith("gravity_") and callable(value)}
