"""The in-app inbox: items, read state, and live delivery to the user's open WebSockets (through NATS)."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from gravity_platform.kernel.errors import NotFoundError, UnprocessableError
from gravity_platform.services.notifications.schemas import InboxItem, InboxPage
from gravity_platform.services.notifications.tables import InboxItem as ItemRow

if TYPE_CHECKING:
    from gravity_platform.services.notifications.plugin import NotificationsService

log = logging.getLogger("gravity.notifications")

INBOX_TOPIC = "notifications.inbox"
"""The `topic` of inbox items relayed to the user's WebSockets."""


def user_topic(user_id: str) -> str:
    """The broadcast topic (`gravity.rt.<topic>`) the gateway's realtime endpoint relays to one user."""
    return f"user.{user_id}"


def _jsonb(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def to_item(row: dict[str, Any]) -> InboxItem:
    """The API shape of an inbox row."""
    return InboxItem(id=str(row["id"]), notification_id=str(row["notification_id"]), title=row["title"],
                     body=row["body"], category=row["category"], data=_jsonb(row["data"]),
                     created_at=row["created_at"], read_at=row["read_at"])


def encode_cursor(row: dict[str, Any]) -> str:
    """An opaque cursor after `row` (newest first)."""
    raw = json.dumps([row["created_at"].isoformat(), str(row["id"])]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor stands for; 422 when it is not one of ours."""
    try:
        created, item_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(created), str(uuid.UUID(str(item_id)))
    except (ValueError, TypeError):
        raise UnprocessableError("The cursor is not valid") from None


class Inbox:
    """Operations on users' inboxes."""

    def __init__(self, service: NotificationsService) -> None:
        self.service = service

    async def add(self, item_id: str, notification: dict[str, Any], content: dict[str, Any]) -> None:
        """Put an item in the inbox once (its ID is the delivery's) and push it to the user's live sockets."""
        rows = await ItemRow.raw(
            "INSERT INTO inbox_item (id, user_id, notification_id, title, body, category, data) "
            "VALUES ({}, {}, {}, {}, {}, {}, {}) ON CONFLICT (id) DO NOTHING RETURNING *",
            item_id, notification["user_id"], notification["id"], (content.get("title") or "")[:500],
            (content.get("body") or "")[:5000], notification["category"],
            json.dumps({"template": notification["template"]}))
        if rows:
            await self.publish_live(str(notification["user_id"]), to_item(rows[0]))

    async def publish_live(self, user_id: str, item: InboxItem) -> None:
        """Relay an item to the user's open WebSockets on any node (lost if none is open: the inbox keeps it)."""
        message = {"topic": INBOX_TOPIC, "data": msgspec.to_builtins(item)}
        try:
            await self.service.node.bus.broadcast(user_topic(user_id), json.dumps(message).encode())
        except Exception as error:
            log.warning("could not relay an inbox item live", extra={"error": repr(error)})

    async def page(self, user_id: str, *, cursor: str | None, limit: int, unread: bool) -> InboxPage:
        """Items, newest first; `unread=True` for unread ones only."""
        query = ItemRow.select().where(ItemRow.user_id == user_id)
        if unread:
            query = query.where(ItemRow.is_read == False)  # noqa: E712
        if cursor:
            created, after = decode_cursor(cursor)
            query = query.where((ItemRow.created_at < created) | (
                (ItemRow.created_at == created) & (ItemRow.id < after)))
        rows = await query.order_by(ItemRow.created_at, ItemRow.id, ascending=False).limit(limit + 1)
        next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        return InboxPage(items=[to_item(r) for r in rows[:limit]], next_cursor=next_cursor)

    async def unread_count(self, user_id: str) -> int:
        """How many of the user's items are unread."""
        return int(await ItemRow.count().where((ItemRow.user_id == user_id) & (ItemRow.is_read == False)))  # noqa: E712

    async def mark_read(self, user_id: str, item_id: str) -> InboxItem:
        """Mark one of the user's items read (again is harmless); 404 when it is not theirs."""
        rows = await ItemRow.raw(
            "UPDATE inbox_item SET is_read = true, read_at = coalesce(read_at, now()) "
            "WHERE id = {} AND user_id = {} RETURNING *", item_id, user_id)
        if not rows:
            raise NotFoundError("No such inbox item")
        return to_item(rows[0])

    async def mark_all_read(self, user_id: str) -> int:
        """Mark every unread item of the user read; returns how many changed."""
        rows = await ItemRow.raw(
            "UPDATE inbox_item SET is_read = true, read_at = now() WHERE user_id = {} AND NOT is_read RETURNING id",
            user_id)
        return len(rows)
