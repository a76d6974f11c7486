"""Resumable uploads with tus 1.0, driven by the `tuspy` client, including a resume after a dropped connection."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import uuid
from pathlib import Path

import httpx2
from tusclient import client as tus

from gravity_platform.devstack import StackEndpoints
from tests.platform.conftest import Account, new_account
from tests.platform.files.conftest import SMALL_FILE_LIMIT, sha256
from tests.platform.harness import RunningNode
from tests.platform.support import assert_problem, superuser_fetch

TUS = {"Tus-Resumable": "1.0.0"}


def tus_client(node: RunningNode, account: Account) -> tus.TusClient:
    return tus.TusClient(f"{node.url}/api/v1/files/tus", headers={"Authorization": f"Bearer {account.access_token}"})


async def test_options_advertise_the_protocol(http: httpx2.AsyncClient) -> None:
    answer = await http.options("/api/v1/files/tus")
    assert answer.status_code == 204
    assert answer.headers["tus-version"] == "1.0.0" and answer.headers["tus-resumable"] == "1.0.0"
    assert set(answer.headers["tus-extension"].split(",")) == {"creation", "termination", "checksum", "concatenation"}
    assert int(answer.headers["tus-max-size"]) == 5 * 1024**3


async def test_tuspy_uploads_in_chunks(node: RunningNode, http: httpx2.AsyncClient, account: Account) -> None:
    data = os.urandom(300_000)
    uploader = tus_client(node, account).uploader(file_stream=io.BytesIO(data), chunk_size=64 * 1024,
                                                  metadata={"filename": "résumé.bin", "filetype": "x/y"})
    await asyncio.to_thread(uploader.upload)
    file_id = uploader.url.rsplit("/", 1)[1]
    info = (await http.get(f"/api/v1/files/{file_id}", headers=account.headers)).json()
    assert info["size"] == len(data) and info["sha256"] == sha256(data) and info["name"] == "résumé.bin"
    content = await http.get(f"/api/v1/files/{file_id}/content", headers=account.headers)
    assert content.content == data
    assert (await http.head(uploader.url, headers={**account.headers, **TUS})).status_code == 404


async def test_resume_after_a_dropped_connection(node: RunningNode, http: httpx2.AsyncClient, account: Account,
                                                 stack: StackEndpoints, key_file: Path) -> None:
    data = os.urandom(1_000_000)
    first = tus_client(node, account).uploader(file_stream=io.BytesIO(data), metadata={"filename": "big.bin"})
    url = await asyncio.to_thread(first.create_url)
    path = httpx2.URL(url).path
    head = (f"PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {account.access_token}\r\n"
            f"Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode()
    upload_id = uuid.UUID(path.rsplit("/", 1)[1])
    handle = (await superuser_fetch(stack, "SELECT handle FROM files.upload WHERE id = $1", upload_id))[0]["handle"]
    staged = key_file.parent / "files" / handle
    _, writer = await asyncio.open_connection("127.0.0.1", node.port)
    writer.write(head + data[:400_000])
    await writer.drain()
    for _ in range(300):  # cut the connection once the server has stored some of the body
        if staged.stat().st_size > 0:
            break
        await asyncio.sleep(0.1)
    writer.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    writer.close()

    offset = 0
    for _ in range(100):
        probe = await http.head(path, headers={**account.headers, **TUS})
        offset = int(probe.headers["upload-offset"])
        leased = await superuser_fetch(stack, "SELECT lease_until FROM files.upload WHERE id = $1", upload_id)
        if offset > 0 and leased[0]["lease_until"] is None:
            break
        await asyncio.sleep(0.1)
    assert 0 < offset <= 400_000

    resumed = await asyncio.to_thread(  # the uploader asks the offset (HEAD) as it is built
        tus_client(node, account).uploader, file_stream=io.BytesIO(data), url=url, chunk_size=256 * 1024)
    assert resumed.offset == offset
    await asyncio.to_thread(resumed.upload)
    file_id = path.rsplit("/", 1)[1]
    info = (await http.get(f"/api/v1/files/{file_id}", headers=account.headers)).json()
    assert info["sha256"] == sha256(data) and info["size"] == len(data)
    assert (await http.get(f"/api/v1/files/{file_id}/content", headers=account.headers)).content == data


async def test_protocol_errors(node: RunningNode, http: httpx2.AsyncClient, account: Account) -> None:
    headers = {**account.headers, **TUS}
    assert_problem(await http.post("/api/v1/files/tus", headers={**account.headers, "Upload-Length": "5"}), 412)
    assert_problem(await http.post("/api/v1/files/tus", headers=headers), 400)
    assert_problem(await http.post("/api/v1/files/tus", headers={**headers, "Upload-Length": str(6 * 1024**3)}), 413)
    assert_problem(await http.post("/api/v1/files/tus", headers={**headers, "Upload-Length": "5",
                                                                  "Upload-Metadata": "filename ***"}), 400)
    created = await http.post("/api/v1/files/tus", headers={**headers, "Upload-Length": "10"})
    assert created.status_code == 201 and created.headers["upload-offset"] == "0"
    url = created.headers["location"]
    patch = {**headers, "Content-Type": "application/offset+octet-stream"}
    wrong = await http.patch(url, headers={**patch, "Upload-Offset": "3"}, content=b"abc")
    assert_problem(wrong, 409)
    assert wrong.headers["upload-offset"] == "0" and wrong.headers["tus-resumable"] == "1.0.0"
    assert_problem(await http.patch(url, headers={**headers, "Upload-Offset": "0", "Content-Type": "text/plain"},
                                    content=b"abc"), 415)
    assert_problem(await http.patch(url, headers={**patch, "Upload-Offset": "0"}, content=b"x" * 11), 413)
    first = await http.patch(url, headers={**patch, "Upload-Offset": "0"}, content=b"01234")
    assert first.status_code == 204 and first.headers["upload-offset"] == "5"
    assert_problem(await http.patch(url, headers={**patch, "Upload-Offset": "0"}, content=b"01234"), 409)

    stranger = await new_account(http, "tus-stranger")
    assert (await http.head(url, headers={**stranger.headers, **TUS})).status_code == 404
    assert_problem(await http.patch(url, headers={**patch, **stranger.headers, "Upload-Offset": "5"},
                                    content=b"56789"), 404)
    gone = await http.delete(url, headers=headers)
    assert gone.status_code == 204
    assert (await http.head(url, headers=headers)).status_code == 404


async def test_quota_is_reserved_at_creation(small: httpx2.AsyncClient) -> None:
    account = await new_account(small, "tus-quota")
    headers = {**account.headers, **TUS}
    assert_problem(await small.post("/api/v1/files/tus", headers={**headers, "Upload-Length":
                                                                  str(SMALL_FILE_LIMIT + 1)}), 413)
    held = [await small.post("/api/v1/files/tus", headers={**headers, "Upload-Length": str(SMALL_FILE_LIMIT)})
            for _ in range(2)]
    assert [answer.status_code for answer in held] == [201, 201]
    refused = await small.post("/api/v1/files/tus", headers={**headers, "Upload-Length": str(SMALL_FILE_LIMIT)})
    assert_problem(refused, 413, "quota-exceeded")
    assert (await small.delete(held[0].headers["location"], headers=headers)).status_code == 204
    again = await small.post("/api/v1/files/tus", headers={**headers, "Upload-Length": str(SMALL_FILE_LIMIT)})
    assert again.status_code == 201


async def test_each_patch_may_land_on_another_node(node: RunningNode, http: httpx2.AsyncClient,
                                                   second_node: RunningNode) -> None:
    account = await new_account(http, "tus-nodes")
    headers = {**account.headers, **TUS}
    patch = {**headers, "Content-Type": "application/offset+octet-stream"}
    data = os.urandom(90_000)
    created = await http.post("/api/v1/files/tus", headers={**headers, "Upload-Length": str(len(data)),
                                                            "Upload-Metadata": "filename dHdvLW5vZGVzLmJpbg=="})
    url = created.headers["location"]
    async with second_node.client() as other:
        first = await other.patch(url, headers={**patch, "Upload-Offset": "0"}, content=data[:30_000])
        assert first.headers["upload-offset"] == "30000"
    second = await http.patch(url, headers={**patch, "Upload-Offset": "30000"}, content=data[30_000:60_000])
    assert second.headers["upload-offset"] == "60000"
    async with second_node.client() as other:
        assert (await other.head(url, headers=headers)).headers["upload-offset"] == "60000"
        last = await other.patch(url, headers={**patch, "Upload-Offset": "60000"}, content=data[60_000:])
        assert last.status_code == 204
    info = (await http.get(f"/api/v1/files/{url.rsplit('/', 1)[1]}", headers=account.headers)).json()
    assert info["name"] == "two-nodes.bin" and info["sha256"] == sha256(data)
