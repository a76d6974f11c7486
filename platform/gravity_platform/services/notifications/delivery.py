"""Delivering one job: email and SMS through their services on the bus, push through the push provider,
in-app into the inbox (and live to the user's open WebSockets)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nats.aio.msg import Msg

from gravity_platform.kernel.errors import GravityError, RemoteError
from gravity_platform.services.notifications.jobs import backoff, dead_letter, job_payload
from gravity_platform.services.notifications.push import PushDeliveryError, PushMessage
from gravity_platform.services.notifications.tables import Delivery, Notification

if TYPE_CHECKING:
    from gravity_platform.services.notifications.plugin import NotificationsService

log = logging.getLogger("gravity.notifications")

FINAL = frozenset({"queued", "sent", "delivered", "failed", "dead", "skipped"})
"""Statuses after which a job has nothing left to do (`queued`: handed to the email or SMS service)."""

class PermanentError(Exception):
    """Retrying cannot help (bad address, no subscription left ...)."""


class Deliverer:
    """Handles the jobs of every channel."""

    def __init__(self, service: NotificationsService) -> None:
        self.service = service

    async def handle(self, message: Msg) -> None:
        """Deliver one job, then ack; NAK with backoff on a transient failure; dead-letter after the last."""
        delivery_id = job_payload(message).get("delivery_id")
        row = await Delivery.select().where(Delivery.id == delivery_id).first() if delivery_id else None
        if row is None or row["status"] in FINAL:
            await message.ack()
            return
        attempt = message.metadata.num_delivered
        settings = self.service.settings
        await self._mark(row["id"], "sending", attempts=attempt)
        heartbeat = asyncio.create_task(_keep_alive(message, settings.ack_wait / 2))
        try:
            status, external_id = await self._deliver(row)
        except PermanentError as error:
            await self._mark(row["id"], "failed", error=str(error))
            await message.ack()
        except Exception as error:
            reason = _describe(error)
            if attempt >= settings.max_attempts:
                await dead_letter(self.service.node.bus, row["channel"], message, reason)
                await self._mark(row["id"], "dead", error=reason)
                await message.term()
                log.warning("notification dead-lettered", extra={"delivery": str(row["id"]), "error": reason})
            else:
                await self._mark(row["id"], "retrying", error=reason)
                await message.nak(delay=backoff(attempt, settings.backoff_base, settings.backoff_max))
        else:
            await self._mark(row["id"], status, external_id=external_id, only_if="sending")
            await message.ack()
        finally:
            heartbeat.cancel()

    @staticmethod
    async def _mark(delivery_id: Any, status: str, *, attempts: int | None = None, error: str | None = None,
                    external_id: str | None = None, only_if: str | None = None) -> None:
        """Record a status; with `only_if`, only over that status (a `sent` event may have come first)."""
        values: dict[Any, Any] = {Delivery.status: status, Delivery.updated_at: datetime.now(UTC)}
        if attempts is not None:
            values[Delivery.attempts] = attempts
        if error is not None:
            values[Delivery.last_error] = error[:1000]
        if external_id is not None:
            values[Delivery.external_id] = external_id
        condition = Delivery.id == delivery_id
        if only_if is not None:
            condition &= Delivery.status == only_if
        await Delivery.update(values).where(condition)

    async def _deliver(self, row: dict[str, Any]) -> tuple[str, str | None]:
        content = _jsonb(row["content"])
        notification = await Notification.select().where(Notification.id == row["notification_id"]).first()
        if notification is None:
            raise PermanentError("the notification was deleted")
        channel = row["channel"]
        if channel == "email":
            return await self._via_service("email", {
                "to": [content["to"]], "subject": content["subject"], "text": content["text"],
                "html": content.get("html")}, row)
        if channel == "sms":
            return await self._via_service("sms", {"to": content["to"], "body": content["text"]}, row)
        if channel == "push":
            return await self._push(row, notification, content)
        if channel == "inapp":
            await self.service.inbox.add(str(row["id"]), notification, content)
            return "delivered", None
        raise PermanentError(f"unknown channel {channel!r}")

    async def _via_service(self, service: str, payload: dict[str, Any], row: dict[str, Any]) -> tuple[str, str]:
        delivery_id = str(row["id"])
        payload |= {"idempotency_key": f"notifications:{delivery_id}",
                    "metadata": {"notification_id": str(row["notification_id"]), "delivery_id": delivery_id}}
        try:
            reply = json.loads(await self.service.node.bus.request(service, "send", json.dumps(payload).encode()))
        except RemoteError as error:
            if 400 <= error.remote_status < 500 and error.remote_status not in (408, 429):
                raise PermanentError(f"{service}: {error.detail}") from None
            raise
        except GravityError as error:
            if 400 <= error.status < 500 and error.status not in (408, 429):
                raise PermanentError(f"{service}: {error.detail}") from None
            raise
        return "queued", str(reply.get("id") or "")

    async def _push(self, row: dict[str, Any], notification: dict[str, Any],
                    content: dict[str, Any]) -> tuple[str, None]:
        """Send to every subscription not already handled; `done_targets` holds their IDs (`!ID` when given up)."""
        provider = self.service.push_provider
        if provider is None:
            raise PermanentError("push is not configured on this node")
        done: list[str] = list(_jsonb(row["done_targets"]))
        handled = {d.lstrip("!") for d in done}
        targets = await self.service.contacts.subscription_targets(str(notification["user_id"]))
        if not targets and not done:
            raise PermanentError("the user has no push subscriptions")
        transient: list[str] = []
        refused: list[str] = []
        for target in (t for t in targets if t["id"] not in handled):
            message = PushMessage(subscription={"endpoint": target["endpoint"], "keys": target["keys"]},
                                  title=content.get("title") or "", body=content.get("body") or "",
                                  data={"notification_id": str(notification["id"])})
            try:
                await provider.send(message)
                done.append(target["id"])
            except PushDeliveryError as error:
                if not error.permanent:
                    transient.append(str(error))
                    continue
                if error.gone:
                    await self.service.contacts.forget_subscription(target["id"])
                refused.append(str(error))
                done.append("!" + target["id"])
            await Delivery.update({Delivery.done_targets: json.dumps(done)}).where(Delivery.id == row["id"])
        if transient:
            raise RuntimeError("; ".join(transient))
        if not any(not d.startswith("!") for d in done):
            raise PermanentError("; ".join(refused) or "no push subscription accepted the message")
        return "sent", None


async def _keep_alive(message: Msg, interval: float) -> None:
    """Tell JetStream the job is still being worked on, so a slow delivery is not handed to another worker."""
    while True:
        await asyncio.sleep(interval)
        with contextlib.suppress(Exception):
            await message.in_progress()


def _jsonb(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _describe(error: Exception) -> str:
    return str(error) or type(error).__name__
