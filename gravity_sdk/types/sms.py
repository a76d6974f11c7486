"""Text messages sent through the sms service."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

SmsStatus = Literal["queued", "sent", "delivered", "failed"]


class SmsMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A text message and its delivery state (`queued` -> `sent` -> `delivered`, or `failed` with `error`)."""

    id: str
    to: str
    body: str
    status: SmsStatus
    attempts: int = 0
    error: str | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    idempotency_key: str | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None = None


class SmsOutboxEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A message the dev outbox provider kept instead of sending (local development only)."""

    id: str
    message_id: str | None = None
    to: str
    sender: str | None = None
    body: str
    status_callback: str | None = None
    created_at: datetime


class SmsOutboxPage(msgspec.Struct, frozen=True, kw_only=True):
    """The newest dev outbox entries."""

    items: list[SmsOutboxEntry]
