"""The notifications service plugin."""

from __future__ import annotations

from gravity_platform.kernel.plugins import Service


class NotificationsService(Service):
    """Templates, channel preferences, fan-out to email, SMS, push and the in-app inbox (port 8083)."""

    name = "notifications"
    port = 8083
    description = "Templates, channel preferences, fan-out to email, SMS, push and the in-app inbox"
    route_prefixes = ("/api/v1/notifications",)
