"""Resumable uploads (tus 1.0) without HTTP: state in PostgreSQL plus the backend's handle, so each PATCH may
land on any node. An upload's ID becomes its file's ID."""

from __future__ import annotations

import base64
import binascii
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from gravity_platform.kernel.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    ServiceUnavailableError,
)
from gravity_platform.services.files import store
from gravity_platform.services.files.checksum import Checksum
from gravity_platform.services.files.services import record_file, storage_key
from gravity_platform.services.files.storage import StorageBackend, StorageError
from gravity_platform.services.files.transfer import (
    BodyIncompleteError,
    BodyTooLargeError,
    Digest,
    clean_name,
    detect_type,
)

if TYPE_CHECKING:
    from gravity_platform.services.files.plugin import FilesService

log = logging.getLogger("gravity.files")

LEASE = timedelta(minutes=10)
"""How long one PATCH holds an upload without renewing; a node that died mid-PATCH frees it after this."""
RENEW_EVERY = 120.0
"""Seconds between lease renewals while a PATCH body streams."""
_SELECT_UPLOAD = ('SELECT id, owner_id, name, content_type, length, "offset", storage_key, handle, partial '
                  "FROM upload WHERE id = $1 AND owner_id = $2 AND expires_at > now()")


def parse_metadata(header: str | None) -> dict[str, str]:
    """Decode `Upload-Metadata` (`key base64value,key2 ...`); 400 when malformed."""
    values: dict[str, str] = {}
    for pair in (header or "").split(","):
        if not pair.strip():
            continue
        key, _, encoded = pair.strip().partition(" ")
        try:
            values[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8") if encoded else ""
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequestError(f"Upload-Metadata value of {key!r} is not base64 UTF-8") from None
    return values


async def renewing(upload_ids: list[uuid.UUID], chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Pass a stream through, renewing the leases of the uploads it writes or reads now and then, so a long
    stream keeps them."""
    renewed = time.monotonic()
    async for chunk in chunks:
        if time.monotonic() - renewed > RENEW_EVERY:
            async with store.transaction() as conn:
                await conn.execute("UPDATE upload SET lease_until = now() + $2::interval WHERE id = ANY($1)",
                                   upload_ids, LEASE)
            renewed = time.monotonic()
        yield chunk


async def _stage(storage: StorageBackend, key: str, chunks: AsyncIterator[bytes]) -> int:
    """Write a checksummed PATCH body under `key`; the errors of its stream become the answer."""
    try:
        return await storage.write(key, chunks)
    except BodyTooLargeError as error:
        raise error.error from None
    except BodyIncompleteError:
        raise BadRequestError("The body ended before all of it arrived; the chunk was discarded") from None


async def discard_bytes(storage: StorageBackend, row: dict[str, Any]) -> None:
    """Throw away what an upload stored: its unfinished upload, and for a partial upload (tus concatenation)
    the object it becomes once complete (a finished object, which aborting would not remove)."""
    if not (row["partial"] and row["offset"] == row["length"]):
        await storage.abort_upload(row["storage_key"], row["handle"])
    if row["partial"]:
        await storage.delete(row["storage_key"])


async def _drop_staged(storage: StorageBackend, key: str) -> None:
    """Delete a staged PATCH body; if the store refuses, the sweeper takes it later (it was noted as garbage)."""
    try:
        await storage.delete(key)
    except (StorageError, OSError) as error:
        log.warning("could not delete a staged chunk", extra={"key": key, "error": repr(error)})
        return
    await store.forget(key)


class Resumable:
    """tus uploads of the files service."""

    def __init__(self, service: FilesService) -> None:
        self.service = service

    async def create(self, owner: str, length: int, metadata: dict[str, str], *, partial: bool = False) -> str:
        """Start an upload of `length` bytes (quota reserved now); return its ID. A `partial` upload (tus
        concatenation) does not become a file when complete: it waits for a final upload to use it."""
        settings = self.service.settings
        if length > settings.max_file_size:
            raise PayloadTooLargeError(f"Files may have at most {settings.max_file_size} bytes")
        upload_id = str(uuid.uuid4())
        ttl = timedelta(seconds=settings.tus_upload_ttl)
        await store.reserve(owner, upload_id, length, settings.quota_bytes, ttl)
        key = storage_key(upload_id)
        try:
            handle = await self.service.storage.begin_upload(key)
            if partial and length == 0:  # complete already: a complete partial's bytes are an object
                await self.service.storage.complete_upload(key, handle)
            name = clean_name(metadata.get("filename") or metadata.get("name"))
            declared = metadata.get("filetype") or metadata.get("content_type") or metadata.get("type")
            async with store.transaction() as conn:
                await conn.execute(
                    'INSERT INTO upload (id, owner_id, name, content_type, length, "offset", storage_key, handle, '
                    "expires_at, partial) VALUES ($1, $2, $3, $4, $5, 0, $6, $7, now() + $8::interval, $9)",
                    uuid.UUID(upload_id), uuid.UUID(owner), name, declared, length, key, handle, ttl, partial)
        except BaseException:
            await store.release(upload_id)
            raise
        return upload_id

    async def status(self, upload_id: str, owner: str) -> dict[str, Any]:
        """The upload (its `offset` and `length`); 404 unless it is the caller's and still open."""
        try:
            key = uuid.UUID(upload_id)
        except ValueError:
            raise NotFoundError("No such upload") from None
        async with store.transaction() as conn:
            row = await conn.fetchrow(_SELECT_UPLOAD, key, uuid.UUID(owner))
        if row is None:
            raise NotFoundError("No such upload")
        return dict(row)

    @staticmethod
    async def _lease(row: dict[str, Any], offset: int) -> None:
        if row["offset"] != offset:
            raise ConflictError(f"Upload-Offset is {row['offset']}, not {offset}",
                                headers={"Upload-Offset": str(row["offset"])})
        async with store.transaction() as conn:
            leased = await conn.fetchval(
                'UPDATE upload SET lease_until = now() + $3::interval WHERE id = $1 AND "offset" = $2 '
                "AND (lease_until IS NULL OR lease_until < now()) RETURNING id", row["id"], offset, LEASE)
        if leased is None:
            raise ConflictError("Another request is appending to this upload")

    async def append(self, upload_id: str, owner: str, offset: int, chunks: AsyncIterator[bytes],
                     checksum: Checksum | None = None) -> tuple[int, bool]:
        """Append a PATCH body at `offset`; return the new offset and whether the file is now complete.

        Without a checksum, bytes that arrived before the connection broke are kept: the client asks the offset
        and resumes. With one, the body counts whole or not at all (see `_append_verified`)."""
        row = await self.status(upload_id, owner)
        if row["partial"] and row["offset"] == row["length"] == offset:
            return offset, True  # a complete partial upload: nothing to add
        await self._lease(row, offset)
        try:
            if checksum is None:
                handle, new_offset = await self.service.storage.append_upload(
                    row["storage_key"], row["handle"], offset, renewing([row["id"]], chunks))
            else:
                handle, new_offset = await self._append_verified(row, offset, chunks, checksum)
        finally:
            async with store.transaction() as conn:
                await conn.execute('UPDATE upload SET lease_until = NULL WHERE id = $1', row["id"])
        new_offset = min(new_offset, row["length"])
        if row["partial"] and new_offset == row["length"]:  # before the row says so (a failure keeps it open)
            await self.service.storage.complete_upload(row["storage_key"], handle)
        async with store.transaction() as conn:
            await conn.execute('UPDATE upload SET "offset" = $2, handle = $3 WHERE id = $1', row["id"], new_offset,
                               handle)
        if new_offset == row["length"] and not row["partial"]:
            await self._finish({**row, "handle": handle})
        return new_offset, new_offset == row["length"]

    async def _append_verified(self, row: dict[str, Any], offset: int, chunks: AsyncIterator[bytes],
                               checksum: Checksum) -> tuple[str, int]:
        """Stage the body as an object of its own, hashed as it streams (a mismatch or a broken body makes the
        write fail, so nothing is stored), then append the staged bytes. The upload's saved handle is left as it
        was until everything succeeded, so a failure at any point leaves the upload where it stood."""
        storage = self.service.storage
        staged = f"tus/{row['id']}/{uuid.uuid4().hex}"
        await store.intend(staged)
        try:
            size = await _stage(storage, staged, checksum.verified(renewing([row["id"]], chunks)))
            handle, new_offset = await storage.append_upload(
                row["storage_key"], row["handle"], offset, renewing([row["id"]], storage.read(staged)))
        finally:
            await _drop_staged(storage, staged)
        if new_offset != offset + size:
            raise ServiceUnavailableError("The file store kept only part of the chunk, so none of it counts; "
                                          "send it again", headers={"Retry-After": "5"})
        return handle, new_offset

    async def _finish(self, row: dict[str, Any]) -> None:
        """Turn a complete upload into a file: the object, its checksum and type, then row and quota at once."""
        storage, key = self.service.storage, row["storage_key"]
        upload_id, owner = str(row["id"]), str(row["owner_id"])
        await store.intend(key)
        await storage.complete_upload(key, row["handle"])
        digest = Digest()
        try:
            async for _ in digest.tap(storage.read(key)):
                pass
            file = {"id": upload_id, "owner_id": owner, "name": row["name"], "size": digest.size,
                    "sha256": digest.hexdigest, "storage_key": key,
                    "content_type": detect_type(digest.head, row["name"], row["content_type"])}
            async with store.transaction() as conn:
                await record_file(conn, file, self.service.settings.quota_bytes, upload_id)
                await conn.execute("DELETE FROM upload WHERE id = $1", row["id"])
        except BaseException:
            await self.service.storage.delete(key)
            await store.forget(key)
            await self.terminate_row(row)
            raise
        self.service.poke_outbox()

    async def terminate(self, upload_id: str, owner: str) -> None:
        """Abandon an upload: its staged bytes, row and reservation go."""
        row = await self.status(upload_id, owner)
        await discard_bytes(self.service.storage, row)
        await self.terminate_row(row)

    @staticmethod
    async def terminate_row(row: dict[str, Any]) -> None:
        """Forget an upload's row and reservation."""
        async with store.transaction() as conn:
            await conn.execute("DELETE FROM upload WHERE id = $1", row["id"])
            await conn.execute("DELETE FROM reservation WHERE id = $1", row["id"])
