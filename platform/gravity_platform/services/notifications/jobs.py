"""The delivery work queues on JetStream: one job per (notification, channel), one consumer per channel.

Jobs are acknowledged explicitly. A failed attempt is NAKed with an exponential delay; after `max_attempts`
the job is copied to the dead-letter stream GRAVITY_NOTIFY_DLQ and terminated. Workers are idempotent: the
delivery row says what is already done, and downstream sends carry the delivery ID as their idempotency key."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StreamConfig

if TYPE_CHECKING:
    from gravity_platform.kernel.bus import Bus

log = logging.getLogger("gravity.notifications")

STREAM = "GRAVITY_NOTIFY"
DEAD_LETTER_STREAM = "GRAVITY_NOTIFY_DLQ"
DEAD_SUBJECT = "gravity.notify.dead"
Handler = Callable[[Msg], Awaitable[None]]


def backoff(attempt: int, base: float, ceiling: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): base, 2*base, 4*base ... up to `ceiling`."""
    return float(min(ceiling, base * 2 ** max(0, attempt - 1)))


async def ensure_streams(bus: Bus) -> None:
    """Create the work-queue stream of jobs and the dead-letter stream (idempotent)."""
    assert bus.nc is not None
    js = bus.nc.jetstream()
    configs = [
        StreamConfig(name=STREAM, subjects=["gravity.notify.job.>"], retention=RetentionPolicy.WORK_QUEUE,
                     duplicate_window=120.0, num_replicas=bus.stream_replicas),
        StreamConfig(name=DEAD_LETTER_STREAM, subjects=[f"{DEAD_SUBJECT}.>"], num_replicas=bus.stream_replicas,
                     max_age=30 * 24 * 3600.0),
    ]
    for config in configs:
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError:
            await js.update_stream(config)


async def dead_letter(bus: Bus, channel: str, message: Msg, error: str) -> None:
    """Keep a copy of a job that failed for good, with why (de-duplicated by the original sequence)."""
    assert bus.nc is not None
    body = {"job": json.loads(message.data), "channel": channel, "error": error,
            "deliveries": message.metadata.num_delivered}
    await bus.nc.jetstream().publish(f"{DEAD_SUBJECT}.{channel}", json.dumps(body).encode(),
                                     headers={"Nats-Msg-Id": f"dead-{message.metadata.sequence.stream}"})


class Worker:
    """Pulls one durable consumer of a stream and hands each message to `handler`, reconnecting as needed."""

    def __init__(self, bus: Bus, *, stream: str, durable: str, subjects: list[str], handler: Handler,
                 ack_wait: float, max_deliver: int = -1, deliver_all: bool = False) -> None:
        self.bus = bus
        self.stream = stream
        self.durable = durable
        self.subjects = subjects
        self.handler = handler
        self.config = ConsumerConfig(
            durable_name=durable, name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=ack_wait,
            max_deliver=max_deliver, filter_subjects=subjects if len(subjects) > 1 else None,
            filter_subject=subjects[0] if len(subjects) == 1 else None,
            deliver_policy=DeliverPolicy.ALL if deliver_all else DeliverPolicy.NEW,
        )
        self._task: asyncio.Task[None] | None = None
        self._busy = asyncio.Lock()
        self.before_first_pull: Callable[[], Awaitable[None]] | None = None

    def start(self) -> None:
        """Run in the background until `stop`."""
        self._task = asyncio.create_task(self._run(), name=f"worker-{self.durable}")

    async def stop(self) -> None:
        """Stop pulling; a message being handled is finished first."""
        if self._task is None:
            return
        async with self._busy:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                await self.bus.ready.wait()
                if not self.bus.connected:
                    await asyncio.sleep(delay)
                    continue
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("notifications worker restarting", extra={"worker": self.durable, "error": repr(error)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _consume(self) -> None:
        assert self.bus.nc is not None
        js = self.bus.nc.jetstream()
        if self.before_first_pull is not None:
            await self.before_first_pull()
        with contextlib.suppress(nats.js.errors.BadRequestError):
            await js.add_consumer(self.stream, config=self.config)
        subscription = await js.pull_subscribe_bind(durable=self.durable, stream=self.stream)
        try:
            while True:
                try:
                    messages = await subscription.fetch(10, timeout=1.0)
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                for message in messages:
                    async with self._busy:
                        await self._handle(message)
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _handle(self, message: Msg) -> None:
        try:
            await self.handler(message)
        except Exception:
            log.exception("notifications job failed unexpectedly", extra={"worker": self.durable})
            with contextlib.suppress(Exception):
                await message.nak(delay=5.0)


def job_payload(message: Msg) -> dict[str, Any]:
    """The JSON body of a job or event message ({} when it is not JSON)."""
    try:
        body = json.loads(message.data)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
