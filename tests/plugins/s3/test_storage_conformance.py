"""The storage backend contract (services/files/storage.py), checked on every backend: S3 on moto, S3 on
SeaweedFS, and local disk."""

from __future__ import annotations

import hashlib

import pytest
from litestar.exceptions import InternalServerException

from gravity_platform.services.files.storage import ObjectMissingError, StorageBackend
from tests.plugins.s3.conftest import PART_SIZE, Subject
from tests.plugins.s3.streams import MIB, broken, collect, digest, payload, pieces


async def test_round_trip_of_a_multipart_sized_object(subject: Subject) -> None:
    data = payload(2 * PART_SIZE + 3 * MIB + 7, seed=1)
    written = await subject.storage.write("objects/big", pieces(data, (1, 65536, 1_000_003)))
    assert written == len(data)
    assert await subject.storage.size("objects/big") == len(data)
    assert await digest(subject.storage.read("objects/big")) == hashlib.sha256(data).hexdigest()
    assert await digest(subject.reopen().read("objects/big")) == hashlib.sha256(data).hexdigest()


async def test_small_and_empty_objects(subject: Subject) -> None:
    assert await subject.storage.write("objects/small", pieces(b"hello world", (4,))) == 11
    assert await collect(subject.storage.read("objects/small")) == b"hello world"
    assert await subject.storage.write("objects/empty", pieces(b"")) == 0
    assert await subject.storage.size("objects/empty") == 0
    assert await collect(subject.storage.read("objects/empty")) == b""


async def test_ranged_reads_at_the_edges(subject: Subject) -> None:
    data = payload(PART_SIZE + MIB + 1, seed=2)
    await subject.storage.write("objects/ranged", pieces(data, (300_000,)))
    size = len(data)
    cases = [
        (0, 1), (size - 1, 1), (size - 1, None), (size // 2, 1000), (PART_SIZE - 3, 6),
        (size - 10, 100), (0, None), (1, None), (7, 0), (size, 10), (size + 5, None),
    ]
    for start, length in cases:
        expected = data[start:] if length is None else data[start:start + length]
        got = await collect(subject.storage.read("objects/ranged", start, length))
        assert got == expected, (start, length, len(got))


async def test_a_missing_key(subject: Subject) -> None:
    for start, length in [(0, None), (5, 10), (0, 0)]:
        with pytest.raises(ObjectMissingError):
            await collect(subject.storage.read("objects/nothing-here", start, length))
    assert await subject.storage.size("objects/nothing-here") is None
    await subject.storage.delete("objects/nothing-here")


async def test_delete_is_idempotent(subject: Subject) -> None:
    await subject.storage.write("objects/doomed", pieces(b"bye"))
    await subject.storage.delete("objects/doomed")
    assert await subject.storage.size("objects/doomed") is None
    with pytest.raises(ObjectMissingError):
        await collect(subject.storage.read("objects/doomed"))
    await subject.storage.delete("objects/doomed")


async def test_a_write_replaces_and_a_broken_write_changes_nothing(subject: Subject) -> None:
    await subject.storage.write("objects/kept", pieces(b"first version, long"))
    await subject.storage.write("objects/kept", pieces(b"second"))
    assert await collect(subject.storage.read("objects/kept")) == b"second"
    with pytest.raises(InternalServerException):
        await subject.storage.write("objects/kept", broken(payload(3 * PART_SIZE, seed=3), 2 * PART_SIZE + 5))
    assert await collect(subject.storage.read("objects/kept")) == b"second"
    assert await subject.leftovers() == []


async def _append_all(storage: StorageBackend, key: str, handle: str, offset: int, data: bytes) -> tuple[str, int]:
    return await storage.append_upload(key, handle, offset, pieces(data, (65536, 100_003)))


async def test_resumable_upload_in_odd_pieces_survives_a_broken_stream_and_a_restart(subject: Subject) -> None:
    sizes = [1, 3 * MIB, 7 * MIB, 100]
    data = payload(sum(sizes), seed=4)
    storage = subject.storage
    key = "objects/resumed"
    handle = await storage.begin_upload(key)
    offset = 0
    for size in sizes:
        end = offset + size
        if size == 7 * MIB:
            cut = 2 * MIB + 12_345
            handle, reached = await storage.append_upload(key, handle, offset, broken(data[offset:end], cut))
            assert reached == offset + cut
            storage = subject.reopen()  # the client resumes on another node, or after a restart
            handle, offset = await _append_all(storage, key, handle, reached, data[reached:end])
        else:
            handle, offset = await _append_all(storage, key, handle, offset, data[offset:end])
        assert offset == end
    assert await storage.size(key) is None  # nothing visible before completion
    await storage.complete_upload(key, handle)
    assert await storage.size(key) == len(data)
    assert await digest(storage.read(key)) == hashlib.sha256(data).hexdigest()
    assert await subject.leftovers() == []


async def test_an_empty_append_and_an_empty_upload(subject: Subject) -> None:
    handle = await subject.storage.begin_upload("objects/empty-upload")
    handle, offset = await subject.storage.append_upload("objects/empty-upload", handle, 0, pieces(b""))
    assert offset == 0
    await subject.storage.complete_upload("objects/empty-upload", handle)
    assert await subject.storage.size("objects/empty-upload") == 0
    assert await subject.leftovers() == []


async def test_abort_leaves_nothing_behind(subject: Subject) -> None:
    data = payload(PART_SIZE + MIB, seed=5)
    handle = await subject.storage.begin_upload("objects/aborted")
    handle, offset = await _append_all(subject.storage, "objects/aborted", handle, 0, data)
    assert offset == len(data)
    assert await subject.leftovers() != []
    await subject.storage.abort_upload("objects/aborted", handle)
    assert await subject.leftovers() == []
    assert await subject.storage.size("objects/aborted") is None
