"""The background sweep: bytes no file row claims, resumable uploads past their expiry (with their bytes, staged or,
for complete partial uploads, finished objects), stale reservations, final uploads no longer remembered.

Several nodes may sweep at once: each takes its rows with FOR UPDATE SKIP LOCKED."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from gravity_platform.kernel.db import CONNECTION_ERRORS
from gravity_platform.services.files import store
from gravity_platform.services.files.resumable import discard_bytes
from gravity_platform.services.files.storage import StorageError

if TYPE_CHECKING:
    from gravity_platform.services.files.plugin import FilesService

log = logging.getLogger("gravity.files")

BATCH = 100


class Sweeper:
    """Runs `sweep` every `interval` seconds until stopped."""

    def __init__(self, service: FilesService, interval: float = 60.0) -> None:
        self.service = service
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Sweep in the background."""
        self._task = asyncio.create_task(self._run(), name="files-sweeper")

    async def stop(self) -> None:
        """Stop sweeping."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sweep()
            except CONNECTION_ERRORS as error:
                log.warning("files sweep waiting for the database", extra={"error": str(error)})
            except Exception:
                log.exception("files sweep failed")

    async def sweep(self) -> int:
        """One pass; returns how many things it removed."""
        storage = self.service.storage
        removed = 0
        async with store.transaction() as conn:
            rows = await conn.fetch("SELECT storage_key FROM garbage WHERE collect_after < now() "
                                    "ORDER BY collect_after LIMIT $1 FOR UPDATE SKIP LOCKED", BATCH)
            for row in rows:
                try:
                    await storage.delete(row["storage_key"])
                except (StorageError, OSError) as error:
                    log.warning("could not delete garbage bytes", extra={"error": repr(error)})
                    continue
                await conn.execute("DELETE FROM garbage WHERE storage_key = $1", row["storage_key"])
                removed += 1
        async with store.transaction() as conn:
            uploads = await conn.fetch(
                'SELECT id, storage_key, handle, partial, length, "offset" FROM upload WHERE expires_at < now() '
                "AND (lease_until IS NULL OR lease_until < now()) LIMIT $1 FOR UPDATE SKIP LOCKED", BATCH)
            for upload in uploads:
                try:
                    await discard_bytes(storage, dict(upload))
                except (StorageError, OSError) as error:
                    log.warning("could not abort an expired upload", extra={"error": repr(error)})
                    continue
                await conn.execute("DELETE FROM upload WHERE id = $1", upload["id"])
                await conn.execute("DELETE FROM reservation WHERE id = $1", upload["id"])
                removed += 1
            await conn.execute("DELETE FROM reservation WHERE expires_at < now()")
            await conn.execute("DELETE FROM final_upload WHERE expires_at < now()")
        return removed
