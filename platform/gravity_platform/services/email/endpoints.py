"""The email service's NATS endpoints: `email.send` and `email.status` (JSON, see the shared contract)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import msgspec

from gravity_platform.kernel.errors import ValidationFailedError
from gravity_platform.services.email.schemas import SendRequest, StatusRequest

if TYPE_CHECKING:
    from gravity_platform.kernel.plugins import BusHandler
    from gravity_platform.services.email.plugin import EmailService

T = TypeVar("T")
BUS_ACTOR = "service"
"""Audit actor of mail queued over the bus (another service asked)."""


def decode(payload: bytes, kind: type[T]) -> T:
    """A request body of shape `kind`; 400 when it is not one."""
    try:
        return msgspec.json.decode(payload, type=kind)
    except msgspec.DecodeError as error:
        raise ValidationFailedError(str(error)) from None


def bus_endpoints(service: EmailService) -> dict[str, BusHandler]:
    """`send` and `status`, served at `gravity.email.<name>`."""

    async def send(payload: bytes, _: dict[str, str]) -> bytes:
        request = decode(payload, SendRequest)
        return msgspec.json.encode(await service.logic.send(request, actor=BUS_ACTOR))

    async def status(payload: bytes, _: dict[str, str]) -> bytes:
        request = decode(payload, StatusRequest)
        found = await service.logic.status(request.id)
        return msgspec.json.encode({"id": found.id, "status": found.status, "attempts": found.attempts,
                                    "error": found.error})

    return {"send": send, "status": status}
