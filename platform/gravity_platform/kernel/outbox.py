"""The transactional outbox: events written in the same transaction as the change, relayed to JetStream.

A service adds `outbox_table(database)` to its tables and migration, calls `add_event` inside its
transaction, and the node runs one `OutboxRelay` per service. Publishing uses the row ID as
`Nats-Msg-Id`, so a relay that crashes between publish and mark never duplicates an event."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

from piccolo.columns import JSONB, UUID, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from gravity_platform.kernel.bus import Bus
from gravity_platform.kernel.db import CONNECTION_ERRORS, ServiceDatabase
from gravity_platform.kernel.observability import Metrics, current_correlation_id

log = logging.getLogger("gravity.outbox")

OUTBOX_DDL = """
CREATE TABLE IF NOT EXISTS outbox (
    id uuid PRIMARY KEY,
    subject varchar(255) NOT NULL,
    payload jsonb NOT NULL,
    correlation_id varchar(128),
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;
"""
"""SQL for a service's first migration (runs with the service's schema on the search path)."""


def outbox_table(database: ServiceDatabase) -> type[Table]:
    """The outbox table class bound to one service's schema and engine."""

    class Outbox(Table, tablename="outbox", schema=database.schema, db=database.engine):
        id = UUID(primary_key=True)
        subject = Varchar(length=255)
        payload = JSONB()
        correlation_id = Varchar(length=128, null=True)
        created_at = Timestamptz(default=TimestamptzNow())
        published_at = Timestamptz(null=True, default=None)

    return Outbox


async def add_event(table: type[Table], service: str, event: str, payload: dict[str, Any]) -> str:
    """Queue `gravity.events.<service>.<event>`; call inside the transaction that makes the change."""
    event_id = str(uuid.uuid4())
    await table.insert(table(
        id=event_id, subject=f"gravity.events.{service}.{event}",
        payload=json.dumps({"id": event_id, "type": f"{service}.{event}", "data": payload}, default=str),
        correlation_id=current_correlation_id(),
    )).run()
    return event_id


class OutboxRelay:
    """Moves committed outbox rows to JetStream; several nodes may run one per service (SKIP LOCKED)."""

    def __init__(self, service: str, database: ServiceDatabase, bus: Bus, metrics: Metrics,
                 *, interval: float = 0.5, batch: int = 100) -> None:
        self.service = service
        self.database = database
        self.bus = bus
        self.metrics = metrics
        self.interval = interval
        self.batch = batch
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        """Run in the background until `stop`."""
        self._task = asyncio.create_task(self._run(), name=f"outbox-{self.service}")

    def poke(self) -> None:
        """Relay soon (after a commit that added events)."""
        self._wake.set()

    async def stop(self) -> None:
        """Finish the current batch and stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            self._wake.clear()
            if not self.bus.connected:
                continue
            try:
                while await self.relay_once() == self.batch:
                    pass
            except CONNECTION_ERRORS as error:
                log.warning("outbox relay waiting for the database", extra={"error": str(error)})
            except Exception:
                log.exception("outbox relay failed", extra={"service": self.service})

    async def relay_once(self) -> int:
        """Publish one batch of unpublished events; returns how many were published."""
        engine = self.database.engine
        async with engine.transaction():
            rows = await _fetch_batch(engine, self.batch)
            for row in rows:
                headers = {"X-Correlation-ID": row["correlation_id"]} if row["correlation_id"] else None
                payload = row["payload"] if isinstance(row["payload"], str) else json.dumps(row["payload"])
                await self.bus.publish(row["subject"], payload.encode(), msg_id=str(row["id"]), headers=headers)
            if rows:
                await _mark_published(engine, [row["id"] for row in rows])
        if rows:
            self.metrics.outbox_published.labels(self.service).inc(len(rows))
        return len(rows)


async def _fetch_batch(engine: Any, batch: int) -> list[dict[str, Any]]:
    from piccolo.querystring import QueryString

    query = QueryString(
        "SELECT id, subject, payload::text AS payload, correlation_id FROM outbox WHERE published_at IS NULL "
        "ORDER BY created_at LIMIT {} FOR UPDATE SKIP LOCKED", batch)
    result: list[dict[str, Any]] = await engine.run_querystring(query)
    return result


async def _mark_published(engine: Any, ids: list[Any]) -> None:
    from piccolo.querystring import QueryString

    await engine.run_querystring(QueryString("UPDATE outbox SET published_at = now() WHERE id = ANY({})", ids))
