"""Domain events the notifications service follows on GRAVITY_EVENTS: account emails (auth), erased users
(users), and the outcome of the mails and texts it handed to the email and SMS services."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from nats.aio.msg import Msg

from gravity_platform.services.notifications.jobs import job_payload
from gravity_platform.services.notifications.tables import Delivery

if TYPE_CHECKING:
    from gravity_platform.services.notifications.plugin import NotificationsService

log = logging.getLogger("gravity.notifications")

SUBJECTS = [
    "gravity.events.auth.user_registered",
    "gravity.events.users.deleted",
    "gravity.events.email.sent",
    "gravity.events.email.failed",
    "gravity.events.sms.sent",
    "gravity.events.sms.delivered",
    "gravity.events.sms.failed",
]
_RANK = {"queued": 1, "sent": 2, "delivered": 3, "failed": 3}
"""A status event never moves a delivery backwards (events of one message may arrive out of order)."""


class EventFollower:
    """Applies each followed event once it is committed on the stream; idempotent, so redelivery is harmless."""

    def __init__(self, service: NotificationsService) -> None:
        self.service = service

    async def handle(self, message: Msg) -> None:
        """Apply one event, then ack."""
        event = job_payload(message)
        data: dict[str, Any] = event.get("data") or {}
        kind = message.subject.removeprefix("gravity.events.")
        if kind == "auth.user_registered" and data.get("user_id") and data.get("email"):
            await self.service.contacts.learn_email(str(data["user_id"]), str(data["email"]))
        elif kind == "users.deleted" and data.get("user_id"):
            await self.service.contacts.erase_user(str(data["user_id"]))
        elif kind.startswith(("email.", "sms.")):
            await self._delivery_status(kind.split(".", 1), data)
        await message.ack()

    async def _delivery_status(self, kind: list[str], data: dict[str, Any]) -> None:
        channel, status = kind
        metadata = data.get("metadata") or {}
        delivery_id = metadata.get("delivery_id")
        if not delivery_id:
            key = str(data.get("idempotency_key") or "")
            delivery_id = key.removeprefix("notifications:") if key.startswith("notifications:") else None
        if not delivery_id:
            return
        row = await Delivery.select(Delivery.status, Delivery.channel).where(Delivery.id == delivery_id).first()
        if row is None or row["channel"] != channel:
            return
        if _RANK.get(row["status"], 0) >= _RANK.get(status, 0):
            return
        values: dict[Any, Any] = {Delivery.status: status}
        if status == "failed":
            values[Delivery.last_error] = str(data.get("error") or "failed")[:1000]
        await Delivery.update(values).where(Delivery.id == delivery_id)
