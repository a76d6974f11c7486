"""The sms service's NATS endpoints: `gravity.sms.send` and `gravity.sms.status`."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import msgspec

from gravity_platform.kernel.errors import ValidationFailedError
from gravity_platform.kernel.plugins import BusHandler
from gravity_platform.services.sms.schemas import BusSendSms, Queued, StatusReply, StatusRequest

if TYPE_CHECKING:
    from gravity_platform.services.sms.plugin import SmsService

S = TypeVar("S", bound=msgspec.Struct)


def _decode(payload: bytes, model: type[S]) -> S:
    try:
        return msgspec.json.decode(payload, type=model)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise ValidationFailedError(f"Invalid request: {error}") from None


def bus_endpoints(service: SmsService) -> dict[str, BusHandler]:
    """The handlers, bound to `service`."""

    async def send(payload: bytes, _: dict[str, str]) -> bytes:
        """{"to", "body", "idempotency_key"?, "metadata"?} -> {"id", "status"}; 422 for a bad number."""
        request = _decode(payload, BusSendSms)
        sms, _created = await service.logic.queue(request, actor="bus")
        return msgspec.json.encode(Queued(id=sms.id, status=sms.status))

    async def status(payload: bytes, _: dict[str, str]) -> bytes:
        """{"id"} -> {"id", "status", "attempts", "error"}; 404 when unknown."""
        sms = await service.logic.get(_decode(payload, StatusRequest).id)
        return msgspec.json.encode(StatusReply(id=sms.id, status=sms.status, attempts=sms.attempts, error=sms.error))

    return {"send": send, "status": status}
