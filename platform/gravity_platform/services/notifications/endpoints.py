"""NATS endpoints of the notifications service: `notifications.render` and `notifications.send`."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import msgspec

from gravity_platform.kernel.errors import UnprocessableError
from gravity_platform.services.notifications.schemas import RenderRequest, SendRequest

if TYPE_CHECKING:
    from gravity_platform.services.notifications.plugin import NotificationsService

T = TypeVar("T")
BUS_SENDER = "service:bus"
"""The sender recorded for sends that arrive over the bus (idempotency keys are scoped by sender)."""


def _decode(payload: bytes, kind: type[T]) -> T:
    try:
        return msgspec.json.decode(payload, type=kind)
    except msgspec.ValidationError as error:
        raise UnprocessableError(str(error)) from None
    except msgspec.DecodeError:
        raise UnprocessableError("The payload is not JSON") from None


async def render(service: NotificationsService, payload: bytes) -> bytes:
    """{template, channel, data, locale} -> {subject, text, html}; 404 `template-not-found`."""
    request = _decode(payload, RenderRequest)
    result = await service.templates.render(request.template, request.channel, request.data, request.locale)
    return msgspec.json.encode(result)


async def send(service: NotificationsService, payload: bytes) -> bytes:
    """The same body as `POST /api/v1/notifications`; answers the SendResult."""
    request = _decode(payload, SendRequest)
    return msgspec.json.encode(await service.sender.send(request, sender=BUS_SENDER))
