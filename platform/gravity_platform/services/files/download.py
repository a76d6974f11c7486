"""Answering a download (GET) or its HEAD: ETag revalidation, a single byte range as a ranged backend read, safe
headers. A HEAD answers exactly the status and headers the GET would, asking the backend only whether the bytes
exist."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
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


def unmodified_since(header: str | None, modified: dt.datetime) -> bool:
    """Whether an If-Modified-Since date is at or after `modified` (to the second); False for a bad date."""
    if not header:
        return False
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        return False  # not an HTTP-date (those are GMT)
    return modified.replace(microsecond=0) <= since


@dataclass(frozen=True)
class Answer:
    """What a download answers, decided from the file's row and the request headers alone."""

    status: int
    headers: dict[str, str]
    start: int = 0
    length: int = 0


def plan(row: dict[str, Any], headers: Mapping[str, str], range_header: str | None) -> Answer:
    """The status, headers and byte span of the answer: 304 for a matching If-None-Match (or, without one, an
    If-Modified-Since at or after the file's creation, its Last-Modified), 206 for a satisfiable
    Range (unless If-Range names another version), else 200; RangeNotSatisfiableError (416) for an unsatisfiable
    one. Content-Type is a header here (not Litestar's media type, which would append a second charset)."""
    size: int = row["size"]
    etag = f'"{row["sha256"]}"'
    common = {
        "ETag": etag, "Accept-Ranges": "bytes", "Content-Disposition": content_disposition(row["name"]),
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox",
        "Cache-Control": "public, no-cache" if row["is_public"] else "private, no-cache",
    }
    created: dt.datetime = row["created_at"]  # a file's bytes never change after it is created
    common["Last-Modified"] = format_datetime(created.astimezone(dt.UTC), usegmt=True)
    if_none_match = headers.get("if-none-match")
    if etag_matches(if_none_match, etag) or (if_none_match is None and
                                             unmodified_since(headers.get("if-modified-since"), created)):
        return Answer(304, common)
    if_range = headers.get("if-range")
    wanted = parse_range(range_header, size) if not if_range or etag_matches(if_range, etag) else None
    start, length, status = 0, size, 200
    if wanted is not None:
        start, length, status = wanted[0], wanted[1] - wanted[0] + 1, 206
        common["Content-Range"] = f"bytes {wanted[0]}-{wanted[1]}/{size}"
    common["Content-Length"] = str(length)
    common["Content-Type"] = row["content_type"]
    return Answer(status, common, start, length)


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
    answer = plan(row, headers, range_header)
    if answer.status == 304 or answer.length == 0:
        return Response(b"", status_code=answer.status, headers=answer.headers)
    body = await _primed(storage.read(row["storage_key"], answer.start, answer.length))
    return Stream(body, status_code=answer.status, headers=answer.headers)


async def head_response(storage: StorageBackend, row: dict[str, Any], headers: Mapping[str, str],
                        range_header: str | None) -> Response[None]:
    """The HEAD of a download: the GET's status and headers, no body, and no read of the bytes (only a check that
    they exist, so a HEAD is 404 exactly when the GET would be)."""
    answer = plan(row, headers, range_header)
    if answer.status != 304 and answer.length > 0:
        try:
            stored = await storage.size(row["storage_key"])
        except StorageError:
            raise ServiceUnavailableError("The file store is unavailable") from None
        if stored is None:
            raise NotFoundError("The file's bytes are missing")
    return Response(None, status_code=answer.status, headers=answer.headers)
