"""Sending: resolve the template, honour preferences, and queue one job per (notification, channel).

The notification, its deliveries and their jobs are written in one transaction (the jobs through the
transactional outbox, relayed to the GRAVITY_NOTIFY work queue), so a send is either wholly queued or not at all."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from gravity_platform.kernel import audit
from gravity_platform.kernel.errors import ForbiddenError, NotFoundError, UnprocessableError
from gravity_platform.kernel.observability import current_correlation_id
from gravity_platform.services.notifications.preferences import allows
from gravity_platform.services.notifications.rendering import render_channel
from gravity_platform.services.notifications.schemas import (
    CHANNELS,
    Delivery,
    Notification,
    Preferences,
    SendRequest,
    SendResult,
)
from gravity_platform.services.notifications.tables import DB, AuditLog, Outbox
from gravity_platform.services.notifications.tables import Delivery as DeliveryRow
from gravity_platform.services.notifications.tables import Notification as NotificationRow

if TYPE_CHECKING:
    from gravity_platform.services.notifications.plugin import NotificationsService

JOB_SUBJECT = "gravity.notify.job"
"""Jobs are published on `gravity.notify.job.<channel>`."""


def _jsonb(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _recipients(request: SendRequest) -> list[str]:
    ids = ([request.user_id] if request.user_id else []) + list(request.user_ids or [])
    try:
        unique = list(dict.fromkeys(str(uuid.UUID(i)) for i in ids))
    except ValueError:
        raise UnprocessableError("user IDs must be UUIDs") from None
    if not unique:
        raise UnprocessableError("Name the recipient in `user_id` or `user_ids`")
    return unique


class Sender:
    """Creates notifications and reports on them."""

    def __init__(self, service: NotificationsService) -> None:
        self.service = service

    async def send(self, request: SendRequest, *, sender: str) -> SendResult:
        """Notify each recipient once per (sender, idempotency key); 404 for an unknown template."""
        created: list[str] = []
        for user_id in _recipients(request):
            existing = await NotificationRow.select(NotificationRow.id).where(
                (NotificationRow.sender == sender) & (NotificationRow.idempotency_key == request.idempotency_key)
                & (NotificationRow.user_id == user_id)).first()
            if existing is not None:
                created.append(str(existing["id"]))
                continue
            created.append(await self._create(request, user_id, sender))
        self.service.poke_outbox()
        return SendResult(notifications=[await self.get(n) for n in created])

    async def _create(self, request: SendRequest, user_id: str, sender: str) -> str:
        principal = json.loads(await self.service.node.bus.request("users", "principal",
                                                                   json.dumps({"id": user_id}).encode()))
        if not principal.get("is_active"):
            raise UnprocessableError(f"User {user_id} does not exist or is deactivated")
        preferences = await self.service.contacts.get(user_id)
        template = await self.service.templates.resolve(request.template, request.locale or preferences.locale)
        channels = _jsonb(template["channels"])
        plan = self._plan(request, channels, preferences, template["category"], request.data)
        notification_id = str(uuid.uuid4())
        async with DB.engine.transaction():
            inserted = await NotificationRow.raw(
                "INSERT INTO notification (id, user_id, sender, idempotency_key, template, template_version, locale,"
                " category, data) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}) ON CONFLICT DO NOTHING RETURNING id",
                notification_id, user_id, sender, request.idempotency_key, template["name"], template["version"],
                template["locale"], template["category"], json.dumps(request.data, default=str))
            if not inserted:  # a concurrent send with the same key won
                row = await NotificationRow.select(NotificationRow.id).where(
                    (NotificationRow.sender == sender) & (NotificationRow.user_id == user_id)
                    & (NotificationRow.idempotency_key == request.idempotency_key)).first()
                return str(row["id"]) if row else notification_id
            for channel, (status, content, reason) in plan.items():
                await self._add_delivery(notification_id, channel, status, content, reason)
            await audit.record(AuditLog, "notification_sent", actor=sender, target=user_id,
                               notification=notification_id, template=template["name"],
                               version=template["version"])
        return notification_id

    def _plan(self, request: SendRequest, channels: dict[str, Any], preferences: Preferences, category: str,
              data: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any], str | None]]:
        """For each channel: its first status, its rendered content, and why it is skipped (if it is)."""
        wanted = request.channels or [c for c in CHANNELS if channels.get(c)]
        plan: dict[str, tuple[str, dict[str, Any], str | None]] = {}
        for channel in dict.fromkeys(wanted):
            fields = channels.get(channel)
            if not fields:
                plan[channel] = ("skipped", {}, f"the template has no {channel} content")
                continue
            content: dict[str, Any] = dict(render_channel(fields, data))
            reason = self._skip_reason(channel, preferences, category)
            if channel == "email":
                content["to"] = preferences.email
            elif channel == "sms":
                content["to"] = preferences.phone
            plan[channel] = ("skipped" if reason else "pending", content, reason)
        return plan

    @staticmethod
    def _skip_reason(channel: str, preferences: Preferences, category: str) -> str | None:
        if not allows(preferences, channel, category):
            return "turned off by the user"
        if channel == "email" and not preferences.email:
            return "no email address is known for the user"
        if channel == "sms" and not preferences.phone:
            return "the user has no phone number"
        return None

    @staticmethod
    async def _add_delivery(notification_id: str, channel: str, status: str, content: dict[str, Any],
                            reason: str | None) -> None:
        delivery_id = str(uuid.uuid4())
        await DeliveryRow.insert(DeliveryRow(id=delivery_id, notification_id=notification_id, channel=channel,
                                             status=status, last_error=reason, content=json.dumps(content)))
        if status == "pending":
            await Outbox.insert(Outbox(
                id=str(uuid.uuid4()), subject=f"{JOB_SUBJECT}.{channel}",
                payload=json.dumps({"delivery_id": delivery_id, "channel": channel}),
                correlation_id=current_correlation_id()))

    async def get(self, notification_id: str, *, sender: str | None = None) -> Notification:
        """A notification with each channel's status; 404 if unknown or (with `sender`) not sent by them."""
        try:
            key = uuid.UUID(notification_id)
        except ValueError:
            raise NotFoundError("No such notification") from None
        row = await NotificationRow.select().where(NotificationRow.id == key).first()
        if row is None:
            raise NotFoundError("No such notification")
        if sender is not None and row["sender"] != sender:
            raise ForbiddenError("Only the sender of a notification may read its status")
        deliveries = await DeliveryRow.select().where(DeliveryRow.notification_id == key).order_by(DeliveryRow.channel)
        return Notification(
            id=str(row["id"]), user_id=str(row["user_id"]), template=row["template"],
            template_version=row["template_version"], locale=row["locale"], category=row["category"],
            created_at=row["created_at"],
            deliveries=[Delivery(channel=d["channel"], status=d["status"], attempts=d["attempts"],
                                 last_error=d["last_error"], updated_at=d["updated_at"]) for d in deliveries])
