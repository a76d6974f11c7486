"""Where file bytes live: the storage backend interface (`gravity_storage_backend` hook) and its errors.

Keys are opaque strings the files service chooses (never a user's file name): ASCII letters, digits, `-`, `_`, `.`
and `/` separating segments, never a `..` segment (files live under `f/`; a tus PATCH carrying `Upload-Checksum` is
staged for a moment under `tus/<upload>/` before it is appended). Every method streams: no backend ever holds a
whole object in memory."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Protocol, runtime_checkable


class StorageError(RuntimeError):
    """The backend failed (unreachable, refused, corrupt state); the files service answers 503."""


class ObjectMissingError(StorageError):
    """The key is not in the store."""


@runtime_checkable
class StorageBackend(Protocol):
    """A place to keep file bytes: local disk, S3, ...

    Resumable (tus) uploads arrive in pieces over several requests, possibly on different nodes, so their
    progress lives in a `handle`: a string the backend returns and the files service stores with the upload
    and passes back on the next call (for local disk a staging path, for S3 the multipart upload state).

    An exception raised by the `chunks` iterable passed to `write` means the upload failed: the backend
    stores nothing (an earlier object under the key stays as it was) and lets the exception propagate."""

    name: str

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store the object `key` from `chunks` (replacing any earlier one); return the number of bytes written."""
        ...

    def read(self, key: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """Stream `length` bytes (all to the end when None) of `key` from offset `start`, as a ranged read.

        Raises ObjectMissingError (on first iteration at the latest) when the key is unknown."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error."""
        ...

    async def size(self, key: str) -> int | None:
        """The stored size of `key`, or None when it is missing."""
        ...

    async def begin_upload(self, key: str) -> str:
        """Start a resumable upload that will become `key`; return its first handle."""
        ...

    async def append_upload(self, key: str, handle: str, offset: int, chunks: AsyncIterable[bytes]) -> tuple[str, int]:
        """Append `chunks` at `offset` (the bytes received so far); return the new handle and the new offset.

        If the stream breaks midway (`chunks` raises: the client went away, or sent more than the upload's
        length), whatever was durably stored counts: do not propagate that exception, return the offset of what
        was kept, and the client resumes from there (tus semantics). Raise StorageError only when nothing can be
        kept."""
        ...

    async def complete_upload(self, key: str, handle: str) -> None:
        """Turn a finished resumable upload into the object `key`."""
        ...

    async def abort_upload(self, key: str, handle: str) -> None:
        """Throw away an unfinished resumable upload and anything it staged."""
        ...

    async def close(self) -> None:
        """Release connections and files; called when the node stops."""
        ...
