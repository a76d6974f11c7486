"""Email logic, free of HTTP: validating, rendering and queueing mail, and reading its status."""

from __future__ import annotations

import json
import re
import uuid
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

import asyncpg

from gravity_platform.kernel import audit
from gravity_platform.kernel.errors import NotFoundError, ServiceUnavailableError, UnprocessableError
from gravity_platform.services.email.schemas import EmailStatus, SendAccepted, SendRequest
from gravity_platform.services.email.tables import DB, AuditLog, Message

if TYPE_CHECKING:
    from gravity_platform.services.email.plugin import EmailService

_LABEL = r"[^\s@<>()\[\],;:\"\\.]+"
_ADDRESS = re.compile(rf"^[^\s@<>()\[\],;:\"\\]+@{_LABEL}(?:\.{_LABEL})+$(?!\n)")


class InvalidAddressError(UnprocessableError):
    code, title = "invalid-email-address", "Invalid email address"


class EmailNotConfiguredError(ServiceUnavailableError):
    code, title = "email-not-configured", "Email is not configured"


def check_address(address: str) -> str:
    """`address` if it is a plain, deliverable-looking email address; 422 otherwise."""
    if len(address) > 320 or not _ADDRESS.match(address) or ".." in address:
        raise InvalidAddressError(f"{address!r} is not a valid email address")
    return address


def one_line(text: str, field: str) -> str:
    """Header text without line breaks (no header injection); 422 otherwise."""
    if "\r" in text or "\n" in text:
        raise UnprocessableError(f"{field} must be a single line")
    return text


def domain_of(sender: str | None) -> str:
    """The domain part of a From address, for Message-IDs."""
    address = parseaddr(sender or "")[1]
    return address.rpartition("@")[2] or "gravity.local"


def status_of(row: dict[str, Any]) -> EmailStatus:
    """The API shape of a message row."""
    metadata = row["metadata"]
    return EmailStatus(
        id=str(row["id"]), status=row["status"], attempts=row["attempts"], error=row["error"],
        to=list(row["recipients"]), subject=row["subject"], message_id=row["message_id"],
        idempotency_key=row["idempotency_key"],
        metadata=json.loads(metadata) if isinstance(metadata, str) else metadata,
        created_at=row["created_at"], sent_at=row["sent_at"])


class Emails:
    """Operations of the email service."""

    def __init__(self, service: EmailService) -> None:
        self.service = service

    async def send(self, request: SendRequest, *, actor: str) -> SendAccepted:
        """Validate and queue an email; returns at once. A repeated idempotency key returns the first email."""
        if request.idempotency_key is not None:
            existing = await self._by_key(request.idempotency_key)
            if existing is not None:
                return existing
        recipients = [check_address(address.strip()) for address in request.to]
        if request.reply_to is not None:
            check_address(request.reply_to)
        if self.service.transport is None:
            raise EmailNotConfiguredError("No email transport is configured on this node")
        subject, text, html = await self._content(request)
        email_id = str(uuid.uuid4())
        row = Message(
            id=email_id, idempotency_key=request.idempotency_key, recipients=recipients,
            sender=self.service.settings.sender, reply_to=request.reply_to, subject=one_line(subject, "subject"),
            text=text, html=html, template=request.template, metadata=json.dumps(request.metadata),
            message_id=f"<{email_id}@{domain_of(self.service.default_sender())}>",
        )
        try:
            async with DB.engine.transaction():
                await Message.insert(row)
                await audit.record(AuditLog, "email_queued", actor=actor, target=email_id,
                                   recipients=len(recipients), template=request.template)
        except asyncpg.UniqueViolationError:
            existing = await self._by_key(request.idempotency_key or "")
            if existing is None:
                raise
            return existing
        self.service.worker.poke()
        return SendAccepted(id=email_id, status="queued")

    async def _by_key(self, key: str) -> SendAccepted | None:
        row = await Message.select(Message.id, Message.status).where(Message.idempotency_key == key).first()
        return SendAccepted(id=str(row["id"]), status=row["status"]) if row else None

    async def _content(self, request: SendRequest) -> tuple[str, str, str | None]:
        """Subject, text and HTML: as given, or rendered from the template by the notifications service."""
        if request.template is None:
            if request.subject is None or request.text is None:
                raise UnprocessableError("Give either subject and text, or a template")
            return request.subject, request.text, request.html
        rendered = await self.service.render(request.template, request.data or {}, request.locale)
        subject = rendered.get("subject") or request.subject
        text = rendered.get("text")
        if not subject or not isinstance(text, str):
            raise UnprocessableError(f"The template {request.template!r} gives no email subject or text")
        html = rendered.get("html")
        return str(subject), text, html if isinstance(html, str) else None

    async def status(self, email_id: str) -> EmailStatus:
        """Where one email stands; 404 when unknown."""
        try:
            key = uuid.UUID(email_id)
        except ValueError:
            raise NotFoundError("No such email") from None
        row = await Message.select().where(Message.id == key).first()
        if row is None:
            raise NotFoundError("No such email")
        return status_of(row)
