"""The sms service's NATS endpoints: `gravity.sms.send` and `gravity.sms.status`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from gravity_platform.kernel.bus import decode_request
from gravity_platform.kernel.plugins import BusHandler
from gravity_platform.services.sms.schemas import BusSendSms, Queued, StatusReply, StatusRequest

if TYPE_CHECKING:
    from gravity_platform.services.sms.plugin import SmsService



def bus_endpoints(service: SmsService) -> dict[str, BusHandler]:
    """The handlers, bound to `service`."""

    async def send(payload: bytes, _: dict[str, str]) -> bytes:
        """{"to", "body", "idempotency_key"?, "metadata"?} -> {"id", "status"}; 422 for a bad number."""
        request = decode_request(payload, BusSendSms)
        sms, _created = await service.logic.queue(request, actor="bus")
        return msgspec.json.encode(Queued(id=sms.id, status=sms.status))

    async def status(payload: bytes, _: dict[str, str]) -> bytes:
        """{"id"} -> {"id", "status", "attempts", "error"}; 404 when unknown."""
        sms = await service.logic.get(decode_request(payload, StatusRequest).id)
        return msgspec.json.encode(StatusReply(id=sms.id, status=sms.status, attempts=sms.attempts, error=sms.error))

    return {"send": send, "status": status}
