"""Units of the files service: property tests of the header parsers and builders, the local backend on its own,
and the signature by which a gateway vouches for a request it streams to another node."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gravity_platform.kernel.errors import RangeNotSatisfiableError
from gravity_platform.services.files.local import LocalStorage
from gravity_platform.services.files.resumable import parse_metadata
from gravity_platform.services.files.storage import ObjectMissingError, StorageBackend, StorageError
from gravity_platform.services.files.transfer import (
    MAX_RANGES,
    MERGE_GAP,
    clean_name,
    content_disposition,
    detect_type,
    parse_ranges,
)

sizes = st.integers(min_value=0, max_value=10**12)


@given(size=sizes, first=st.integers(min_value=0, max_value=10**12), last=st.integers(min_value=0, max_value=10**12))
def test_a_first_last_range_is_inside_the_file_or_refused(size: int, first: int, last: int) -> None:
    if last < first:
        assert parse_ranges(f"bytes={first}-{last}", size) is None
        return
    if first >= size:
        with pytest.raises(RangeNotSatisfiableError) as refused:
            parse_ranges(f"bytes={first}-{last}", size)
        assert refused.value.headers["Content-Range"] == f"bytes */{size}"
        return
    assert parse_ranges(f"bytes={first}-{last}", size) == [(first, min(last, size - 1))]


@given(size=sizes, suffix=st.integers(min_value=0, max_value=10**12))
def test_a_suffix_range_takes_the_last_bytes(size: int, suffix: int) -> None:
    try:
        result = parse_ranges(f"bytes=-{suffix}", size)
    except RangeNotSatisfiableError:
        assert suffix == 0 or size == 0
        return
    assert result == [(max(0, size - suffix), size - 1)]


@given(size=sizes, header=st.text(max_size=40))
def test_any_header_gives_ranges_inside_the_file_none_or_416(size: int, header: str) -> None:
    try:
        result = parse_ranges(header, size)
    except RangeNotSatisfiableError:
        return
    for first, last in result or []:
        assert 0 <= first <= last < size


specs = st.one_of(st.tuples(st.integers(0, 600), st.none() | st.integers(0, 600)).filter(
    lambda spec: spec[1] is None or spec[1] >= spec[0]), st.tuples(st.none(), st.integers(1, 600)))


def asked_bytes(first: int | None, last: int | None, size: int) -> range:
    """The bytes of a file of `size` bytes that one range spec asks for (`first` None: the last `last` bytes)."""
    if first is None:
        assert last is not None
        return range(max(0, size - last), size)
    return range(first, size if last is None else min(size, last + 1))


@given(size=st.integers(1, 500), wanted=st.lists(specs, min_size=1, max_size=MAX_RANGES))
def test_several_ranges_cover_exactly_what_was_asked_merged_in_order(
        size: int, wanted: list[tuple[int | None, int | None]]) -> None:
    header = "bytes=" + ", ".join(f"{'' if a is None else a}-{'' if b is None else b}" for a, b in wanted)
    asked = {byte for first, last in wanted for byte in asked_bytes(first, last, size)}
    if not asked:
        with pytest.raises(RangeNotSatisfiableError):
            parse_ranges(header, size)
        return
    result = parse_ranges(header, size)
    assert result is not None
    covered = {byte for first, last in result for byte in range(first, last + 1)}
    assert asked <= covered
    for first, last in result:
        assert first in asked and last in asked  # merging fills gaps between asked bytes, never past them
    for (_, last), (first, _) in itertools.pairwise(result):
        assert first > last + 1 + MERGE_GAP  # ascending, and parts closer than MERGE_GAP are one part


def test_ranges_this_server_ignores_or_merges() -> None:
    assert parse_ranges("bytes=0-1,5-6", 1000) == [(0, 6)]
    assert parse_ranges("bytes=500-599, ,0-9", 1000) == [(0, 9), (500, 599)]
    assert parse_ranges("bytes=0-9,2-1", 1000) is None  # one invalid range spoils the header
    assert parse_ranges("bytes=" + ",".join(f"{n * 100}-{n * 100}" for n in range(MAX_RANGES + 1)), 10**6) is None
    assert parse_ranges("items=0-1", 10) is None
    assert parse_ranges("bytes=-", 10) is None
    assert parse_ranges("bytes=", 10) is None
    assert parse_ranges(None, 10) is None
    assert parse_ranges("bytes=" + "9" * 5000 + "-", 10) is None
    with pytest.raises(RangeNotSatisfiableError):
        parse_ranges("bytes=5000-,-0", 1000)


@given(name=st.text(max_size=300))
def test_content_disposition_is_safe_for_any_name(name: str) -> None:
    header = content_disposition(name)
    header.encode("ascii")
    assert "\r" not in header and "\n" not in header
    kind, fallback, extended = header.split("; ")
    assert kind == "attachment"
    assert fallback.startswith('filename="') and fallback.endswith('"') and '"' not in fallback[10:-1]
    assert "/" not in fallback and "\\" not in fallback[10:-1]
    assert extended.startswith("filename*=UTF-8''")
    exact = unquote(extended.removeprefix("filename*=UTF-8''"))
    assert exact == clean_name(name).replace("/", "_").replace("\\", "_")
    assert "/" not in exact and "\\" not in exact


@given(name=st.text(max_size=400))
def test_clean_names_have_no_controls_and_a_bounded_length(name: str) -> None:
    cleaned = clean_name(name)
    assert 1 <= len(cleaned) <= 255
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in cleaned)


def test_traversal_names_stay_names() -> None:
    assert clean_name("../../etc/passwd") == "../../etc/passwd"
    header = content_disposition("../../etc/passwd")
    assert header == "attachment; filename=\"_.._etc_passwd\"; filename*=UTF-8''.._.._etc_passwd"


def test_types_come_from_the_bytes() -> None:
    assert detect_type(b"%PDF-1.7\n...", "report.txt", "text/plain") == "application/pdf"
    assert detect_type(b"plain words", "notes.md", None) == "text/markdown; charset=utf-8"
    assert detect_type(b"<html>hi</html>", "page.bin", "application/octet-stream").startswith("text/")
    assert detect_type(b"\x00\x01\x02binary", "a.zzz", "text/html") == "application/octet-stream"


def test_tus_metadata() -> None:
    assert parse_metadata("filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential") == {
        "filename": "world_domination_plan.pdf", "is_confidential": ""}
    with pytest.raises(Exception, match="base64"):
        parse_metadata("filename ***")


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _broken(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    raise ConnectionResetError("the client went away")


async def test_local_storage(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    assert isinstance(storage, StorageBackend)
    data = os.urandom(700_000)
    assert await storage.write("f/ab/one", _chunks(data[:300_000], data[300_000:])) == len(data)
    assert await storage.size("f/ab/one") == len(data)
    assert b"".join([c async for c in storage.read("f/ab/one")]) == data
    assert b"".join([c async for c in storage.read("f/ab/one", 1000, 5000)]) == data[1000:6000]
    with pytest.raises(ConnectionResetError):
        await storage.write("f/ab/one", _broken(b"new bytes"))
    assert b"".join([c async for c in storage.read("f/ab/one")]) == data
    assert list((tmp_path / "tmp").iterdir()) == []
    for bad in ("../escape", "/abs", "a/../../b", ""):
        with pytest.raises(StorageError):
            await storage.size(bad)
    await storage.delete("f/ab/one")
    await storage.delete("f/ab/one")
    with pytest.raises(ObjectMissingError):
        [c async for c in storage.read("f/ab/one")]

    handle = await storage.begin_upload("f/cd/two")
    handle, offset = await storage.append_upload("f/cd/two", handle, 0, _broken(b"abc", b"def"))
    assert offset == 6
    handle, offset = await storage.append_upload("f/cd/two", handle, 6, _chunks(b"ghi"))
    assert offset == 9
    await storage.complete_upload("f/cd/two", handle)
    assert b"".join([c async for c in storage.read("f/cd/two")]) == b"abcdefghi"
    aborted = await storage.begin_upload("f/cd/three")
    await storage.abort_upload("f/cd/three", aborted)
    assert list((tmp_path / "uploads").iterdir()) == []


async def test_only_a_valid_gateway_signature_marks_a_request_forwarded(node: Any) -> None:
    from gravity_platform.kernel.access import CLIENT_KEY
    from gravity_platform.kernel.forwarding import FORWARDED_SCOPE_KEY, TrustForwardedMiddleware, forwarding_headers

    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    middleware = TrustForwardedMiddleware(app, node.node)

    def scope(headers: dict[str, str], path: str = "/api/v1/files") -> dict[str, Any]:
        return {"type": "http", "method": "POST", "path": path, "query_string": b"name=a",
                "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}

    signed = forwarding_headers(node.node, "POST", "/api/v1/files", b"name=a", "203.0.113.7")
    await middleware(scope(signed), None, None)
    assert seen[-1][FORWARDED_SCOPE_KEY] is True and seen[-1][CLIENT_KEY] == "203.0.113.7"
    assert not any(k.startswith(b"x-gravity-forwarded") for k, _ in seen[-1]["headers"])

    await middleware(scope(signed, path="/api/v1/files/other"), None, None)
    assert FORWARDED_SCOPE_KEY not in seen[-1]
    forged = {**signed, "x-gravity-forwarded-client": "198.51.100.1"}
    await middleware(scope(forged), None, None)
    assert FORWARDED_SCOPE_KEY not in seen[-1] and CLIENT_KEY not in seen[-1]
    assert not any(k.startswith(b"x-gravity-forwarded") for k, _ in seen[-1]["headers"])
