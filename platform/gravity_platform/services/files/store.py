"""The files service's SQL: transactions, quota reservations and charges, file rows and the garbage list.

Quota is never racy: every check and change of a user's usage first locks that user's `usage` row, so two
uploads of one user are decided one after the other, each counting the bytes the other holds reserved."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from gravity_platform.kernel.errors import ConflictError, QuotaExceededError
from gravity_platform.services.files.tables import DB

Connection = Any
"""An asyncpg connection (inside a Piccolo transaction, so `add_event` and `audit.record` join it)."""

_SELECT_FILE = ("SELECT id, owner_id, name, content_type, size, sha256, storage_key, is_public, shared_users, "
                "shared_roles, created_at, updated_at FROM file WHERE id = $1")
_SELECT_FILE_LOCKED = ("SELECT id, owner_id, name, content_type, size, sha256, storage_key, is_public, shared_users, "
                       "shared_roles, created_at, updated_at FROM file WHERE id = $1 FOR UPDATE")
_LIST_FILES = ("SELECT id, owner_id, name, content_type, size, sha256, storage_key, is_public, shared_users, "
               "shared_roles, created_at, updated_at FROM file WHERE owner_id = $1 "
               "AND (created_at, id) > ($2, $3) ORDER BY created_at, id LIMIT $4")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PENDING_WRITE_GRACE = timedelta(days=1)
"""How long bytes being written may stay without a row before the sweeper deletes them."""


@contextlib.asynccontextmanager
async def transaction() -> AsyncIterator[Connection]:
    """A transaction on the files role's pool; yields its connection."""
    async with DB.engine.transaction() as tx:
        yield tx.connection


async def _lock_usage(conn: Connection, owner: str) -> int:
    await conn.execute("INSERT INTO usage (owner_id) VALUES ($1) ON CONFLICT DO NOTHING", uuid.UUID(owner))
    used: int = await conn.fetchval("SELECT used FROM usage WHERE owner_id = $1 FOR UPDATE", uuid.UUID(owner))
    return used


async def _held(conn: Connection, owner: str, exclude: str | None) -> int:
    held: int = await conn.fetchval(
        "SELECT coalesce(sum(bytes), 0) FROM reservation WHERE owner_id = $1 AND expires_at > now() "
        "AND id IS DISTINCT FROM $2", uuid.UUID(owner), uuid.UUID(exclude) if exclude else None)
    return held


def _over_quota(quota: int, used: int, held: int, wanted: int) -> QuotaExceededError:
    return QuotaExceededError(
        f"This needs {wanted} bytes; the quota is {quota} bytes, of which {used} are used and {held} reserved",
        extra={"quota": quota, "used": used, "reserved": held})


async def reserve(owner: str, reservation_id: str, size: int, quota: int, ttl: timedelta) -> None:
    """Hold `size` bytes of `owner`'s quota for an upload (413 quota-exceeded when they do not fit)."""
    async with transaction() as conn:
        used = await _lock_usage(conn, owner)
        held = await _held(conn, owner, None)
        if used + held + size > quota:
            raise _over_quota(quota, used, held, size)
        await conn.execute(
            "INSERT INTO reservation (id, owner_id, bytes, expires_at) VALUES ($1, $2, $3, now() + $4::interval)",
            uuid.UUID(reservation_id), uuid.UUID(owner), size, ttl)


async def remaining(owner: str, quota: int) -> int:
    """Bytes `owner` may still add (a cap for bodies of unknown length; `charge` decides for good)."""
    async with transaction() as conn:
        used = await conn.fetchval("SELECT coalesce(max(used), 0) FROM usage WHERE owner_id = $1", uuid.UUID(owner))
        held = await _held(conn, owner, None)
    return max(0, quota - int(used) - held)


async def charge(conn: Connection, owner: str, size: int, quota: int, reservation_id: str | None) -> None:
    """Inside the transaction that records a file: add `size` to `owner`'s usage, ending its reservation."""
    used = await _lock_usage(conn, owner)
    held = await _held(conn, owner, reservation_id)
    if used + held + size > quota:
        raise _over_quota(quota, used, held, size)
    await conn.execute("UPDATE usage SET used = used + $2 WHERE owner_id = $1", uuid.UUID(owner), size)
    if reservation_id:
        await conn.execute("DELETE FROM reservation WHERE id = $1", uuid.UUID(reservation_id))


async def release(reservation_id: str) -> None:
    """End a reservation without charging it (an upload failed or was abandoned)."""
    async with transaction() as conn:
        await conn.execute("DELETE FROM reservation WHERE id = $1", uuid.UUID(reservation_id))


async def intend(key: str) -> None:
    """Note that bytes are about to be written under `key`: if no file row claims them in time, they go."""
    async with transaction() as conn:
        await conn.execute(
            "INSERT INTO garbage (storage_key, collect_after) VALUES ($1, now() + $2::interval) "
            "ON CONFLICT (storage_key) DO UPDATE SET collect_after = excluded.collect_after", key, PENDING_WRITE_GRACE)


async def claim(conn: Connection, key: str) -> None:
    """Inside the transaction that records a file: its bytes are no longer garbage. If the sweeper already took
    them (a write that outlasted its grace period), the file cannot be recorded."""
    if await conn.fetchval("DELETE FROM garbage WHERE storage_key = $1 RETURNING storage_key", key) is None:
        raise ConflictError("The upload took too long and its bytes were discarded; upload it again")


async def discard(conn: Connection, key: str) -> None:
    """Inside the transaction that deletes a file: its bytes are garbage from now on."""
    await conn.execute("INSERT INTO garbage (storage_key, collect_after) VALUES ($1, now()) "
                       "ON CONFLICT (storage_key) DO UPDATE SET collect_after = now()", key)


async def forget(key: str) -> None:
    """The bytes under `key` are gone: drop it from the garbage list."""
    async with transaction() as conn:
        await conn.execute("DELETE FROM garbage WHERE storage_key = $1", key)


async def insert_file(conn: Connection, row: dict[str, Any]) -> None:
    """Record a file's metadata."""
    await conn.execute(
        "INSERT INTO file (id, owner_id, name, content_type, size, sha256, storage_key) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        uuid.UUID(row["id"]), uuid.UUID(row["owner_id"]), row["name"], row["content_type"], row["size"],
        row["sha256"], row["storage_key"])


async def fetch_file(file_id: str, *, conn: Connection | None = None, lock: bool = False) -> dict[str, Any] | None:
    """One file row by ID, or None (also for an ID that is not a UUID)."""
    try:
        key = uuid.UUID(file_id)
    except ValueError:
        return None
    query = _SELECT_FILE_LOCKED if lock else _SELECT_FILE
    if conn is not None:
        row = await conn.fetchrow(query, key)
    else:
        async with transaction() as own:
            row = await own.fetchrow(query, key)
    return dict(row) if row is not None else None


async def list_files(owner: str, after: tuple[Any, str] | None, limit: int) -> list[dict[str, Any]]:
    """`owner`'s files oldest first, after a cursor position (created_at, id)."""
    async with transaction() as conn:
        created, last_id = after if after is not None else (_EPOCH, str(uuid.UUID(int=0)))
        rows = await conn.fetch(_LIST_FILES, uuid.UUID(owner), created, uuid.UUID(last_id), limit)
    return [dict(row) for row in rows]


async def delete_file(conn: Connection, row: dict[str, Any]) -> None:
    """Remove a file row, give its bytes back to the owner's quota and mark its bytes as garbage."""
    await conn.execute("DELETE FROM file WHERE id = $1", row["id"])
    await _lock_usage(conn, str(row["owner_id"]))
    await conn.execute("UPDATE usage SET used = greatest(used - $2, 0) WHERE owner_id = $1", row["owner_id"],
                       row["size"])
    await discard(conn, row["storage_key"])
