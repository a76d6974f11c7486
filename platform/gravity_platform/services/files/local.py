"""The local-disk storage backend: objects as files under one root, written atomically (temp file, fsync, rename)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

from gravity_platform.services.files.storage import ObjectMissingError, StorageError

READ_CHUNK = 256 * 1024
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
_HANDLE = re.compile(r"^uploads/[0-9a-f]{32}\.part$")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage:
    """Objects under `root/objects`, staged uploads under `root/uploads`, partial writes under `root/tmp`.

    One node's disk: a cluster whose files service runs on several hosts needs shared storage (S3)."""

    name = "local"

    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = Path(root).resolve()
        self.fsync = fsync
        for folder in ("objects", "uploads", "tmp"):
            (self.root / folder).mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key) or ".." in key.split("/"):
            raise StorageError(f"invalid storage key {key!r}")
        return self.root / "objects" / key

    def _staging(self, handle: str) -> Path:
        if not _HANDLE.match(handle):
            raise StorageError("invalid upload handle")
        return self.root / handle

    def _sync(self, handle: BinaryIO) -> None:
        handle.flush()
        if self.fsync:
            os.fsync(handle.fileno())

    def _publish(self, source: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        if self.fsync:
            _fsync_dir(target.parent)

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store `key` from `chunks`: nothing becomes visible unless every chunk arrived."""
        target = self._path(key)
        temporary = self.root / "tmp" / f"{uuid.uuid4().hex}.part"
        written = 0
        try:
            handle = await anyio.to_thread.run_sync(open, temporary, "wb")
            try:
                async for chunk in chunks:
                    await anyio.to_thread.run_sync(handle.write, chunk)
                    written += len(chunk)
                await anyio.to_thread.run_sync(self._sync, handle)
            finally:
                await anyio.to_thread.run_sync(handle.close)
            await anyio.to_thread.run_sync(self._publish, temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return written

    async def read(self, key: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """Stream a byte range of `key` from disk."""
        path = self._path(key)
        try:
            handle = await anyio.to_thread.run_sync(open, path, "rb")
        except FileNotFoundError:
            raise ObjectMissingError(key) from None
        try:
            await anyio.to_thread.run_sync(handle.seek, start)
            remaining = length
            while remaining is None or remaining > 0:
                size = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
                chunk = await anyio.to_thread.run_sync(handle.read, size)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            await anyio.to_thread.run_sync(handle.close)

    async def delete(self, key: str) -> None:
        """Remove `key` if present."""
        await anyio.to_thread.run_sync(lambda: self._path(key).unlink(missing_ok=True))

    async def size(self, key: str) -> int | None:
        """The size of `key` on disk, or None."""
        try:
            stat = await anyio.to_thread.run_sync(self._path(key).stat)
        except FileNotFoundError:
            return None
        return stat.st_size

    async def begin_upload(self, key: str) -> str:
        """Create an empty staging file; its path (relative to the root) is the handle."""
        self._path(key)
        handle = f"uploads/{uuid.uuid4().hex}.part"
        await anyio.to_thread.run_sync(lambda: self._staging(handle).touch(mode=0o600))
        return handle

    async def append_upload(self, key: str, handle: str, offset: int, chunks: AsyncIterable[bytes]) -> tuple[str, int]:
        """Write `chunks` at `offset`; bytes that arrived before the stream broke are kept (fsynced)."""
        path = self._staging(handle)
        try:
            staged = await anyio.to_thread.run_sync(open, path, "r+b")
        except FileNotFoundError:
            raise StorageError("the staged upload is gone") from None
        try:
            size = await anyio.to_thread.run_sync(lambda: os.fstat(staged.fileno()).st_size)
            if size < offset:
                raise StorageError(f"the staged upload holds {size} bytes, fewer than the offset {offset}")
            await anyio.to_thread.run_sync(staged.truncate, offset)
            await anyio.to_thread.run_sync(staged.seek, offset)
            position = offset
            iterator = aiter(chunks)
            while True:
                try:
                    chunk = await anext(iterator)
                except StopAsyncIteration:
                    break
                except Exception:  # the sender went away: what arrived is kept (tus semantics)
                    break
                await anyio.to_thread.run_sync(staged.write, chunk)
                position += len(chunk)
            await anyio.to_thread.run_sync(self._sync, staged)
        finally:
            await anyio.to_thread.run_sync(staged.close)
        return handle, position

    async def complete_upload(self, key: str, handle: str) -> None:
        """Move the staged file into place as `key`."""
        await anyio.to_thread.run_sync(self._publish, self._staging(handle), self._path(key))

    async def abort_upload(self, key: str, handle: str) -> None:
        """Delete the staged file."""
        await anyio.to_thread.run_sync(lambda: self._staging(handle).unlink(missing_ok=True))

    async def close(self) -> None:
        """Nothing to release."""
