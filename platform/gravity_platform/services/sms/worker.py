"""The delivery worker: claims due messages from the service's table and hands them to the provider.

Durable and shared by every node hosting the service: a message is claimed with `FOR UPDATE SKIP LOCKED` by
pushing its `next_attempt_at` forward by a lease, so exactly one worker holds it; a worker that dies mid-send
leaves it to be retried once the lease runs out. Transient failures are retried with exponential backoff
(with jitter) up to `max_attempts`; permanent ones fail the message at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import TYPE_CHECKING, Any

from piccolo.querystring import QueryString

from gravity_platform.kernel.db import CONNECTION_ERRORS
from gravity_platform.services.sms.provider import SmsDeliveryError, SmsMessage, SmsProvider, SmsStatusCallbacks
from gravity_platform.services.sms.tables import DB

if TYPE_CHECKING:
    from gravity_platform.services.sms.plugin import SmsService

log = logging.getLogger("gravity.sms.worker")

CLAIM = """
UPDATE message SET attempts = attempts + 1, provider = {}, updated_at = now(),
    next_attempt_at = now() + make_interval(secs => {})
WHERE id IN (
    SELECT id FROM message
    WHERE status = 'queued' AND next_attempt_at <= now()
      AND (provider = {} OR provider IS NULL OR next_attempt_at <= now() - make_interval(secs => {}))
    ORDER BY next_attempt_at LIMIT {} FOR UPDATE SKIP LOCKED)
RETURNING id, recipient, body, attempts
"""
"""Claim a batch of due messages: this node's provider's, or any left waiting past `adopt_after`."""
STOP_GRACE = 4.0
"""Seconds a stopping node gives the sends in flight (inside the node's bound on each shutdown step)."""


def backoff(attempt: int, base: float, ceiling: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): doubling from `base`, capped, with jitter."""
    delay: float = min(ceiling, base * 2.0 ** (attempt - 1))
    return delay * random.uniform(0.75, 1.0)  # noqa: S311 - jitter, not security


class DeliveryWorker:
    """Runs in the background on each node hosting the service, woken by new messages or every poll interval."""

    def __init__(self, service: SmsService) -> None:
        self.service = service
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    def start(self) -> None:
        """Run until `stop`."""
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="sms-delivery")

    def poke(self) -> None:
        """Look for due messages now."""
        self._wake.set()

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Let the batch in flight finish (for up to `grace` seconds), then stop. A send abandoned past that is
        retried by some worker once its lease runs out."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout=grace)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.service.settings.poll_interval)
            self._wake.clear()
            if self._stopping:
                return
            try:
                while await self.run_once() >= self.service.settings.batch and not self._stopping:
                    pass
            except CONNECTION_ERRORS as error:
                log.warning("sms delivery waiting for the database", extra={"error": str(error)})
            except Exception:
                log.exception("sms delivery failed")

    async def run_once(self) -> int:
        """Claim one batch of due messages and deliver them concurrently; returns how many were claimed."""
        provider = self.service.provider
        if provider is None:
            return 0
        settings = self.service.settings
        lease = settings.send_timeout + 30.0
        rows: list[dict[str, Any]] = await DB.engine.run_querystring(QueryString(
            CLAIM, provider.name, lease, provider.name, settings.adopt_after, settings.batch))
        outcomes = await asyncio.gather(*(self._deliver(provider, row) for row in rows), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):  # e.g. the database went away before the outcome was recorded
                log.error("sms outcome not recorded; the message is retried when its lease ends",
                          extra={"error": repr(outcome)})
        return len(rows)

    async def _deliver(self, provider: SmsProvider, row: dict[str, Any]) -> None:
        settings = self.service.settings
        message_id, attempt = str(row["id"]), int(row["attempts"])
        callback = self.service.callback_url(provider.name) if isinstance(provider, SmsStatusCallbacks) else None
        message = SmsMessage(to=row["recipient"], body=row["body"], sender=settings.sender,
                             status_callback=callback, id=message_id)
        logic = self.service.logic
        try:
            provider_id = await asyncio.wait_for(provider.send(message), timeout=settings.send_timeout)
        except SmsDeliveryError as error:
            if error.permanent:
                log.warning("sms rejected by the provider", extra={"id": message_id, "error": str(error)})
                await logic.record_failed(message_id, attempt, str(error))
                return
            await self._retry_or_fail(message_id, attempt, str(error))
            return
        except TimeoutError:
            await self._retry_or_fail(message_id, attempt, f"the provider did not answer in {settings.send_timeout} s")
            return
        except Exception as error:
            log.exception("sms provider failed unexpectedly", extra={"id": message_id})
            await self._retry_or_fail(message_id, attempt, f"provider error: {error!r}")
            return
        await logic.record_sent(message_id, attempt, provider_id)

    async def _retry_or_fail(self, message_id: str, attempt: int, error: str) -> None:
        settings = self.service.settings
        if attempt >= settings.max_attempts:
            log.warning("sms failed after its last attempt", extra={"id": message_id, "error": error})
            await self.service.logic.record_failed(message_id, attempt, f"{error} (after {attempt} attempts)")
            return
        delay = backoff(attempt, settings.retry_base, settings.retry_max)
        log.info("sms attempt failed; retrying", extra={"id": message_id, "attempt": attempt, "in": round(delay, 2)})
        await self.service.logic.record_retry(message_id, attempt, error, delay)
        self._schedule_wake(delay)

    def _schedule_wake(self, delay: float) -> None:
        """Wake this worker when a retry falls due sooner than the next poll."""
        if delay < self.service.settings.poll_interval:
            asyncio.get_running_loop().call_later(delay, self._wake.set)
