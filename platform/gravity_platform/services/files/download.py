"""Answering a download: ETag revalidation, a single byte range as a ranged backend read, safe headers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from litestar import Response
from litestar.response import Stream

from gravity_platform.kernel.errors import NotFoundError, ServiceUnavailableError
from gravity_platform.services.files.storage import ObjectMissingError, StorageBackend, StorageError
from gravity_platform.services.files.transfer import content_disposition, parse_range


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match / If-Range list names `etag` (weak comparison, `*` matches anything)."""
    if not header:
        return False
    candidates = [c.strip() for c in header.split(",")]
    return "*" in candidates or etag in {c.removeprefix("W/") for c in candidates}


async def _primed(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Read the first chunk now, so a missing object is an error before any header is sent."""
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = b""
    except ObjectMissingError:
        raise NotFoundError("The file's bytes are missing") from None
    except StorageError:
        raise ServiceUnavailableError("The file store is unavailable") from None

    async def body() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk

    return body()


async def content_response(storage: StorageBackend, row: dict[str, Any], headers: Mapping[str, str],
                           range_header: str | None) -> Response[Any]:
    """The response carrying a file's bytes (or 206 with a part of them, or 304)."""
    size: int = row["size"]
    etag = f'"{row["sha256"]}"'
    common = {
        "ETag": etag, "Accept-Ranges": "bytes", "Content-Disposition": content_disposition(row["name"]),
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox",
        "Cache-Control": "public, no-cache" if row["is_public"] else "private, no-cache",
    }
    if etag_matches(headers.get("if-none-match"), etag):
        return Response(b"", status_code=304, headers=common)
    if_range = headers.get("if-range")
    wanted = parse_range(range_header, size) if not if_range or etag_matches(if_range, etag) else None
    start, length, status = 0, size, 200
    if wanted is not None:
        start, length, status = wanted[0], wanted[1] - wanted[0] + 1, 206
        common["Content-Range"] = f"bytes {wanted[0]}-{wanted[1]}/{size}"
    common["Content-Length"] = str(length)
    if length == 0:
        return Response(b"", status_code=status, headers=common, media_type=row["content_type"])
    body = await _primed(storage.read(row["storage_key"], start, length))
    return Stream(body, status_code=status, headers=common, media_type=row["content_type"])
