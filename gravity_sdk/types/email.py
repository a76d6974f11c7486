"""Email sent through the email service, and mail held by the dev mail catcher."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

EmailStatus = Literal["queued", "sent", "failed"]


class Email(msgspec.Struct, frozen=True, kw_only=True):
    """An email and its delivery state (`queued` -> `sent`, or `failed` with `error`)."""

    id: str
    status: EmailStatus
    attempts: int = 0
    error: str | None = None
    to: list[str]
    subject: str
    message_id: str
    idempotency_key: str | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    created_at: datetime
    sent_at: datetime | None = None


class CaughtEmail(msgspec.Struct, frozen=True, kw_only=True):
    """A message the dev mail catcher kept instead of delivering (local development only). `headers`, `text`
    and `html` are filled when one message is fetched."""

    id: str
    received_at: datetime
    sender: str = msgspec.field(name="from")
    to: list[str]
    subject: str
    size: int
    message_id: str | None = None
    envelope_from: str | None = None
    envelope_to: list[str] | None = None
    headers: list[list[str]] | None = None
    text: str | None = None
    html: str | None = None


class CaughtEmailPage(msgspec.Struct, frozen=True, kw_only=True):
    """The dev mail catcher's newest messages, newest first."""

    items: list[CaughtEmail]
