"""End to end: a node whose files service stores on SeaweedFS through this plugin (`storage = "s3"`).

The node shares the session's PostgreSQL and Valkey (one process serves one database per service) but has a NATS
server of its own, so no other node answers for its files service."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from gravity_platform.devstack import StackEndpoints
from gravity_platform.kernel.migrations import migrate
from gravity_platform.kernel.node import build_node
from tests.platform.conftest import new_account
from tests.platform.harness import RunningNode, make_settings, running_node
from tests.platform.support import byte_ranges, extra_stack, superuser_fetch
from tests.plugins.s3.s3servers import S3Server
from tests.plugins.s3.streams import MIB, payload

BUCKET = "gravity-node-files"
PREFIX = "node/"
TUS = {"Tus-Resumable": "1.0.0"}
SERVICES = ["gateway", "auth", "users", "files"]


@pytest.fixture(scope="module")
async def s3_node(tmp_path_factory: pytest.TempPathFactory, stack: StackEndpoints, key_file: Path,
                  seaweedfs_s3: S3Server) -> AsyncIterator[RunningNode]:
    """A node with gateway, auth, users and files, its files on SeaweedFS in 5 MiB parts."""
    async with extra_stack(tmp_path_factory.mktemp("s3-bus")) as bus:
        options = seaweedfs_s3.options(BUCKET, prefix=PREFIX, part_size=5 * MIB, create_bucket=True)
        settings = make_settings(stack, key_file, nats={"url": bus.endpoints.nats_url}, node_name="s3-tests",
                                 service={"files": {"storage": "s3", "storage_options": options}})
        built = build_node(settings, SERVICES)
        await migrate(settings.database.url, built.services, built.master_key)
        async with running_node(settings, SERVICES) as running:
            yield running


def _bucket(server: S3Server) -> tuple[dict[str, int], list[str]]:
    """The objects under the node's prefix (key: size) and its unfinished multipart uploads."""
    client = server.client()
    objects = client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX).get("Contents", [])
    uploads = client.list_multipart_uploads(Bucket=BUCKET, Prefix=PREFIX).get("Uploads", [])
    return {item["Key"]: item["Size"] for item in objects}, [item["Key"] for item in uploads]


async def _tus_upload(http: httpx2.AsyncClient, headers: dict[str, str], data: bytes, sizes: list[int]) -> str:
    created = await http.post("/api/v1/files/tus", headers={**headers, **TUS, "Upload-Length": str(len(data))})
    assert created.status_code == 201, created.text
    url = created.headers["location"]
    offset = 0
    for size in sizes:
        answer = await http.patch(url, content=data[offset:offset + size], headers={
            **headers, **TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
        assert answer.status_code == 204, answer.text
        offset = int(answer.headers["upload-offset"])
    assert offset == len(data)
    return url.rstrip("/").rsplit("/", 1)[-1]


async def test_upload_ranged_download_resumable_upload_and_delete_on_s3(
        s3_node: RunningNode, seaweedfs_s3: S3Server) -> None:
    async with httpx2.AsyncClient(base_url=s3_node.url, timeout=120.0) as http:
        account = await new_account(http, "s3")
        data = payload(6 * MIB + 123, seed=30)
        created = await http.post("/api/v1/files", params={"name": "big.bin"}, content=data,
                                  headers={**account.headers, "Content-Type": "application/octet-stream"})
        assert created.status_code == 201, created.text
        file_id = created.json()["id"]
        objects, uploads = _bucket(seaweedfs_s3)
        assert list(objects.values()) == [len(data)] and uploads == []

        url = f"/api/v1/files/{file_id}/content"
        start = 5 * MIB - 10  # across the boundary of the first part
        part = await http.get(url, headers={**account.headers, "Range": f"bytes={start}-{start + 19}"})
        assert part.status_code == 206
        assert part.content == data[start:start + 20]
        assert part.headers["content-range"] == f"bytes {start}-{start + 19}/{len(data)}"
        parts = await http.get(url, headers={**account.headers, "Range": f"bytes=0-99,{start}-{start + 19},-7"})
        assert byte_ranges(parts) == [(f"bytes 0-99/{len(data)}", data[:100]),
                                      (f"bytes {start}-{start + 19}/{len(data)}", data[start:start + 20]),
                                      (f"bytes {len(data) - 7}-{len(data) - 1}/{len(data)}", data[-7:])]
        whole = await http.get(url, headers=account.headers)
        assert whole.status_code == 200 and whole.content == data

        resumable = payload(8 * MIB + 5, seed=31)
        tus_id = await _tus_upload(http, account.headers, resumable, [1, 3 * MIB, 4 * MIB + 4, 1 * MIB])
        info = (await http.get(f"/api/v1/files/{tus_id}", headers=account.headers)).json()
        assert info["size"] == len(resumable)
        fetched = await http.get(f"/api/v1/files/{tus_id}/content", headers=account.headers)
        assert fetched.content == resumable
        objects, uploads = _bucket(seaweedfs_s3)
        assert sorted(objects.values()) == sorted([len(data), len(resumable)]) and uploads == []

        for gone in (file_id, tus_id):
            assert (await http.delete(f"/api/v1/files/{gone}", headers=account.headers)).status_code == 204
            assert (await http.get(f"/api/v1/files/{gone}/content", headers=account.headers)).status_code == 404
        assert _bucket(seaweedfs_s3) == ({}, [])


async def _partial(http: httpx2.AsyncClient, headers: dict[str, str], data: bytes, sizes: list[int]) -> str:
    """A partial upload (tus concatenation) of `data`, sent in PATCHes of `sizes`; its URL."""
    created = await http.post("/api/v1/files/tus", headers={
        **headers, **TUS, "Upload-Concat": "partial", "Upload-Length": str(len(data))})
    assert created.status_code == 201, created.text
    url: str = created.headers["location"]
    offset = 0
    for size in sizes:
        answer = await http.patch(url, content=data[offset:offset + size], headers={
            **headers, **TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
        assert answer.status_code == 204, answer.text
        offset += size
    return url


async def test_concatenation_and_the_sweep_of_partials_on_s3(s3_node: RunningNode, seaweedfs_s3: S3Server,
                                                            stack: StackEndpoints) -> None:
    async with httpx2.AsyncClient(base_url=s3_node.url, timeout=120.0) as http:
        account = await new_account(http, "s3-concat")
        before = _bucket(seaweedfs_s3)
        big, small = payload(6 * MIB + 11, seed=40), payload(70_000, seed=41)
        urls = [await _partial(http, account.headers, small, [70_000]),
                await _partial(http, account.headers, big, [3 * MIB, 3 * MIB + 11]),
                await _partial(http, account.headers, b"", [])]
        final = await http.post("/api/v1/files/tus", headers={
            **account.headers, **TUS, "Upload-Concat": f"final;{urls[1]} {urls[2]} {s3_node.url}{urls[0]}"})
        assert final.status_code == 201, final.text
        file_id = final.headers["location"].rsplit("/", 1)[1]
        fetched = await http.get(f"/api/v1/files/{file_id}/content", headers=account.headers)
        assert fetched.content == big + small
        objects, uploads = _bucket(seaweedfs_s3)
        assert uploads == before[1] and set(objects) - set(before[0]) == {f"{PREFIX}f/{file_id[:2]}/{file_id}"}

        complete = await _partial(http, account.headers, small, [70_000])
        unfinished = await _partial(http, account.headers, payload(6 * MIB, seed=42), [5 * MIB + 1])
        assert _bucket(seaweedfs_s3)[1] != before[1]  # a multipart upload in progress
        ids = [uuid.UUID(url.rsplit("/", 1)[1]) for url in (complete, unfinished)]
        await superuser_fetch(stack, "UPDATE files.upload SET expires_at = now() - interval '1 second' "
                                     "WHERE id = ANY($1)", ids)
        await s3_node.node.service("files").sweeper.sweep()  # type: ignore[attr-defined]
        assert set(_bucket(seaweedfs_s3)[0]) - set(before[0]) == {f"{PREFIX}f/{file_id[:2]}/{file_id}"}
        assert _bucket(seaweedfs_s3)[1] == before[1]
        assert (await http.delete(f"/api/v1/files/{file_id}", headers=account.headers)).status_code == 204
        assert _bucket(seaweedfs_s3) == before
