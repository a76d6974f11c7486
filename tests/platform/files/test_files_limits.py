"""Limits: the per-file size limit and the per-user quota, each a clean 413 that leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2

from gravity_platform.devstack import StackEndpoints
from tests.platform.conftest import Account, new_account
from tests.platform.files.conftest import SMALL_FILE_LIMIT, SMALL_QUOTA, upload
from tests.platform.harness import RunningNode
from tests.platform.support import assert_problem, superuser_fetch


async def leftovers(stack: StackEndpoints, key_file: Path, owner: str) -> dict[str, object]:
    """What an owner has in the files schema, and any partial writes on disk."""
    owner_id = uuid.UUID(owner)
    files = await superuser_fetch(stack, "SELECT id FROM files.file WHERE owner_id = $1", owner_id)
    usage = await superuser_fetch(stack, "SELECT used FROM files.usage WHERE owner_id = $1", owner_id)
    held = await superuser_fetch(stack, "SELECT bytes FROM files.reservation WHERE owner_id = $1", owner_id)
    pending = await superuser_fetch(stack, "SELECT storage_key FROM files.garbage")
    root = key_file.parent / "files"
    return {"files": len(files), "used": usage[0]["used"] if usage else 0, "reserved": len(held),
            "garbage": len(pending), "tmp": sorted(p.name for p in (root / "tmp").iterdir())}


async def chunked(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


async def test_a_file_over_the_limit_is_413(small: httpx2.AsyncClient, stack: StackEndpoints, key_file: Path) -> None:
    account = await new_account(small, "big")
    too_big = os.urandom(SMALL_FILE_LIMIT + 1)
    declared = await upload(small, account.headers, too_big)
    assert_problem(declared, 413, "payload-too-large")
    streamed = await small.post("/api/v1/files", params={"name": "x"}, content=chunked(too_big),
                                headers=account.headers)
    assert_problem(streamed, 413, "payload-too-large")
    multipart = await small.post("/api/v1/files", headers=account.headers, files={"file": ("x.bin", too_big)})
    assert_problem(multipart, 413, "payload-too-large")
    assert await leftovers(stack, key_file, account.id) == {"files": 0, "used": 0, "reserved": 0, "garbage": 0,
                                                            "tmp": []}
    exact = await upload(small, account.headers, os.urandom(SMALL_FILE_LIMIT))
    assert exact.status_code == 201, exact.text


async def test_over_quota_is_413_quota_exceeded(small: httpx2.AsyncClient, stack: StackEndpoints,
                                                key_file: Path) -> None:
    account = await new_account(small, "quota")
    for _ in range(SMALL_QUOTA // SMALL_FILE_LIMIT):
        assert (await upload(small, account.headers, os.urandom(SMALL_FILE_LIMIT))).status_code == 201
    used = SMALL_QUOTA // SMALL_FILE_LIMIT * SMALL_FILE_LIMIT
    rest = SMALL_QUOTA - used
    over = await upload(small, account.headers, os.urandom(rest + 1))
    body = assert_problem(over, 413, "quota-exceeded")
    assert body["quota"] == SMALL_QUOTA and body["used"] == used
    streamed = await small.post("/api/v1/files", params={"name": "x"}, content=chunked(os.urandom(rest + 1)),
                                headers=account.headers)
    assert_problem(streamed, 413, "quota-exceeded")
    assert await leftovers(stack, key_file, account.id) == {"files": 2, "used": used, "reserved": 0, "garbage": 0,
                                                            "tmp": []}
    assert (await upload(small, account.headers, os.urandom(rest))).status_code == 201


async def test_concurrent_uploads_never_overrun_the_quota(small: httpx2.AsyncClient, stack: StackEndpoints,
                                                          key_file: Path) -> None:
    account = await new_account(small, "race")
    size = 3000
    answers = await asyncio.gather(*(upload(small, account.headers, os.urandom(size)) for _ in range(6)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * (SMALL_QUOTA // size) + [413] * (6 - SMALL_QUOTA // size)
    state = await leftovers(stack, key_file, account.id)
    assert state["used"] == size * (SMALL_QUOTA // size) and state["reserved"] == 0 and state["tmp"] == []


async def test_an_interrupted_upload_leaves_nothing(small_node: RunningNode, small: httpx2.AsyncClient,
                                                   stack: StackEndpoints, key_file: Path) -> None:
    account: Account = await new_account(small, "cut")
    head = (f"POST /api/v1/files?name=cut.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {account.access_token}"
            f"\r\nContent-Length: 4000\r\n\r\n").encode()
    _, writer = await asyncio.open_connection("127.0.0.1", small_node.port)
    writer.write(head + os.urandom(1500))
    await writer.drain()
    partial = key_file.parent / "files" / "tmp"
    for _ in range(300):  # cut the connection once the server is writing the body
        if any(partial.iterdir()):
            break
        await asyncio.sleep(0.05)
    assert any(partial.iterdir())
    writer.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    writer.close()
    for _ in range(100):
        state = await leftovers(stack, key_file, account.id)
        if state["reserved"] == 0 and state["garbage"] == 0:
            break
        await asyncio.sleep(0.1)
    assert state == {"files": 0, "used": 0, "reserved": 0, "garbage": 0, "tmp": []}


async def test_the_sweeper_removes_unclaimed_bytes_and_expired_uploads(
        node: RunningNode, http: httpx2.AsyncClient, stack: StackEndpoints) -> None:
    account = await new_account(http, "sweep")
    service = node.node.service("files")
    storage = service.storage  # type: ignore[attr-defined]
    orphan = f"f/zz/{uuid.uuid4()}"
    await storage.write(orphan, chunked(b"orphaned bytes"))
    await superuser_fetch(stack, "INSERT INTO files.garbage (storage_key, collect_after) VALUES ($1, now() - "
                                 "interval '1 second')", orphan)
    created = await http.post("/api/v1/files/tus", headers={**account.headers, "Tus-Resumable": "1.0.0",
                                                            "Upload-Length": "100"})
    upload_id = uuid.UUID(created.headers["location"].rsplit("/", 1)[1])
    await superuser_fetch(stack, "UPDATE files.upload SET expires_at = now() - interval '1 second' WHERE id = $1",
                          upload_id)
    await service.sweeper.sweep()  # type: ignore[attr-defined]
    assert await storage.size(orphan) is None
    assert await superuser_fetch(stack, "SELECT 1 FROM files.garbage WHERE storage_key = $1", orphan) == []
    assert await superuser_fetch(stack, "SELECT 1 FROM files.upload WHERE id = $1", upload_id) == []
    assert await superuser_fetch(stack, "SELECT 1 FROM files.reservation WHERE id = $1", upload_id) == []
