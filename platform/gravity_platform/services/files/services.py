"""Files logic, free of HTTP: uploads (streamed into the backend), access rules, sharing, signed URLs, deletes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from gravity_platform.kernel import audit
from gravity_platform.kernel.errors import (
    BadRequestError,
    ForbiddenError,
    GravityError,
    NotFoundError,
    PayloadTooLargeError,
    QuotaExceededError,
    ServiceUnavailableError,
    UnprocessableError,
)
from gravity_platform.kernel.outbox import add_event
from gravity_platform.kernel.security import Principal
from gravity_platform.services.files import store
from gravity_platform.services.files.schemas import FileInfo, FilePage, SharingUpdate
from gravity_platform.services.files.settings import FilesSettings
from gravity_platform.services.files.storage import StorageError
from gravity_platform.services.files.tables import AuditLog, Outbox
from gravity_platform.services.files.transfer import (
    BodyIncompleteError,
    BodyTooLargeError,
    Digest,
    MultipartFile,
    capped,
    clean_name,
    detect_type,
)

if TYPE_CHECKING:
    from gravity_platform.services.files.plugin import FilesService

log = logging.getLogger("gravity.files")

ADMIN = "files:admin"
READ = "files:read"
WRITE = "files:write"


def storage_key(file_id: str) -> str:
    """Where a file's bytes live: derived from its ID only, never from its name."""
    return f"f/{file_id[:2]}/{file_id}"


def to_info(row: dict[str, Any]) -> FileInfo:
    """The API shape of a file row."""
    return FileInfo(
        id=str(row["id"]), name=row["name"], content_type=row["content_type"], size=row["size"],
        sha256=row["sha256"], owner_id=str(row["owner_id"]), public=row["is_public"],
        shared_with_users=[str(u) for u in row["shared_users"]], shared_with_roles=list(row["shared_roles"]),
        created_at=row["created_at"], updated_at=row["updated_at"])


def encode_cursor(row: dict[str, Any]) -> str:
    """An opaque cursor after `row`."""
    raw = json.dumps([row["created_at"].isoformat(), str(row["id"])]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor stands for; 422 when it is not one of ours."""
    try:
        created, file_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(created), str(uuid.UUID(str(file_id)))
    except (ValueError, TypeError):
        raise UnprocessableError("The cursor is not valid") from None


def can_read(row: dict[str, Any], principal: Principal | None) -> bool:
    """Public files are anyone's; others their owner's, the users and roles they are shared with, and admins'."""
    if row["is_public"]:
        return True
    if principal is None or not principal.can(READ):
        return False
    if principal.can(ADMIN) or principal.subject == str(row["owner_id"]):
        return True
    if principal.subject in {str(u) for u in row["shared_users"]}:
        return True
    return bool(principal.roles & set(row["shared_roles"]))


def can_manage(row: dict[str, Any], principal: Principal) -> bool:
    """Deleting and sharing: the owner and admins."""
    return principal.can(WRITE) and (principal.subject == str(row["owner_id"]) or principal.can(ADMIN))


async def record_file(conn: store.Connection, row: dict[str, Any], quota: int, reservation: str | None) -> None:
    """Inside the transaction that makes a file of stored bytes: charge the quota (ending `reservation`), insert
    the row, claim the bytes and put `file.uploaded` on the outbox."""
    await store.charge(conn, row["owner_id"], row["size"], quota, reservation)
    await store.insert_file(conn, row)
    await store.claim(conn, row["storage_key"])
    await add_event(Outbox, "files", "uploaded", {
        "file_id": row["id"], "owner_id": row["owner_id"], "name": row["name"], "size": row["size"],
        "content_type": row["content_type"], "sha256": row["sha256"]})


class NewUpload(msgspec.Struct):
    """What the HTTP side knows of an upload before reading its body."""

    owner: str
    name: str | None
    declared_type: str | None
    length: int | None


class Files:
    """Operations of the files service."""

    def __init__(self, service: FilesService) -> None:
        self.service = service

    @property
    def settings(self) -> FilesSettings:
        """The files service's settings on this node."""
        return self.service.settings

    async def readable(self, file_id: str, principal: Principal | None) -> dict[str, Any]:
        """The row of a file the caller may read; 404 otherwise (whether or not it exists)."""
        row = await store.fetch_file(file_id)
        if row is None or not can_read(row, principal):
            raise NotFoundError("No such file")
        return row

    async def get(self, file_id: str, principal: Principal | None) -> FileInfo:
        """A file's metadata."""
        return to_info(await self.readable(file_id, principal))

    async def list(self, principal: Principal, cursor: str | None, limit: int) -> FilePage:
        """The caller's files, oldest first."""
        after = decode_cursor(cursor) if cursor else None
        rows = await store.list_files(principal.subject, after, limit + 1)
        next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        return FilePage(items=[to_info(r) for r in rows[:limit]], next_cursor=next_cursor)

    async def upload(self, meta: NewUpload, chunks: AsyncIterator[bytes], *,
                     multipart: MultipartFile | None = None) -> FileInfo:
        """Stream a new file into the backend, then record it (row, quota, event) in one transaction.

        A failed or interrupted upload leaves neither a row nor bytes behind."""
        limit, quota = self.settings.max_file_size, self.settings.quota_bytes
        if meta.length is not None and meta.length > limit:
            raise PayloadTooLargeError(f"Files may have at most {limit} bytes")
        file_id = str(uuid.uuid4())
        reservation: str | None = None
        if meta.length is not None:
            reservation = file_id
            await store.reserve(meta.owner, reservation, meta.length, quota, timedelta(hours=6))
            room = meta.length
        else:
            room = await store.remaining(meta.owner, quota)
        key = storage_key(file_id)
        digest = Digest()
        stream = capped(capped(chunks, limit, PayloadTooLargeError(f"Files may have at most {limit} bytes")),
                        room, QuotaExceededError("The upload does not fit in the quota"))
        try:
            await store.intend(key)
            await self._write(key, digest.tap(stream))
            name = clean_name(multipart.filename if multipart is not None else meta.name)
            declared = multipart.content_type if multipart is not None else meta.declared_type
            row = {"id": file_id, "owner_id": meta.owner, "name": name, "size": digest.size, "sha256": digest.hexdigest,
                   "content_type": detect_type(digest.head, name, declared), "storage_key": key}
            await self._commit(row, reservation)
        except BaseException:
            await self._cleanup(key, reservation)
            raise
        self.service.poke_outbox()
        fresh = await store.fetch_file(file_id)
        if fresh is None:
            raise NotFoundError("The file was deleted as it was stored")
        return to_info(fresh)

    async def _write(self, key: str, chunks: AsyncIterator[bytes]) -> None:
        try:
            await self.service.storage.write(key, chunks)
        except BodyTooLargeError as error:
            raise error.error from None
        except BodyIncompleteError:
            raise BadRequestError("The upload ended before the whole body arrived") from None
        except StorageError as error:
            log.error("storage write failed", extra={"key": key, "error": str(error)})
            raise ServiceUnavailableError("The file store is unavailable; nothing was stored") from None

    async def _commit(self, row: dict[str, Any], reservation: str | None) -> None:
        async with store.transaction() as conn:
            await record_file(conn, row, self.settings.quota_bytes, reservation)

    async def _cleanup(self, key: str, reservation: str | None) -> None:
        """Throw away what a failed upload wrote (the sweeper retries if this fails too)."""
        try:
            await self.service.storage.delete(key)
            await store.forget(key)
            if reservation:
                await store.release(reservation)
        except (GravityError, StorageError, OSError) as error:
            log.warning("cleanup after a failed upload deferred", extra={"key": key, "error": repr(error)})

    async def delete(self, file_id: str, principal: Principal) -> None:
        """Delete a file: its row, quota and event in one transaction, then its bytes."""
        async with store.transaction() as conn:
            row = await store.fetch_file(file_id, conn=conn, lock=True)
            if row is None or not can_read(row, principal):
                raise NotFoundError("No such file")
            if not can_manage(row, principal):
                raise ForbiddenError("Only the owner may delete this file")
            await store.delete_file(conn, row)
            await audit.record(AuditLog, "file_deleted", actor=principal.subject, target=file_id,
                               owner=str(row["owner_id"]), name=row["name"], size=row["size"])
            await add_event(Outbox, "files", "deleted", {"file_id": file_id, "owner_id": str(row["owner_id"])})
        self.service.poke_outbox()
        try:
            await self.service.storage.delete(row["storage_key"])
            await store.forget(row["storage_key"])
        except (StorageError, OSError) as error:
            log.warning("bytes of a deleted file left for the sweeper", extra={"error": repr(error)})

    async def share(self, file_id: str, change: SharingUpdate, principal: Principal) -> FileInfo:
        """Change who may read a file (owner or admin)."""
        async with store.transaction() as conn:
            row = await store.fetch_file(file_id, conn=conn, lock=True)
            if row is None or not can_read(row, principal):
                raise NotFoundError("No such file")
            if not can_manage(row, principal):
                raise ForbiddenError("Only the owner may share this file")
            public = row["is_public"] if change.public is msgspec.UNSET else change.public
            users = row["shared_users"] if change.users is msgspec.UNSET else [uuid.UUID(u) for u in change.users]
            roles = row["shared_roles"] if change.roles is msgspec.UNSET else sorted(set(change.roles))
            await conn.execute("UPDATE file SET is_public = $2, shared_users = $3, shared_roles = $4, "
                               "updated_at = now() WHERE id = $1", row["id"], public, list(dict.fromkeys(users)), roles)
            await audit.record(AuditLog, "file_sharing_changed", actor=principal.subject, target=file_id,
                               public=public, users=[str(u) for u in users], roles=roles)
        return to_info(await store.fetch_file(file_id) or row)

    # Signed URLs ----------------------------------------------------------------------------------------------

    def _signature(self, file_id: str, expires: int) -> str:
        key = self.service.node.master_key.derive("files:signed-url")
        mac = hmac.new(key, f"{file_id.lower()}:{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    async def sign(self, file_id: str, principal: Principal, expires_in: int | None) -> tuple[str, datetime]:
        """A URL to the file's bytes that works without a token until it expires."""
        await self.readable(file_id, principal)
        ttl = expires_in or self.settings.signed_url_default_ttl
        if ttl > self.settings.signed_url_max_ttl:
            raise UnprocessableError(f"Signed URLs live at most {self.settings.signed_url_max_ttl} seconds")
        expires = int(time.time()) + ttl
        await audit.record(AuditLog, "file_signed_url", actor=principal.subject, target=file_id, expires=expires)
        base = self.service.node.settings.public_url.rstrip("/")
        url = f"{base}/api/v1/files/{file_id}/content?expires={expires}&signature={self._signature(file_id, expires)}"
        return url, datetime.fromtimestamp(expires, UTC)

    def verify_signature(self, file_id: str, expires: str | None, signature: str) -> None:
        """Accept a signed URL's query or answer 403 (tampered, malformed or expired)."""
        try:
            when = int(expires or "")
        except ValueError:
            raise ForbiddenError("The signed URL is not valid") from None
        if not hmac.compare_digest(self._signature(file_id, when), signature):
            raise ForbiddenError("The signed URL is not valid")
        if when < time.time():
            raise ForbiddenError("The signed URL has expired")
