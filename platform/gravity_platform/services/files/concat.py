"""The tus concatenation extension: partial uploads (`Upload-Concat: partial`, resumable uploads that stay once
complete) and final uploads (`Upload-Concat: final;<url> <url> ...`) whose bytes are their partials' bytes in order.

A final upload is made at once, so every partial it names must be complete: their objects are streamed, one after
the other, into the final's object through the storage backend (hashed on the way, nothing held in memory); then
one transaction turns the final into a file and ends the partials (rows and quota reservations; their objects become
garbage). A failure before that transaction leaves the partials as they were and no final object or row."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gravity_platform.kernel.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    GravityError,
    NotFoundError,
    PayloadTooLargeError,
    ServiceUnavailableError,
)
from gravity_platform.services.files import store
from gravity_platform.services.files.resumable import LEASE, renewing
from gravity_platform.services.files.services import record_file, storage_key
from gravity_platform.services.files.storage import StorageBackend, StorageError
from gravity_platform.services.files.transfer import Digest, clean_name, detect_type

if TYPE_CHECKING:
    from gravity_platform.services.files.plugin import FilesService

log = logging.getLogger("gravity.files")

_UPLOAD_PATH = re.compile(r"^/api/v1/files/tus/([^/?#]+)/?$")
_SELECT_PARTIALS = ('SELECT id, length, "offset", storage_key, partial FROM upload '
                    "WHERE id = ANY($1) AND owner_id = $2 AND expires_at > now()")
_LEASE_PARTIALS = ("UPDATE upload SET lease_until = now() + $3::interval WHERE id = ANY($1) AND owner_id = $2 "
                   "AND (lease_until IS NULL OR lease_until < now()) RETURNING id")
_SELECT_FINAL = ("SELECT final_upload.parts, file.size FROM final_upload JOIN file ON file.id = final_upload.id "
                 "WHERE final_upload.id = $1 AND final_upload.owner_id = $2 AND final_upload.expires_at > now()")

_SELECT_MADE = ("SELECT final_upload.id, file.size FROM final_upload JOIN file ON file.id = final_upload.id "
                "WHERE final_upload.owner_id = $1 AND final_upload.parts = $2 AND final_upload.expires_at > now()")


def _parts(ids: list[Any]) -> str:
    """How a final upload remembers its partials: their upload paths, space-separated, in order."""
    return " ".join(f"/api/v1/files/tus/{upload_id}" for upload_id in ids)


def final_parts(header: str) -> list[str]:
    """The upload URLs (absolute or paths) an `Upload-Concat: final;<url> <url> ...` names, in order; 400 unless
    the header has that shape and names each upload once."""
    kind, _, rest = header.strip().partition(";")
    urls = rest.split()
    if kind.strip() != "final" or not urls:
        raise BadRequestError("Upload-Concat must be 'partial' or 'final;<upload URL> <upload URL> ...'")
    if len(set(map(upload_id_of, urls))) != len(urls):
        raise BadRequestError("Upload-Concat names a partial upload more than once")
    return urls


def upload_id_of(url: str) -> str:
    """The upload ID at the end of one of this server's tus upload URLs; 400 for any other URL."""
    match = _UPLOAD_PATH.match(urlsplit(url).path)
    if match is None:
        raise BadRequestError(f"{url!r} is not an upload URL of this server (/api/v1/files/tus/<id>)")
    return match.group(1)


def _as_uuid(upload_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(upload_id)
    except ValueError:
        return None


def _check(urls: list[str], ids: list[uuid.UUID | None], rows: dict[uuid.UUID, dict[str, Any]]) -> None:
    """Each URL must name one of the caller's complete partial uploads."""
    for url, upload_id in zip(urls, ids, strict=True):
        row = rows.get(upload_id) if upload_id is not None else None
        if row is None:
            raise NotFoundError(f"No such upload: {url}")
        if not row["partial"]:
            raise BadRequestError(f"{url} is not a partial upload (created with Upload-Concat: partial)")
        if row["offset"] != row["length"]:
            raise BadRequestError(f"The partial upload {url} is not complete: it holds {row['offset']} of "
                                  f"{row['length']} bytes")


async def _chain(storage: StorageBackend, rows: list[dict[str, Any]]) -> AsyncIterator[bytes]:
    """The partials' objects, one after the other."""
    for row in rows:
        async for chunk in storage.read(row["storage_key"]):
            yield chunk


class Concatenation:
    """Final uploads of the files service (tus concatenation)."""

    def __init__(self, service: FilesService) -> None:
        self.service = service

    async def _take(self, owner: str, urls: list[str]) -> list[dict[str, Any]]:
        """The partials the URLs name, in order, leased to this request (404/400 as `_check` says, 413 when
        together they exceed the per-file limit, 409 when another request holds one)."""
        ids = [_as_uuid(upload_id_of(url)) for url in urls]
        known = [upload_id for upload_id in ids if upload_id is not None]
        async with store.transaction() as conn:
            found = {row["id"]: dict(row) for row in await conn.fetch(_SELECT_PARTIALS, known, uuid.UUID(owner))}
            _check(urls, ids, found)
            total = sum(row["length"] for row in found.values())
            if total > self.service.settings.max_file_size:
                raise PayloadTooLargeError(f"The partial uploads hold {total} bytes; files may have at most "
                                           f"{self.service.settings.max_file_size}")
            leased = await conn.fetch(_LEASE_PARTIALS, known, uuid.UUID(owner), LEASE)
            if len(leased) != len(known):
                raise ConflictError("Another request is using one of these partial uploads")
        return [found[upload_id] for upload_id in known]

    async def create(self, owner: str, urls: list[str], metadata: dict[str, str]) -> tuple[str, int]:
        """Make the final upload of the partial uploads at `urls` into a file; return its ID and size. The same
        request again, after its answer was lost (e.g. a gateway's timeout on a long join), gets the same final."""
        made = await self._made_before(owner, urls)
        if made is not None:
            return made
        partials = await self._take(owner, urls)
        ids = [row["id"] for row in partials]
        final_id = str(uuid.uuid4())
        key = storage_key(final_id)
        storage = self.service.storage
        digest = Digest()
        try:
            await store.intend(key)
            await storage.write(key, digest.tap(renewing(ids, _chain(storage, partials))))
            if digest.size != sum(row["length"] for row in partials):
                raise ServiceUnavailableError("The file store returned partial uploads of the wrong size",
                                              headers={"Retry-After": "5"})
            name = clean_name(metadata.get("filename") or metadata.get("name"))
            declared = metadata.get("filetype") or metadata.get("content_type") or metadata.get("type")
            file = {"id": final_id, "owner_id": owner, "name": name, "size": digest.size, "sha256": digest.hexdigest,
                    "content_type": detect_type(digest.head, name, declared), "storage_key": key}
            await self._commit(file, partials, _parts(ids))
        except BaseException:
            await self._undo(key, ids)
            raise
        self.service.poke_outbox()
        await self._drop_partials(partials)
        return final_id, digest.size

    async def _commit(self, file: dict[str, Any], partials: list[dict[str, Any]], parts: str) -> None:
        """One transaction: the partials end (their reservations replaced by the file's charge, their objects now
        garbage), the file is recorded and the final upload remembered."""
        ids = [row["id"] for row in partials]
        ttl = timedelta(seconds=self.service.settings.tus_upload_ttl)
        async with store.transaction() as conn:
            ended = await conn.fetch("DELETE FROM upload WHERE id = ANY($1) RETURNING id", ids)
            if len(ended) != len(ids):
                raise ConflictError("A partial upload was terminated while it was being concatenated")
            await conn.execute("DELETE FROM reservation WHERE id = ANY($1)", ids)
            await record_file(conn, file, self.service.settings.quota_bytes, None)
            for row in partials:
                await store.discard(conn, row["storage_key"])
            await conn.execute("INSERT INTO final_upload (id, owner_id, parts, expires_at) "
                               "VALUES ($1, $2, $3, now() + $4::interval)",
                               uuid.UUID(file["id"]), uuid.UUID(file["owner_id"]), parts, ttl)

    async def _undo(self, key: str, ids: list[uuid.UUID]) -> None:
        """After a failed concatenation: no final object, and the partials free for another try."""
        try:
            await self.service.storage.delete(key)
            await store.forget(key)
            async with store.transaction() as conn:
                await conn.execute("UPDATE upload SET lease_until = NULL WHERE id = ANY($1)", ids)
        except (GravityError, StorageError, OSError) as error:
            log.warning("cleanup after a failed concatenation deferred", extra={"key": key, "error": repr(error)})

    async def _drop_partials(self, partials: list[dict[str, Any]]) -> None:
        """Delete the objects of concatenated partials now (the sweeper does it later if this fails)."""
        for row in partials:
            try:
                await self.service.storage.delete(row["storage_key"])
                await store.forget(row["storage_key"])
            except (StorageError, OSError) as error:
                log.warning("bytes of a concatenated partial upload left for the sweeper",
                            extra={"key": row["storage_key"], "error": repr(error)})

    async def _made_before(self, owner: str, urls: list[str]) -> tuple[str, int] | None:
        """The ID and size of the final upload `owner` already made of exactly these partials, in this order."""
        ids = [_as_uuid(upload_id_of(url)) for url in urls]
        if None in ids:
            return None
        async with store.transaction() as conn:
            row = await conn.fetchrow(_SELECT_MADE, uuid.UUID(owner), _parts(ids))
        return (str(row["id"]), int(row["size"])) if row is not None else None

    async def final(self, upload_id: str, owner: str) -> dict[str, Any] | None:
        """A final upload of `owner` still remembered (`parts`, the partials' URLs, and its file's `size`)."""
        key = _as_uuid(upload_id)
        if key is None:
            return None
        async with store.transaction() as conn:
            row = await conn.fetchrow(_SELECT_FINAL, key, uuid.UUID(owner))
        return dict(row) if row is not None else None

    async def refuse_final(self, upload_id: str, owner: str) -> None:
        """403 when `upload_id` is one of `owner`'s final uploads: its bytes are its partials', it takes none."""
        if await self.final(upload_id, owner) is not None:
            raise ForbiddenError("A final upload (tus concatenation) takes no PATCH: its bytes are its partials'")
