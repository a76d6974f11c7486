"""The tus checksum extension: PATCH bodies verified against `Upload-Checksum`, all or nothing."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from tusclient import client as tus
from tusclient.uploader import Uploader

from gravity_platform.devstack import StackEndpoints
from gravity_platform.services.files.checksum import ChecksumMismatchError, parse_checksum
from tests.platform.conftest import Account, new_account
from tests.platform.files.conftest import SMALL_FILE_LIMIT, sha256
from tests.platform.harness import RunningNode
from tests.platform.support import assert_problem, superuser_fetch

TUS = {"Tus-Resumable": "1.0.0"}
PATCH = {**TUS, "Content-Type": "application/offset+octet-stream"}


def checksum(algorithm: str, data: bytes) -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


async def create(http: httpx2.AsyncClient, account: Account, length: int) -> str:
    created = await http.post("/api/v1/files/tus", headers={**account.headers, **TUS, "Upload-Length": str(length)})
    assert created.status_code == 201, created.text
    return str(created.headers["location"])


async def upload_row(stack: StackEndpoints, url: str) -> dict[str, object]:
    rows = await superuser_fetch(stack, 'SELECT "offset", handle, lease_until FROM files.upload WHERE id = $1',
                                 uuid.UUID(url.rsplit("/", 1)[1]))
    return dict(rows[0])


async def staged_leftovers(stack: StackEndpoints, key_file: Path, url: str) -> list[str]:
    """Staged chunk objects of the upload still on disk or still listed as pending garbage."""
    upload_id = url.rsplit("/", 1)[1]
    folder = key_file.parent / "files" / "objects" / "tus" / upload_id
    on_disk = [path.name for path in folder.iterdir()] if folder.exists() else []
    listed = await superuser_fetch(stack, "SELECT storage_key FROM files.garbage WHERE storage_key LIKE $1",
                                   f"tus/{upload_id}/%")
    return on_disk + [row["storage_key"] for row in listed]


async def test_options_advertise_checksums(http: httpx2.AsyncClient) -> None:
    answer = await http.options("/api/v1/files/tus")
    assert "checksum" in answer.headers["tus-extension"].split(",")
    assert set(answer.headers["tus-checksum-algorithm"].split(",")) == {"sha1", "sha256", "sha512", "md5"}


async def test_a_mismatch_discards_the_chunk_and_a_correct_retry_succeeds(
        http: httpx2.AsyncClient, account: Account, stack: StackEndpoints, key_file: Path) -> None:
    data = os.urandom(100_000)
    url = await create(http, account, len(data))
    headers = {**account.headers, **PATCH}
    first = await http.patch(url, headers={**headers, "Upload-Offset": "0",
                                           "Upload-Checksum": checksum("sha256", data[:60_000])}, content=data[:60_000])
    assert first.status_code == 204 and first.headers["upload-offset"] == "60000"
    handle = (await upload_row(stack, url))["handle"]

    corrupted = data[60_000:-1] + b"\x00"
    wrong = await http.patch(url, headers={**headers, "Upload-Offset": "60000",
                                           "Upload-Checksum": checksum("sha1", data[60_000:])}, content=corrupted)
    assert_problem(wrong, 460, "checksum-mismatch")
    assert wrong.headers["tus-resumable"] == "1.0.0"
    probe = await http.head(url, headers={**account.headers, **TUS})
    assert probe.headers["upload-offset"] == "60000"
    assert await upload_row(stack, url) == {"offset": 60000, "handle": handle, "lease_until": None}
    assert (key_file.parent / "files" / str(handle)).stat().st_size == 60_000
    assert await staged_leftovers(stack, key_file, url) == []

    retry = await http.patch(url, headers={**headers, "Upload-Offset": "60000",
                                           "Upload-Checksum": checksum("md5", data[60_000:])}, content=data[60_000:])
    assert retry.status_code == 204 and retry.headers["upload-offset"] == "100000"
    assert await staged_leftovers(stack, key_file, url) == []
    file_id = url.rsplit("/", 1)[1]
    info = (await http.get(f"/api/v1/files/{file_id}", headers=account.headers)).json()
    assert info["size"] == len(data) and info["sha256"] == sha256(data)


async def test_unknown_or_malformed_checksums_are_400(http: httpx2.AsyncClient, account: Account) -> None:
    url = await create(http, account, 10)
    headers = {**account.headers, **PATCH, "Upload-Offset": "0"}
    unknown = await http.patch(url, headers={**headers, "Upload-Checksum": "crc32 AAAAAA=="}, content=b"0123456789")
    assert_problem(unknown, 400, "checksum-algorithm-unsupported")
    assert unknown.headers["tus-checksum-algorithm"] and unknown.headers["tus-resumable"] == "1.0.0"
    for value in ("sha1 not*base64", "sha1 " + base64.b64encode(b"short").decode(), "sha1", "SHA1 x"):
        assert_problem(await http.patch(url, headers={**headers, "Upload-Checksum": value}, content=b"0123456789"),
                       400)
    assert (await http.head(url, headers={**account.headers, **TUS})).headers["upload-offset"] == "0"


async def test_a_checksummed_body_counts_whole_or_not_at_all(
        node: RunningNode, http: httpx2.AsyncClient, account: Account, stack: StackEndpoints,
        key_file: Path) -> None:
    data = os.urandom(1_000_000)
    url = await create(http, account, len(data))
    path = httpx2.URL(url).path
    head = (f"PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {account.access_token}\r\n"
            f"Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Upload-Checksum: {checksum('sha256', data)}\r\nContent-Length: {len(data)}\r\n\r\n").encode()
    _, writer = await asyncio.open_connection("127.0.0.1", node.port)
    writer.write(head + data[:400_000])
    await writer.drain()
    partial = key_file.parent / "files" / "tmp"
    for _ in range(300):  # cut the connection once the server has taken some of the body in
        if any(path.stat().st_size > 0 for path in partial.iterdir()):
            break
        await asyncio.sleep(0.1)
    assert (await upload_row(stack, url))["lease_until"] is not None
    writer.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    writer.close()
    for _ in range(100):
        if (await upload_row(stack, url))["lease_until"] is None:
            break
        await asyncio.sleep(0.1)
    assert (await upload_row(stack, url))["offset"] == 0
    assert await staged_leftovers(stack, key_file, url) == []
    whole = await http.patch(url, headers={**account.headers, **PATCH, "Upload-Offset": "0",
                                           "Upload-Checksum": checksum("sha256", data)}, content=data)
    assert whole.status_code == 204 and whole.headers["upload-offset"] == str(len(data))


async def test_a_checksummed_body_past_the_length_is_413_and_discarded(small: httpx2.AsyncClient,
                                                                       small_node: RunningNode) -> None:
    account = await new_account(small, "tus-sum-large")
    url = await create(small, account, SMALL_FILE_LIMIT)
    body = b"x" * (SMALL_FILE_LIMIT + 10)
    headers = {**account.headers, **PATCH, "Upload-Offset": "0", "Upload-Checksum": checksum("sha1", body)}

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length, so the server only finds out while reading
        for start in range(0, len(body), 1000):
            yield body[start:start + 1000]

    refused = assert_problem(await small.patch(url, headers=headers, content=chunked()), 413)
    assert "kept" not in refused["detail"]
    assert (await small.head(url, headers={**account.headers, **TUS})).headers["upload-offset"] == "0"


class Sha256Uploader(Uploader):
    """tuspy's uploader sending SHA-256 checksums instead of its default SHA-1."""

    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


@pytest.mark.parametrize("uploader_class", [Uploader, Sha256Uploader], ids=["sha1", "sha256"])
async def test_tuspy_sends_checksums(node: RunningNode, http: httpx2.AsyncClient, account: Account,
                                     uploader_class: type[Uploader]) -> None:
    data = os.urandom(200_000)
    client = tus.TusClient(f"{node.url}/api/v1/files/tus", headers={"Authorization": f"Bearer {account.access_token}"})
    uploader = uploader_class(client=client, file_stream=io.BytesIO(data), chunk_size=64 * 1024, upload_checksum=True,
                              metadata={"filename": "summed.bin"})
    await asyncio.to_thread(uploader.upload)
    info = (await http.get(f"/api/v1/files/{uploader.url.rsplit('/', 1)[1]}", headers=account.headers)).json()
    assert info["sha256"] == sha256(data) and info["name"] == "summed.bin"


async def test_the_checksum_is_taken_while_the_body_streams() -> None:
    produced: list[int] = []

    async def source() -> AsyncIterator[bytes]:
        for n in range(3):
            produced.append(n)
            yield bytes([n]) * 10

    claim = parse_checksum(checksum("sha1", b"other"), {})
    assert claim is not None
    stream = claim.verified(source())
    assert await anext(stream) == b"\x00" * 10 and produced == [0]
    assert await anext(stream) == b"\x01" * 10 and produced == [0, 1]
    assert await anext(stream) == b"\x02" * 10
    with pytest.raises(ChecksumMismatchError):
        await anext(stream)
