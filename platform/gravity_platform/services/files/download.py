"""Answering a download (GET) or its HEAD: ETag revalidation; byte ranges, each a ranged backend read (several
in one `multipart/byteranges` answer); safe headers. A HEAD answers exactly the status and headers the GET would,
asking the backend only whether the bytes exist."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from litestar import Response
from litestar.response import Stream

from gravity_platform.kernel.errors import NotFoundError, ServiceUnavailableError
from gravity_platform.services.files.storage import ObjectMissingError, StorageBackend, StorageError
from gravity_platform.services.files.transfer import content_disposition, parse_ranges


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


Span = tuple[int, int]
"""Bytes of the file to send: (offset, length)."""


@dataclass(frozen=True)
class Answer:
    """What a download answers, decided from the file's row and the request headers alone: its status, headers
    and body as pieces in order, each either literal bytes (a multipart boundary and part headers) or a Span."""

    status: int
    headers: dict[str, str]
    pieces: tuple[bytes | Span, ...] = ()


def _length(pieces: tuple[bytes | Span, ...]) -> int:
    return sum(len(piece) if isinstance(piece, bytes) else piece[1] for piece in pieces)


def _multipart(ranges: list[tuple[int, int]], size: int, content_type: str) -> tuple[str, tuple[bytes | Span, ...]]:
    """The Content-Type and the body pieces of a `multipart/byteranges` answer (RFC 9110 14.6)."""
    boundary = secrets.token_hex(16)
    pieces: list[bytes | Span] = []
    for first, last in ranges:
        head = (f"--{boundary}\r\nContent-Type: {content_type}\r\n"
                f"Content-Range: bytes {first}-{last}/{size}\r\n\r\n").encode()
        pieces += [(b"\r\n" if pieces else b"") + head, (first, last - first + 1)]
    pieces.append(f"\r\n--{boundary}--\r\n".encode())
    return f"multipart/byteranges; boundary={boundary}", tuple(pieces)


def plan(row: dict[str, Any], headers: Mapping[str, str], range_header: str | None) -> Answer:
    """The status, headers and body pieces of the answer: 304 for a matching If-None-Match (or, without one, an
    If-Modified-Since at or after the file's creation, its Last-Modified); 206 for a satisfiable Range (unless
    If-Range names another version), with `multipart/byteranges` when it asks for several ranges; else 200;
    RangeNotSatisfiableError (416) when no range can be met. Content-Type is a header here (not Litestar's media
    type, which would append a second charset)."""
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
    ranges = parse_ranges(range_header, size) if not if_range or etag_matches(if_range, etag) else None
    status, content_type = 206, row["content_type"]
    pieces: tuple[bytes | Span, ...]
    if ranges is None:
        status, pieces = 200, ((0, size),)
    elif len(ranges) == 1:
        (first, last), = ranges
        common["Content-Range"] = f"bytes {first}-{last}/{size}"
        pieces = ((first, last - first + 1),)
    else:
        content_type, pieces = _multipart(ranges, size, content_type)
    common["Content-Length"] = str(_length(pieces))
    common["Content-Type"] = content_type
    return Answer(status, common, pieces)


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
    """The response carrying a file's bytes (or 206 with parts of them, or 304)."""
    answer = plan(row, headers, range_header)
    if answer.headers.get("Content-Length", "0") == "0":
        return Response(b"", status_code=answer.status, headers=answer.headers)
    key = row["storage_key"]
    first_span = next(piece for piece in answer.pieces if not isinstance(piece, bytes))
    started: AsyncIterator[bytes] | None = await _primed(storage.read(key, *first_span))

    async def body() -> AsyncIterator[bytes]:
        nonlocal started
        for piece in answer.pieces:
            if isinstance(piece, bytes):
                yield piece
                continue
            read, started = started or storage.read(key, *piece), None
            async for chunk in read:
                yield chunk

    return Stream(body(), status_code=answer.status, headers=answer.headers)


async def head_response(storage: StorageBackend, row: dict[str, Any], headers: Mapping[str, str],
                        range_header: str | None) -> Response[None]:
    """The HEAD of a download: the GET's status and headers, no body, and no read of the bytes (only a check that
    they exist, so a HEAD is 404 exactly when the GET would be)."""
    answer = plan(row, headers, range_header)
    if answer.headers.get("Content-Length", "0") != "0":
        try:
            stored = await storage.size(row["storage_key"])
        except StorageError:
            raise ServiceUnavailableError("The file store is unavailable") from None
        if stored is None:
            raise NotFoundError("The file's bytes are missing")
    return Response(None, status_code=answer.status, headers=answer.headers)
