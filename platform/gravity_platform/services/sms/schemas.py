"""Wire models of the sms service (HTTP and NATS)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Status = Literal["queued", "sent", "delivered", "failed"]
IdempotencyKey = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Metadata = Annotated[dict[Annotated[str, msgspec.Meta(max_length=64)], Annotated[str, msgspec.Meta(max_length=500)]],
                     msgspec.Meta(max_length=20)]


class SendSms(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A message to send: `to` in international format (normalised to E.164), the text, and optionally an
    idempotency key (the same key always means the same single message) and metadata echoed in events."""

    to: Annotated[str, msgspec.Meta(max_length=64)]
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]
    idempotency_key: IdempotencyKey | None = None
    metadata: Metadata = msgspec.field(default_factory=dict)


class BusSendSms(SendSms, forbid_unknown_fields=False):
    """`sms.send` on the bus: the same fields, and fields it does not know are ignored (callers may send more)."""


class Sms(msgspec.Struct, kw_only=True):
    """A message and its delivery state."""

    id: str
    to: str
    body: str
    status: Status
    attempts: int
    error: str | None
    provider: str | None
    provider_message_id: str | None
    idempotency_key: str | None
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None = None


class Queued(msgspec.Struct, kw_only=True):
    """The answer of `sms.send` on the bus."""

    id: str
    status: Status


class StatusRequest(msgspec.Struct, kw_only=True):
    """The request of `sms.status` on the bus."""

    id: str


class StatusReply(msgspec.Struct, kw_only=True):
    """The answer of `sms.status` on the bus."""

    id: str
    status: Status
    attempts: int
    error: str | None


class OutboxEntry(msgspec.Struct, kw_only=True):
    """A message the dev outbox provider "sent"."""

    id: str
    message_id: str | None
    to: str
    sender: str | None
    body: str
    status_callback: str | None
    created_at: datetime


class OutboxPage(msgspec.Struct, kw_only=True):
    """The newest messages in the dev outbox, newest first."""

    items: list[OutboxEntry]
