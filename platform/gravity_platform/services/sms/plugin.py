"""The sms service plugin."""

from __future__ import annotations

from gravity_platform.kernel.plugins import Service


class SmsService(Service):
    """SMS delivery through provider plugins, with an outbox for local development (port 8092)."""

    name = "sms"
    port = 8092
    description = "SMS delivery through provider plugins, with an outbox for local development"
    route_prefixes = ("/api/v1/sms",)
