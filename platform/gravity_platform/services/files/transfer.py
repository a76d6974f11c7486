"""Streaming request bodies (raw and multipart), hashing on the way, Range (one or several byte ranges) and
Content-Disposition headers, and content types detected from the bytes. Nothing here holds a whole body in memory."""

from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import puremagic
from litestar.types import Receive

from gravity_platform.kernel.errors import BadRequestError, GravityError, PayloadTooLargeError, RangeNotSatisfiableError

HEAD_BYTES = 8192
DEFAULT_TYPE = "application/octet-stream"
MAX_NAME = 255
_BYTES_UNIT = re.compile(r"^\s*bytes\s*=(.*)$", re.IGNORECASE | re.DOTALL)
_RANGE_SPEC = re.compile(r"^\s*(\d{0,18})\s*-\s*(\d{0,18})\s*$")
MAX_RANGES = 32
"""Ranges one Range header may ask for; past this the whole file is sent (RFC 9110 14.2 lets a server ignore a
Range header of many small ranges, which cost more to answer than the file)."""
MERGE_GAP = 80
"""Ranges closer than this many bytes are sent as one part: the gap costs less than another part's headers."""
NUMBER = re.compile(r"^[0-9]{1,18}$")
"""A non-negative integer header value (Content-Length, Upload-Offset ...) small enough to be a size."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


class BodyTooLargeError(Exception):
    """The body went past a limit (raised inside the chunk stream, so the backend keeps nothing); `error` is
    what to answer."""

    def __init__(self, error: GravityError) -> None:
        super().__init__(error.detail)
        self.error = error


class BodyIncompleteError(Exception):
    """The client went away before the body ended."""


class RequestBody:
    """The request body straight from the ASGI `receive`, counted, capped at `limit` bytes and hashed."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self.limit = limit
        self.received = 0
        self.complete = False
        self.disconnected = False
        self.too_large = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's chunks; raises BodyTooLargeError past the limit and BodyIncompleteError on a disconnect."""
        while not self.complete:
            message: Any = await self._receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                raise BodyIncompleteError
            body: bytes = message.get("body", b"")
            if not message.get("more_body", False):
                self.complete = True
            if body:
                self.received += len(body)
                if self.received > self.limit:
                    self.too_large = True
                    raise BodyTooLargeError(PayloadTooLargeError(f"The body is larger than {self.limit} bytes"))
                yield body


async def capped(chunks: AsyncIterator[bytes], limit: int, error: GravityError) -> AsyncIterator[bytes]:
    """Pass `chunks` through until more than `limit` bytes went by, then raise BodyTooLargeError(`error`)."""
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise BodyTooLargeError(error)
        yield chunk


class Digest:
    """SHA-256 and the first bytes (for type detection) of a stream, taken while it passes through."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self.head = b""
        self.size = 0

    async def tap(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Pass `chunks` through, hashing them."""
        async for chunk in chunks:
            self.sha256.update(chunk)
            if len(self.head) < HEAD_BYTES:
                self.head += chunk[: HEAD_BYTES - len(self.head)]
            self.size += len(chunk)
            yield chunk

    @property
    def hexdigest(self) -> str:
        """The SHA-256 so far, hex."""
        return self.sha256.hexdigest()


class MultipartFile:
    """The part named `file` of a multipart/form-data body, streamed; its name and type are known once
    the first chunk has been read."""

    def __init__(self, chunks: AsyncIterator[bytes], content_type_header: str) -> None:
        import multipart  # type: ignore[import-untyped]

        _, options = multipart.parse_options_header(content_type_header)
        boundary = options.get("boundary")
        if not boundary:
            raise BadRequestError("The multipart body has no boundary")
        try:
            self._parser = multipart.PushMultipartParser(boundary, max_segment_count=16)
        except multipart.MultipartError as error:
            raise BadRequestError(f"Malformed multipart body: {error}") from None
        self._chunks = chunks
        self.filename: str | None = None
        self.content_type: str | None = None
        self.found = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The bytes of the `file` part; the rest of the body is read and thrown away."""
        import multipart

        in_file = False
        try:
            async for data in self._chunks:
                for event in self._parser.parse(data):
                    if isinstance(event, multipart.MultipartSegment):
                        in_file = event.name == "file" and not self.found
                        if in_file:
                            self.found = True
                            self.filename = event.filename
                            self.content_type = event.content_type
                    elif event is None:
                        in_file = False
                    elif in_file:
                        yield bytes(event)
            self._parser.close()
        except multipart.MultipartError as error:
            raise BadRequestError(f"Malformed multipart body: {error}") from None
        if not self.found:
            raise BadRequestError("The multipart body has no part named 'file'")


def clean_name(name: str | None) -> str:
    """A file name fit to keep: Unicode NFC, no control characters, at most 255 characters; never a path
    (it is only ever shown back, never used to build one)."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", name or "")).strip()
    return text[:MAX_NAME] or "file"


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """An RFC 6266 Content-Disposition: an ASCII `filename` fallback and the exact name as `filename*`;
    path separators and control characters never survive."""
    safe = clean_name(name).replace("/", "_").replace("\\", "_")
    ascii_name = "".join(
        c if " " <= c <= "~" and c not in '"\\%' else "_"
        for c in unicodedata.normalize("NFKD", safe) if not unicodedata.combining(c)
    )
    ascii_name = ascii_name.strip(" .") or "file"
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(safe, safe='')}"


def parse_ranges(header: str | None, size: int) -> list[tuple[int, int]] | None:
    """The byte ranges (first, last inclusive) a `Range` header asks for, in ascending order, with overlapping
    ones and ones less than MERGE_GAP bytes apart merged (RFC 9110 14.6). None to send the whole file: no header,
    a syntax or unit this server ignores, or more than MAX_RANGES ranges. RangeNotSatisfiableError when none of
    the ranges starts inside the file."""
    if not header:
        return None
    unit = _BYTES_UNIT.match(header)
    if unit is None:
        return None
    specs = [spec for spec in unit.group(1).split(",") if spec.strip()]  # empty list elements are allowed
    if not specs or len(specs) > MAX_RANGES:
        return None
    wanted: list[tuple[int, int]] = []
    for spec in specs:
        match = _RANGE_SPEC.match(spec)
        if match is None:
            return None
        first, last = match.group(1), match.group(2)
        if not first and not last:
            return None
        if not first:
            suffix = int(last)
            if suffix > 0 and size > 0:
                wanted.append((max(0, size - suffix), size - 1))
        elif last and int(last) < int(first):
            return None
        elif int(first) < size:
            wanted.append((int(first), min(int(last), size - 1) if last else size - 1))
    if not wanted:
        raise RangeNotSatisfiableError(size)
    merged: list[tuple[int, int]] = []
    for first_byte, last_byte in sorted(wanted):
        if merged and first_byte <= merged[-1][1] + 1 + MERGE_GAP:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last_byte))
        else:
            merged.append((first_byte, last_byte))
    return merged


def detect_type(head: bytes, name: str, declared: str | None) -> str:
    """The media type of a file, from its first bytes; the name and the client's claim only break ties
    for content magic numbers cannot tell (text)."""
    if head:
        try:
            found = puremagic.from_string(head, mime=True)
        except (puremagic.PureError, ValueError):
            found = ""
        if found and _TYPE.match(found.lower()):
            return str(found.lower())
    guessed = mimetypes.guess_type(name, strict=False)[0]
    claimed = (declared or "").split(";")[0].strip().lower()
    if _is_text(head):
        for candidate in (guessed, claimed):
            if candidate and candidate.startswith("text/") and _TYPE.match(candidate):
                return f"{candidate}; charset=utf-8"
        return "text/plain; charset=utf-8"
    for candidate in (claimed, guessed):
        if candidate and _TYPE.match(candidate) and not candidate.startswith("text/"):
            return candidate
    return DEFAULT_TYPE


def _is_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(head) - 3  # a character cut off at the end of the sample
    return True
