"""SMS logic, free of HTTP: queueing (idempotent), reading, recording delivery outcomes and status callbacks."""

from __future__ import annotations

import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from piccolo.querystring import QueryString

from gravity_platform.kernel import audit
from gravity_platform.kernel.errors import ConflictError, NotFoundError, ServiceUnavailableError, UnprocessableError
from gravity_platform.kernel.outbox import add_event
from gravity_platform.services.sms.phone import normalize_phone
from gravity_platform.services.sms.provider import SmsStatusUpdate
from gravity_platform.services.sms.schemas import SendSms, Sms
from gravity_platform.services.sms.tables import DB, AuditLog, Outbox

if TYPE_CHECKING:
    from gravity_platform.services.sms.plugin import SmsService

log = logging.getLogger("gravity.sms")

_SELECT_BY_ID = (
    "SELECT id, recipient, body, status, attempts, error, provider, provider_message_id, idempotency_key, "
    "metadata::text AS metadata, created_at, updated_at, sent_at, delivered_at FROM message WHERE id = {}")
_SELECT_BY_KEY = (
    "SELECT id, recipient, body, status, attempts, error, provider, provider_message_id, idempotency_key, "
    "metadata::text AS metadata, created_at, updated_at, sent_at, delivered_at FROM message WHERE idempotency_key = {}")
_FAIL = ("UPDATE message SET status = 'failed', error = {}, updated_at = now() WHERE id = {} AND status = 'queued' "
         "AND attempts = {} RETURNING id, idempotency_key, metadata::text AS metadata")
_FAIL_REPORTED = ("UPDATE message SET status = 'failed', error = {}, updated_at = now() WHERE id = {} "
                  "AND status IN ('queued', 'sent') RETURNING id, idempotency_key, metadata::text AS metadata")


class IdempotencyKeyReusedError(ConflictError):
    """The idempotency key was used before for a different message."""

    code, title = "idempotency-key-reused", "Idempotency key reused"


def to_sms(row: dict[str, Any]) -> Sms:
    """The API shape of a message row."""
    metadata = row["metadata"]
    return Sms(id=str(row["id"]), to=row["recipient"], body=row["body"], status=row["status"],
               attempts=row["attempts"], error=row["error"], provider=row["provider"],
               provider_message_id=row["provider_message_id"], idempotency_key=row["idempotency_key"],
               metadata=json.loads(metadata) if isinstance(metadata, str) else dict(metadata),
               created_at=row["created_at"], updated_at=row["updated_at"], sent_at=row["sent_at"],
               delivered_at=row["delivered_at"])


def mask(number: str) -> str:
    """A phone number with its middle hidden, for audit records and logs."""
    return number[:4] + "*" * max(0, len(number) - 7) + number[-3:] if len(number) > 7 else "***"


def _event_payload(row: dict[str, Any], error: str | None) -> dict[str, Any]:
    metadata = row["metadata"]
    return {"id": str(row["id"]), "idempotency_key": row["idempotency_key"],
            "metadata": json.loads(metadata) if isinstance(metadata, str) else metadata, "error": error}


async def _one(sql: str, *args: Any) -> dict[str, Any] | None:
    rows: list[dict[str, Any]] = await DB.engine.run_querystring(QueryString(sql, *args))
    return rows[0] if rows else None


class SmsLogic:
    """Operations of the sms service."""

    def __init__(self, service: SmsService) -> None:
        self.service = service

    async def queue(self, request: SendSms, *, actor: str, address: str | None = None) -> tuple[Sms, bool]:
        """Store a message for delivery; returns it and whether it is new (False: an idempotent repeat)."""
        settings = self.service.settings
        provider = self.service.provider_name
        if provider is None:
            raise ServiceUnavailableError("No SMS provider is configured ([service.sms] provider)")
        to = normalize_phone(request.to, settings.default_region)
        if len(request.body) > settings.max_body_length:
            raise UnprocessableError(f"The body is longer than {settings.max_body_length} characters")
        message_id = str(uuid.uuid4())
        async with DB.engine.transaction():
            inserted = await _one(
                "INSERT INTO message (id, idempotency_key, recipient, body, metadata, provider, requested_by) "
                "VALUES ({}, {}, {}, {}, {}::jsonb, {}, {}) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                message_id, request.idempotency_key, to, request.body, json.dumps(request.metadata), provider, actor)
            if inserted is not None:
                await audit.record(AuditLog, "sms_queued", actor=actor, target=message_id, address=address,
                                   to=mask(to), provider=provider)
        if inserted is None:
            existing = await _one(_SELECT_BY_KEY, request.idempotency_key)
            if existing is None:  # deleted in between: cannot happen today (nothing deletes messages)
                raise ConflictError("The idempotency key is in use; try again")
            if existing["recipient"] != to or existing["body"] != request.body:
                raise IdempotencyKeyReusedError("This idempotency key was used for a different message")
            return to_sms(existing), False
        self.service.worker.poke()
        return await self.get(message_id), True

    async def get(self, message_id: str) -> Sms:
        """One message; 404 when unknown."""
        try:
            key = uuid.UUID(message_id)
        except ValueError:
            raise NotFoundError("No such message") from None
        row = await _one(_SELECT_BY_ID, key)
        if row is None:
            raise NotFoundError("No such message")
        return to_sms(row)

    async def record_sent(self, message_id: str, attempt: int, provider_message_id: str | None) -> None:
        """The provider accepted the message."""
        async with DB.engine.transaction():
            row = await _one(
                "UPDATE message SET status = 'sent', provider_message_id = {}, sent_at = now(), updated_at = now(), "
                "error = NULL WHERE id = {} AND status = 'queued' AND attempts = {} "
                "RETURNING id, idempotency_key, metadata::text AS metadata",
                provider_message_id, uuid.UUID(message_id), attempt)
            if row is not None:
                await add_event(Outbox, "sms", "sent", _event_payload(row, None))
        self.service.poke_outbox()

    async def record_retry(self, message_id: str, attempt: int, error: str, delay: float) -> None:
        """A transient failure: try again after `delay` seconds."""
        await DB.engine.run_querystring(QueryString(
            "UPDATE message SET error = {}, updated_at = now(), next_attempt_at = now() + make_interval(secs => {}) "
            "WHERE id = {} AND status = 'queued' AND attempts = {}", error, delay, uuid.UUID(message_id), attempt))

    async def record_failed(self, message_id: str, attempt: int | None, error: str) -> None:
        """A permanent failure (or the last attempt failed): the message will not be sent."""
        key = uuid.UUID(message_id)
        async with DB.engine.transaction():
            row = await (_one(_FAIL, error, key, attempt) if attempt is not None else _one(_FAIL_REPORTED, error, key))
            if row is not None:
                await add_event(Outbox, "sms", "failed", _event_payload(row, error))
        self.service.poke_outbox()

    async def apply_update(self, provider: str, update: SmsStatusUpdate) -> None:
        """A verified status callback: move the message to delivered or failed (once) and emit the event."""
        row = await _one("SELECT id FROM message WHERE provider = {} AND provider_message_id = {}",
                         provider, update.provider_message_id)
        if row is None:
            raise NotFoundError("No message has this provider message ID")
        message_id = str(row["id"])
        if update.status == "failed":
            await self.record_failed(message_id, None, update.error or "the provider reported a failure")
        elif update.status == "delivered":
            async with DB.engine.transaction():
                done = await _one(
                    "UPDATE message SET status = 'delivered', delivered_at = now(), updated_at = now(), error = NULL "
                    "WHERE id = {} AND status IN ('queued', 'sent') "
                    "RETURNING id, idempotency_key, metadata::text AS metadata", row["id"])
                if done is not None:
                    await add_event(Outbox, "sms", "delivered", _event_payload(done, None))
            self.service.poke_outbox()

    async def record_rejected_callback(self, provider: str, address: str, reason: str) -> None:
        """Audit a status callback that failed verification."""
        await audit.record(AuditLog, "sms_callback_rejected", actor=None, target=provider, outcome="denied",
                           address=address, reason=reason)
