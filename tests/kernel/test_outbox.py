"""The transactional outbox: events committed with the change reach JetStream exactly once, even when a relay
runs twice, two relays race, or a relay dies between publishing and marking (Nats-Msg-Id de-duplication)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import nats
import pytest
from nats.js.api import DeliverPolicy

from gravity_platform.devstack import DevStack
from gravity_platform.kernel.bus import Bus
from gravity_platform.kernel.crypto import MasterKey
from gravity_platform.kernel.db import ServiceDatabase, service_password
from gravity_platform.kernel.migrations import MigrationReport
from gravity_platform.kernel.observability import Metrics, bind_ids
from gravity_platform.kernel.outbox import OutboxRelay, add_event, outbox_table


@pytest.fixture
async def database(first_migration: list[MigrationReport], kernel_stack: DevStack,
                   kernel_key: MasterKey) -> AsyncIterator[ServiceDatabase]:
    """The users service's database as a handle of its own (not the process-wide one a node would use)."""
    handle = ServiceDatabase("users")
    handle.configure(kernel_stack.endpoints.postgres_dsn, service_password(kernel_key, "users"))
    await handle.start()
    try:
        yield handle
    finally:
        await handle.stop()


@pytest.fixture
async def bus(kernel_stack: DevStack) -> AsyncIterator[Bus]:
    connection = Bus(kernel_stack.endpoints.nats_url, name="outbox-test")
    await connection.start()
    assert connection.connected
    try:
        yield connection
    finally:
        await connection.stop()


async def published(kernel_stack: DevStack, subject: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Every message JetStream holds on `subject`: (payload, headers)."""
    connection = await nats.connect(kernel_stack.endpoints.nats_url)
    try:
        js = connection.jetstream()
        subscription = await js.subscribe(subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
        messages = []
        while True:
            try:
                message = await subscription.next_msg(timeout=0.5)
            except nats.errors.TimeoutError:
                break
            messages.append((json.loads(message.data), dict(message.headers or {})))
        await subscription.unsubscribe()
        return messages
    finally:
        await connection.close()


async def unpublished(database: ServiceDatabase, kernel_stack: DevStack, subject: str) -> int:
    connection = await asyncpg.connect(kernel_stack.endpoints.postgres_dsn)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM users.outbox WHERE subject = $1 AND published_at IS NULL", subject)
        return count
    finally:
        await connection.close()


def event_name() -> str:
    return f"kernel_test_{uuid.uuid4().hex[:8]}"


async def test_committed_events_are_published_once(database: ServiceDatabase, bus: Bus,
                                                   kernel_stack: DevStack) -> None:
    Outbox = outbox_table(database)  # noqa: N806 - a table class
    event = event_name()
    subject = f"gravity.events.users.{event}"
    bind_ids("request-1", "correlation-1")
    async with database.engine.transaction():
        ids = [await add_event(Outbox, "users", event, {"n": n}) for n in range(3)]

    async def abandoned() -> None:
        async with database.engine.transaction():
            await add_event(Outbox, "users", event, {"n": "never"})
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        await abandoned()
    assert await unpublished(database, kernel_stack, subject) == 3

    relay = OutboxRelay("users", database, bus, Metrics())
    assert await relay.relay_once() >= 3
    assert await relay.relay_once() == 0, "a second pass finds nothing left to publish"
    assert await unpublished(database, kernel_stack, subject) == 0

    messages = await published(kernel_stack, subject)
    assert [payload["id"] for payload, _ in messages] == ids
    assert [payload["data"] for payload, _ in messages] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert all(payload["type"] == f"users.{event}" for payload, _ in messages)
    assert [headers["Nats-Msg-Id"] for _, headers in messages] == ids
    assert all(headers["X-Correlation-ID"] == "correlation-1" for _, headers in messages)


async def test_republishing_after_a_crash_is_deduplicated(database: ServiceDatabase, bus: Bus,
                                                          kernel_stack: DevStack) -> None:
    Outbox = outbox_table(database)  # noqa: N806 - a table class
    event = event_name()
    subject = f"gravity.events.users.{event}"
    async with database.engine.transaction():
        ids = [await add_event(Outbox, "users", event, {"n": n}) for n in range(2)]
    relay = OutboxRelay("users", database, bus, Metrics())
    await relay.relay_once()

    admin = await asyncpg.connect(kernel_stack.endpoints.postgres_dsn)
    try:  # as if the relay had died after publishing but before marking the rows
        await admin.execute("UPDATE users.outbox SET published_at = NULL WHERE subject = $1", subject)
    finally:
        await admin.close()
    assert await relay.relay_once() >= 2, "the rows are published again"
    assert [payload["id"] for payload, _ in await published(kernel_stack, subject)] == ids, \
        "JetStream keeps one copy of each (Nats-Msg-Id)"


async def test_racing_relays_split_the_work(database: ServiceDatabase, bus: Bus, kernel_stack: DevStack) -> None:
    Outbox = outbox_table(database)  # noqa: N806 - a table class
    event = event_name()
    subject = f"gravity.events.users.{event}"
    async with database.engine.transaction():
        ids = [await add_event(Outbox, "users", event, {"n": n}) for n in range(40)]
    relays = [OutboxRelay("users", database, bus, Metrics(), batch=7) for _ in range(3)]

    async def drain(relay: OutboxRelay) -> int:
        total = 0
        while count := await relay.relay_once():
            total += count
        return total

    totals = await asyncio.gather(*(drain(relay) for relay in relays))
    assert sum(totals) == 40, "FOR UPDATE SKIP LOCKED: each row taken by exactly one relay"
    assert sorted(payload["id"] for payload, _ in await published(kernel_stack, subject)) == sorted(ids)
