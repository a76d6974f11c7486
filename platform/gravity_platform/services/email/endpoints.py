"""The email service's NATS endpoints: `email.send` and `email.status` (JSON, see the shared contract)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from gravity_platform.kernel.bus import decode_request
from gravity_platform.services.email.schemas import SendRequest, StatusRequest

if TYPE_CHECKING:
    from gravity_platform.kernel.plugins import BusHandler
    from gravity_platform.services.email.plugin import EmailService

BUS_ACTOR = "service"
"""Audit actor of mail queued over the bus (another service asked)."""


def bus_endpoints(service: EmailService) -> dict[str, BusHandler]:
    """`send` and `status`, served at `gravity.email.<name>`."""

    async def send(payload: bytes, _: dict[str, str]) -> bytes:
        request = decode_request(payload, SendRequest)
        return msgspec.json.encode(await service.logic.send(request, actor=BUS_ACTOR))

    async def status(payload: bytes, _: dict[str, str]) -> bytes:
        request = decode_request(payload, StatusRequest)
        found = await service.logic.status(request.id)
        return msgspec.json.encode({"id": found.id, "status": found.status, "attempts": found.attempts,
                                    "error": found.error})

    return {"send": send, "status": status}
