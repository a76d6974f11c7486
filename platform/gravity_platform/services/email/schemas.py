"""Wire models of the email service (HTTP and NATS share them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

Text = Annotated[str, msgspec.Meta(max_length=1024 * 1024)]
Key = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class SendRequest(msgspec.Struct, kw_only=True):
    """An email to queue: either `subject` + `text` (+ `html`), or `template` (+ `data`, `locale`) rendered by
    the notifications service. The same `idempotency_key` always means the same single email."""

    to: Annotated[list[Annotated[str, msgspec.Meta(max_length=320)]], msgspec.Meta(min_length=1, max_length=50)]
    subject: Annotated[str, msgspec.Meta(max_length=998)] | None = None
    text: Text | None = None
    html: Text | None = None
    template: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    data: dict[str, Any] | None = None
    locale: Annotated[str, msgspec.Meta(max_length=35)] | None = None
    idempotency_key: Key | None = None
    metadata: Annotated[dict[str, str], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=dict)
    reply_to: Annotated[str, msgspec.Meta(max_length=320)] | None = None


class SendAccepted(msgspec.Struct):
    """The email is queued (or was already, for a repeated idempotency key)."""

    id: str
    status: Literal["queued", "sent", "failed"] = "queued"


class EmailStatus(msgspec.Struct, kw_only=True):
    """Where an email stands. `attempts` counts delivery attempts; `error` is the last failure."""

    id: str
    status: Literal["queued", "sent", "failed"]
    attempts: int
    error: str | None
    to: list[str]
    subject: str
    message_id: str
    idempotency_key: str | None
    metadata: dict[str, str]
    created_at: datetime
    sent_at: datetime | None


class StatusRequest(msgspec.Struct):
    """`email.status` over the bus."""

    id: str


class CaughtMessage(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A message held by the dev mail catcher (headers, text and html only when asked for one message)."""

    id: str
    received_at: str
    sender: str = msgspec.field(name="from")
    to: list[str]
    subject: str
    size: int
    message_id: str | None
    envelope_from: str | None = None
    envelope_to: list[str] | None = None
    headers: list[list[str]] | None = None
    text: str | None = None
    html: str | None = None


class CaughtPage(msgspec.Struct):
    """The dev mail catcher's newest messages, newest first."""

    items: list[CaughtMessage]
