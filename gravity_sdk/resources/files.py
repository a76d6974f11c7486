"""``client.files``: streamed uploads and downloads, listing, sharing, signed URLs.

Bodies stream both ways, a chunk at a time: uploading or downloading a file of any size takes little memory.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import NoneType
from typing import IO, Any, TypeAlias

import httpx2

from .._base_client import AsyncAPIClient, SyncAPIClient
from .._constants import USER_AGENT
from .._exceptions import GravityError, make_status_error
from .._pagination import AsyncPaginator, SyncCursorPage
from .._request import connection_error, decode_response
from .._resource import APIResource, ClientT, path_id
from .._types import NOT_GIVEN, NotGiven, TimeoutTypes, strip_not_given
from ..types.file import File, SignedUrl

__all__ = ["AsyncFiles", "Files", "Progress", "UploadSource"]

_FILES = "/api/v1/files"
CHUNK_SIZE = 1024 * 1024

Progress: TypeAlias = Callable[[int, "int | None"], None]
"""Called as bytes move: ``progress(done, total)``; ``total`` is None when the size is not known."""
UploadSource: TypeAlias = "str | os.PathLike[str] | bytes | IO[bytes]"
"""A path, the bytes themselves, or a binary stream opened for reading."""


class _Source:
    """An upload source: its name, its size when known, and its chunks (re-readable unless a one-way stream)."""

    def __init__(self, source: UploadSource, name: str | None) -> None:
        self._source = source
        self.path = Path(source) if isinstance(source, str | os.PathLike) else None
        if isinstance(source, bytes):
            self.size: int | None = len(source)
        elif self.path is not None:
            self.size = self.path.stat().st_size
        else:
            self.size = _stream_size(source)
        self.rereadable = isinstance(source, bytes) or self.path is not None
        """Whether the bytes can be sent a second time (after a token refresh)."""
        stream_name = getattr(source, "name", None)
        fallback = self.path.name if self.path else (os.path.basename(stream_name) if isinstance(stream_name, str)
                                                     else "file")
        self.name = name or fallback

    def chunks(self, progress: Progress | None) -> Iterator[bytes]:
        done = 0
        for chunk in self._raw_chunks():
            done += len(chunk)
            yield chunk
            if progress is not None:
                progress(done, self.size)

    def _raw_chunks(self) -> Iterator[bytes]:
        if isinstance(self._source, bytes):
            for start in range(0, len(self._source), CHUNK_SIZE):
                yield self._source[start:start + CHUNK_SIZE]
        elif self.path is not None:
            with self.path.open("rb") as handle:
                yield from iter(lambda: handle.read(CHUNK_SIZE), b"")
        else:
            stream: IO[bytes] = self._source  # type: ignore[assignment]
            yield from iter(lambda: stream.read(CHUNK_SIZE), b"")

    async def achunks(self, progress: Progress | None) -> AsyncIterator[bytes]:
        iterator = self.chunks(progress)
        while True:
            chunk = await asyncio.to_thread(next, iterator, None)
            if chunk is None:
                return
            yield chunk


def _stream_size(stream: Any) -> int | None:
    try:
        size: int = os.fstat(stream.fileno()).st_size - stream.tell()
        return size
    except (AttributeError, OSError, ValueError):
        return None


class _Download:
    """Where downloaded bytes go: a path (written to ``<path>.part``, renamed when complete) or a stream."""

    def __init__(self, to: str | os.PathLike[str] | IO[bytes]) -> None:
        self.path = Path(to) if isinstance(to, str | os.PathLike) else None
        self._partial = self.path.with_name(self.path.name + ".part") if self.path else None
        self._stream: IO[bytes] | None = None if self.path else to  # type: ignore[assignment]
        self.digest = hashlib.sha256()
        self.written = 0

    def __enter__(self) -> _Download:
        if self._partial is not None:
            self._stream = self._partial.open("wb")
        return self

    def write(self, chunk: bytes) -> None:
        assert self._stream is not None
        self._stream.write(chunk)
        self.digest.update(chunk)
        self.written += len(chunk)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._partial is None or self._stream is None:
            return
        self._stream.close()
        if exc_type is None:
            os.replace(self._partial, self.path)  # type: ignore[arg-type]
        else:
            self._partial.unlink(missing_ok=True)

    def check(self, etag: str | None) -> None:
        expected = (etag or "").strip('"')
        if len(expected) == 64 and expected != self.digest.hexdigest():
            raise GravityError("The downloaded bytes do not match the file's checksum")


def _headers(token: str | None, extra: dict[str, str]) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*", **extra}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _upload_headers(source: _Source, content_type: str | None) -> dict[str, str]:
    headers = {"Content-Type": content_type or "application/octet-stream"}
    if source.size is not None:
        headers["Content-Length"] = str(source.size)
    return headers


class _FilesBase(APIResource[ClientT]):
    @staticmethod
    def _file_path(file_id: str) -> str:
        return f"{_FILES}/{path_id(file_id)}"

    def _timeout(self, timeout: TimeoutTypes | NotGiven) -> TimeoutTypes:
        return self._client.timeout if isinstance(timeout, NotGiven) else timeout


class Files(_FilesBase[SyncAPIClient]):
    """Files: upload and download (streamed), list your own, share, sign URLs, delete."""

    def upload(self, file: UploadSource, *, name: str | None = None, content_type: str | None = None,
               progress: Progress | None = None, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> File:
        """Upload a path, bytes or a binary stream; ``progress(done, total)`` is called as it goes."""
        source = _Source(file, name)

        def build(token: str | None) -> httpx2.Request:
            return self._client._client.build_request(
                "POST", f"{self._client.base_url}{_FILES}", params={"name": source.name},
                headers=_headers(token, _upload_headers(source, content_type)), content=source.chunks(progress),
                timeout=self._timeout(timeout))

        return decode_response(self._exchange(build, timeout, resend=source.rereadable), File)

    def download(self, file_id: str, *, to: str | os.PathLike[str] | IO[bytes], progress: Progress | None = None,
                 timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> int:
        """Stream a file's bytes to a path (written whole or not at all) or a binary stream; returns the byte
        count. The bytes are checked against the file's SHA-256."""
        url = f"{self._client.base_url}{self._file_path(file_id)}/content"

        def build(token: str | None) -> httpx2.Request:
            return self._client._client.build_request("GET", url, headers=_headers(token, {}),
                                                      timeout=self._timeout(timeout))

        response = self._exchange(build, timeout, stream=True)
        try:
            total = int(response.headers["content-length"]) if "content-length" in response.headers else None
            with _Download(to) as target:
                for chunk in response.iter_bytes(CHUNK_SIZE):
                    target.write(chunk)
                    if progress is not None:
                        progress(target.written, total)
                target.check(response.headers.get("etag"))
        finally:
            response.close()
        return target.written

    def _exchange(self, build: Callable[[str | None], httpx2.Request], timeout: TimeoutTypes | NotGiven, *,
                  stream: bool = False, resend: bool = True) -> httpx2.Response:
        """Send with a fresh token; after a 401, refresh and send once more when the body can be sent again."""
        client = self._client
        client._refresher.ensure_fresh(timeout)
        token = client._token_store.access_token
        response = self._send(build(token), stream)
        if response.status_code == 401 and resend and client._refresher.recover_from_401(token, timeout):
            response.close()
            response = self._send(build(client._token_store.access_token), stream)
        if not response.is_success:
            response.read()
            response.close()
            raise make_status_error(response)
        return response

    def _send(self, request: httpx2.Request, stream: bool) -> httpx2.Response:
        try:
            return self._client._client.send(request, stream=stream)
        except httpx2.TransportError as exc:
            raise connection_error(request, exc) from exc

    def get(self, file_id: str, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> File:
        """A file's metadata."""
        return self._client.request(File, "GET", self._file_path(file_id), timeout=timeout)

    def list(self, *, limit: int | NotGiven = NOT_GIVEN, cursor: str | NotGiven = NOT_GIVEN,
             timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> SyncCursorPage[File]:
        """Your files, oldest first; iterate the result for every one (pages are fetched as needed)."""
        params = strip_not_given({"limit": limit, "cursor": cursor})
        return self._client.get_page(_FILES, File, params=params, timeout=timeout)

    def share(self, file_id: str, *, users: builtins.list[str] | NotGiven = NOT_GIVEN,
              roles: builtins.list[str] | NotGiven = NOT_GIVEN, public: bool | NotGiven = NOT_GIVEN,
              timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> File:
        """Set who may read the file besides you (user IDs, roles, everyone); what is left out stays."""
        body = strip_not_given({"users": users, "roles": roles, "public": public})
        return self._client.request(File, "PATCH", f"{self._file_path(file_id)}/sharing", json=body,
                                    timeout=timeout)

    def signed_url(self, file_id: str, *, expires_in: int | NotGiven = NOT_GIVEN,
                   timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> SignedUrl:
        """A URL that downloads the file without a token until it expires (``expires_in`` seconds)."""
        return self._client.request(SignedUrl, "POST", f"{self._file_path(file_id)}/signed-url",
                                    json=strip_not_given({"expires_in": expires_in}), timeout=timeout)

    def delete(self, file_id: str, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> None:
        """Delete a file."""
        self._client.request(NoneType, "DELETE", self._file_path(file_id), timeout=timeout)


class AsyncFiles(_FilesBase[AsyncAPIClient]):
    """Files: upload and download (streamed), list your own, share, sign URLs, delete."""

    async def upload(self, file: UploadSource, *, name: str | None = None, content_type: str | None = None,
                     progress: Progress | None = None, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> File:
        """Upload a path, bytes or a binary stream; ``progress(done, total)`` is called as it goes."""
        source = _Source(file, name)

        def build(token: str | None) -> httpx2.Request:
            return self._client._client.build_request(
                "POST", f"{self._client.base_url}{_FILES}", params={"name": source.name},
                headers=_headers(token, _upload_headers(source, content_type)), content=source.achunks(progress),
                timeout=self._timeout(timeout))

        return decode_response(await self._exchange(build, timeout, resend=source.rereadable), File)

    async def download(self, file_id: str, *, to: str | os.PathLike[str] | IO[bytes],
                       progress: Progress | None = None, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> int:
        """Stream a file's bytes to a path (written whole or not at all) or a binary stream; returns the byte
        count. The bytes are checked against the file's SHA-256."""
        url = f"{self._client.base_url}{self._file_path(file_id)}/content"

        def build(token: str | None) -> httpx2.Request:
            return self._client._client.build_request("GET", url, headers=_headers(token, {}),
                                                      timeout=self._timeout(timeout))

        response = await self._exchange(build, timeout, stream=True)
        try:
            total = int(response.headers["content-length"]) if "content-length" in response.headers else None
            with _Download(to) as target:
                async for chunk in response.aiter_bytes(CHUNK_SIZE):
                    await asyncio.to_thread(target.write, chunk)
                    if progress is not None:
                        progress(target.written, total)
                target.check(response.headers.get("etag"))
        finally:
            await response.aclose()
        return target.written

    async def _exchange(self, build: Callable[[str | None], httpx2.Request], timeout: TimeoutTypes | NotGiven, *,
                        stream: bool = False, resend: bool = True) -> httpx2.Response:
        """Send with a fresh token; after a 401, refresh and send once more when the body can be sent again."""
        client = self._client
        await client._refresher.ensure_fresh(timeout)
        token = client._token_store.access_token
        response = await self._send(build(token), stream)
        if response.status_code == 401 and resend and await client._refresher.recover_from_401(token, timeout):
            await response.aclose()
            response = await self._send(build(client._token_store.access_token), stream)
        if not response.is_success:
            await response.aread()
            await response.aclose()
            raise make_status_error(response)
        return response

    async def _send(self, request: httpx2.Request, stream: bool) -> httpx2.Response:
        try:
            return await self._client._client.send(request, stream=stream)
        except httpx2.TransportError as exc:
            raise connection_error(request, exc) from exc

    async def get(self, file_id: str, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> File:
        """A file's metadata."""
        return await self._client.request(File, "GET", self._file_path(file_id), timeout=timeout)

    def list(self, *, limit: int | NotGiven = NOT_GIVEN, cursor: str | NotGiven = NOT_GIVEN,
             timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> AsyncPaginator[File]:
        """Your files, oldest first; ``async for`` over the result for every one."""
        params = strip_not_given({"limit": limit, "cursor": cursor})
        return self._client.get_page(_FILES, File, params=params, timeout=timeout)

    async def share(self, file_id: str, *, users: builtins.list[str] | NotGiven = NOT_GIVEN,
                    roles: builtins.list[str] | NotGiven = NOT_GIVEN, public: bool | NotGiven = NOT_GIVEN,
                    timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> File:
        """Set who may read the file besides you (user IDs, roles, everyone); what is left out stays."""
        body = strip_not_given({"users": users, "roles": roles, "public": public})
        return await self._client.request(File, "PATCH", f"{self._file_path(file_id)}/sharing", json=body,
                                          timeout=timeout)

    async def signed_url(self, file_id: str, *, expires_in: int | NotGiven = NOT_GIVEN,
                         timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> SignedUrl:
        """A URL that downloads the file without a token until it expires (``expires_in`` seconds)."""
        return await self._client.request(SignedUrl, "POST", f"{self._file_path(file_id)}/signed-url",
                                          json=strip_not_given({"expires_in": expires_in}), timeout=timeout)

    async def delete(self, file_id: str, *, timeout: TimeoutTypes | NotGiven = NOT_GIVEN) -> None:
        """Delete a file."""
        await self._client.request(NoneType, "DELETE", self._file_path(file_id), timeout=timeout)
