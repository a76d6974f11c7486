"""NATS endpoints of the notifications service: `notifications.render` and `notifications.send`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from gravity_platform.kernel.bus import decode_request
from gravity_platform.services.notifications.schemas import RenderRequest, SendRequest

if TYPE_CHECKING:
    from gravity_platform.services.notifications.plugin import NotificationsService

BUS_SENDER = "service:bus"
"""The sender recorded for sends that arrive over the bus (idempotency keys are scoped by sender)."""


async def render(service: NotificationsService, payload: bytes) -> bytes:
    """{template, channel, data, locale} -> {subject, text, html}; 404 `template-not-found`."""
    request = decode_request(payload, RenderRequest)
    result = await service.templates.render(request.template, request.channel, request.data, request.locale)
    return msgspec.json.encode(result)


async def send(service: NotificationsService, payload: bytes) -> bytes:
    """The same body as `POST /api/v1/notifications`; answers the SendResult."""
    request = decode_request(payload, SendRequest)
    return msgspec.json.encode(await service.sender.send(request, sender=BUS_SENDER))
