"""The dev outbox: the "outbox" provider keeps every message in the service's `dev_outbox` table instead of
sending it, for the developer to read (`gravity dev sms`, `GET /api/v1/sms/dev/outbox`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from piccolo.querystring import QueryString

from gravity_platform.kernel.errors import NotFoundError, ServiceUnavailableError
from gravity_platform.services.sms.provider import SmsMessage
from gravity_platform.services.sms.schemas import OutboxEntry
from gravity_platform.services.sms.tables import DB

if TYPE_CHECKING:
    from gravity_platform.kernel.settings import GravitySettings

NAME = "outbox"
_LIST = ("SELECT id, message_id, recipient, sender, body, status_callback, created_at FROM dev_outbox "
         "WHERE $1::text IS NULL OR recipient = $1 ORDER BY created_at DESC, id LIMIT $2")
_FIND = ("SELECT id, message_id, recipient, sender, body, status_callback, created_at FROM dev_outbox "
         "WHERE id::text LIKE $1 OR message_id::text LIKE $1 LIMIT 2")


class OutboxProvider:
    """An `SmsProvider` that stores instead of sending."""

    name = NAME

    async def send(self, message: SmsMessage) -> str | None:
        """Keep `message`; its outbox entry ID is the provider message ID."""
        entry_id = uuid.uuid4()
        await DB.engine.run_querystring(QueryString(
            "INSERT INTO dev_outbox (id, message_id, recipient, sender, body, status_callback) "
            "VALUES ({}, {}, {}, {}, {}, {})",
            entry_id, uuid.UUID(message.id) if message.id else None, message.to, message.sender, message.body,
            message.status_callback))
        return f"outbox-{entry_id}"

    async def close(self) -> None:
        """Nothing to release."""


def to_entry(row: dict[str, Any]) -> OutboxEntry:
    """The API shape of an outbox row."""
    return OutboxEntry(id=str(row["id"]), message_id=str(row["message_id"]) if row["message_id"] else None,
                       to=row["recipient"], sender=row["sender"], body=row["body"],
                       status_callback=row["status_callback"], created_at=row["created_at"])


@asynccontextmanager
async def service_connection() -> AsyncIterator[Any]:
    """A connection from the running service's pool."""
    pool = DB.engine.pool
    if pool is None:
        raise ServiceUnavailableError("The sms service's database is not open")
    async with pool.acquire() as connection:
        yield connection


async def list_entries(connection: Any, limit: int = 50, to: str | None = None) -> list[OutboxEntry]:
    """The newest outbox entries (optionally only those to one E.164 number), newest first."""
    return [to_entry(dict(row)) for row in await connection.fetch(_LIST, to, limit)]


async def get_entry(connection: Any, prefix: str) -> OutboxEntry:
    """The entry whose ID (or that of its message) is `prefix` or starts with it; 404 unless exactly one is."""
    cleaned = prefix.strip().lower()
    if not cleaned or any(c not in "0123456789abcdef-" for c in cleaned):
        raise NotFoundError("No such outbox entry")
    rows = await connection.fetch(_FIND, cleaned + "%")
    if len(rows) != 1:
        raise NotFoundError("No such outbox entry" if not rows else "More than one outbox entry matches")
    return to_entry(dict(rows[0]))


async def read_outbox(settings: GravitySettings, *, limit: int = 50, entry: str | None = None) -> list[OutboxEntry]:
    """Read the outbox straight from the database as the sms service's role (for `gravity dev sms`)."""
    import asyncpg

    from gravity_platform.kernel.crypto import MasterKey
    from gravity_platform.kernel.db import parse_dsn, service_password

    key = MasterKey.from_file(settings.resolved_master_key_file())
    dsn = parse_dsn(settings.database.url)
    target = {name: value for name, value in dsn.items() if name not in ("user", "password")}
    connection = await asyncpg.connect(**target, user=DB.role, password=service_password(key, DB.service),
                                       server_settings={"search_path": DB.schema}, timeout=10)
    try:
        return [await get_entry(connection, entry)] if entry is not None else await list_entries(connection, limit)
    finally:
        await connection.close()
