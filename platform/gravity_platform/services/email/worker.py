"""The delivery worker: claims due messages from the `message` table, hands them to the transport, records the
outcome. Any number of nodes may run one (claims use SKIP LOCKED).

A claim pushes the message's `next_attempt_at` past the longest an attempt may take (a lease), so a node that
dies mid-delivery leaves it to be retried later, by any node, with the same Message-ID. Success is recorded
before anything else happens; recording is retried for as long as the lease lasts, so a delivered message is
not sent again because the database blinked."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from typing import TYPE_CHECKING, Any

from piccolo.querystring import QueryString

from gravity_platform.kernel.db import CONNECTION_ERRORS
from gravity_platform.kernel.outbox import add_event
from gravity_platform.services.email.tables import DB, Outbox
from gravity_platform.services.email.transport import DeliveryError, EmailMessage

if TYPE_CHECKING:
    from gravity_platform.services.email.plugin import EmailService

log = logging.getLogger("gravity.email")

LEASE_MARGIN = 30.0
_CLAIM = (
    "UPDATE message SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => {}), "
    "updated_at = now() WHERE id IN (SELECT id FROM message WHERE status = 'queued' AND next_attempt_at <= now() "
    "ORDER BY next_attempt_at LIMIT {} FOR UPDATE SKIP LOCKED) RETURNING id, recipients, sender, reply_to, subject, "
    "text, html, headers::text AS headers, message_id, attempts, idempotency_key, metadata::text AS metadata")
_SENT = ("UPDATE message SET status = 'sent', sent_at = now(), updated_at = now(), provider_id = {}, error = {} "
         "WHERE id = {} AND status = 'queued' RETURNING id")
_FAILED = ("UPDATE message SET status = 'failed', updated_at = now(), error = {} "
           "WHERE id = {} AND status = 'queued' RETURNING id")
_RETRY = ("UPDATE message SET next_attempt_at = now() + make_interval(secs => {}), updated_at = now(), error = {} "
          "WHERE id = {} AND status = 'queued'")


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds before retry number `attempt` (1 = the first retry): exponential, capped, with jitter."""
    delay: float = min(cap, base * 2 ** (attempt - 1))
    return delay * random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not cryptography)


class DeliveryWorker:
    """Delivers queued mail in the background of a node hosting the email service."""

    def __init__(self, service: EmailService) -> None:
        self.service = service
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Run until `stop`."""
        self._task = asyncio.create_task(self._run(), name="email-worker")

    def poke(self) -> None:
        """Look for due mail now (after queueing some)."""
        self._wake.set()

    async def stop(self, grace: float = 4.0) -> None:
        """Stop claiming; give deliveries in flight `grace` seconds, then cancel them (they are retried later)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._inflight:
            _, pending = await asyncio.wait(self._inflight, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _run(self) -> None:
        settings = self.service.settings
        while True:
            claimed = 0
            free = settings.concurrency - len(self._inflight)
            if free > 0 and self.service.transport is not None:
                try:
                    rows = await self.claim(free)
                except CONNECTION_ERRORS as error:
                    log.warning("email worker waiting for the database", extra={"error": str(error)})
                    rows = []
                except Exception:
                    log.exception("email worker could not claim mail")
                    rows = []
                claimed = len(rows)
                for row in rows:
                    task = asyncio.create_task(self.deliver(row), name="email-delivery")
                    self._inflight.add(task)
                    task.add_done_callback(self._done)
            if claimed and claimed == free:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=settings.poll_interval)
            self._wake.clear()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("an email delivery failed to record its outcome", exc_info=task.exception())

    async def claim(self, limit: int) -> list[dict[str, Any]]:
        """Lease up to `limit` due messages to this worker."""
        lease = self.service.settings.send_timeout + LEASE_MARGIN
        rows: list[dict[str, Any]] = await DB.engine.run_querystring(QueryString(_CLAIM, lease, limit))
        return rows

    async def deliver(self, row: dict[str, Any]) -> None:
        """One delivery attempt and its outcome."""
        transport = self.service.transport
        assert transport is not None
        message = EmailMessage(
            to=list(row["recipients"]), subject=row["subject"], text=row["text"], html=row["html"],
            sender=row["sender"], reply_to=row["reply_to"], headers=json.loads(row["headers"] or "{}"),
            message_id=row["message_id"])
        try:
            async with asyncio.timeout(self.service.settings.send_timeout):
                provider_id = await transport.send(message)
        except DeliveryError as error:
            await self._after_failure(row, str(error), permanent=error.permanent, delivered=error.delivered)
        except TimeoutError:
            await self._after_failure(row, "the transport did not finish in time", permanent=False)
        except Exception as error:
            log.exception("email transport failed unexpectedly", extra={"email_id": str(row["id"])})
            await self._after_failure(row, f"{type(error).__name__}: {error}", permanent=False)
        else:
            await self._record(self._sent, row, provider_id, None)

    async def _after_failure(self, row: dict[str, Any], error: str, *, permanent: bool,
                             delivered: bool = False) -> None:
        settings = self.service.settings
        email_id = str(row["id"])
        if delivered:
            await self._record(self._sent, row, None, error)
        elif permanent or row["attempts"] >= settings.max_attempts:
            log.warning("email failed", extra={"email_id": email_id, "attempts": row["attempts"], "error": error})
            await self._record(self._failed, row, error)
        else:
            delay = backoff(row["attempts"], settings.retry_base_delay, settings.retry_max_delay)
            log.info("email will be retried", extra={"email_id": email_id, "attempts": row["attempts"],
                                                      "retry_in": round(delay, 2), "error": error})
            await self._record(self._retry, row, delay, error)

    async def _record(self, step: Any, row: dict[str, Any], *args: Any) -> None:
        """Run a recording step, retrying while the database is unreachable (at most for the lease)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.service.settings.send_timeout + LEASE_MARGIN / 2
        delay = 0.2
        while True:
            try:
                await step(row, *args)
                return
            except CONNECTION_ERRORS as error:
                if loop.time() + delay > deadline:
                    log.error("could not record an email's outcome", extra={"email_id": str(row["id"]),
                                                                             "error": str(error)})
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _sent(self, row: dict[str, Any], provider_id: str | None, error: str | None) -> None:
        async with DB.engine.transaction():
            done = await DB.engine.run_querystring(
                QueryString(_SENT, provider_id[:400] if provider_id else None, error, row["id"]))
            if done:
                await add_event(Outbox, "email", "sent", _event(row, error))
        self.service.poke_outbox()

    async def _failed(self, row: dict[str, Any], error: str) -> None:
        async with DB.engine.transaction():
            done = await DB.engine.run_querystring(QueryString(_FAILED, error, row["id"]))
            if done:
                await add_event(Outbox, "email", "failed", _event(row, error))
        self.service.poke_outbox()

    async def _retry(self, row: dict[str, Any], delay: float, error: str) -> None:
        await DB.engine.run_querystring(QueryString(_RETRY, delay, error, row["id"]))


def _event(row: dict[str, Any], error: str | None) -> dict[str, Any]:
    return {"id": str(row["id"]), "idempotency_key": row["idempotency_key"],
            "metadata": json.loads(row["metadata"] or "{}"), "error": error}
