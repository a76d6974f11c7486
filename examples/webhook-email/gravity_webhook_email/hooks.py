"""The hook implementation Gravity finds through the `gravity.plugins` entry point `webhook-email`."""

from __future__ import annotations

from typing import Any

from gravity_platform.kernel.hookspecs import hookimpl
from gravity_platform.services.email.transport import EmailTransport
from gravity_webhook_email.transport import WebhookOptions, WebhookTransport


@hookimpl
def gravity_email_transport(name: str, options: dict[str, Any]) -> EmailTransport | None:
    """The `webhook` transport; None for any other name, so other plugins get their turn."""
    if name != "webhook":
        return None
    return WebhookTransport(WebhookOptions.model_validate(options))
