"""The email service plugin."""

from __future__ import annotations

from gravity_platform.kernel.plugins import Service


class EmailService(Service):
    """Email delivery over SMTP, with a mail catcher for local development (port 8091)."""

    name = "email"
    port = 8091
    description = "Email delivery over SMTP, with a mail catcher for local development"
    route_prefixes = ("/api/v1/email",)
