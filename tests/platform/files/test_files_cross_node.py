"""A gateway and the files service in two node processes: large bodies stream over HTTP between them with flat
memory, small requests still ride NATS, and the merged OpenAPI document shows the files routes.

The two processes get a NATS server of their own (so the session node, which also hosts files, cannot answer
in their place); PostgreSQL and Valkey are the session stack's."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import random
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from gravity_platform.devstack import DevStack, ManagedProcess, StackEndpoints
from gravity_platform.kernel.settings import GravitySettings
from tests.platform.conftest import PASSWORD, sign_in, unique_email
from tests.platform.harness import free_port
from tests.platform.support import byte_ranges, extra_stack

SIZE = 256 * 1024 * 1024
CHUNK = 1024 * 1024
MEMORY_BUDGET = 64 * 1024 * 1024
"""How much a node's peak resident memory may grow while a SIZE-byte file passes through it."""

SERVE = """
import asyncio, sys
from gravity_platform.kernel.server import serve
from gravity_platform.kernel.settings import GravitySettings
asyncio.run(serve(GravitySettings(), sys.argv[2:], host="127.0.0.1", port=int(sys.argv[1]), drain_delay=0.0))
"""


@dataclass
class Pair:
    edge: str
    edge_process: ManagedProcess
    files_process: ManagedProcess


async def _spawn(devstack: DevStack, name: str, port: int, services: list[str], env: dict[str, str]) -> ManagedProcess:
    process = await devstack.spawn(name, [sys.executable, "-c", SERVE, str(port), *services], env=env)
    deadline = time.monotonic() + 60
    async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as client:
        while True:
            assert process.running, devstack.paths.log(name).read_text()[-3000:]
            with contextlib.suppress(httpx2.TransportError):
                if (await client.get("/readyz")).status_code == 200:
                    return process
            assert time.monotonic() < deadline, "the node never became ready"
            await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
async def pair(stack: StackEndpoints, key_file: Path, settings: GravitySettings,
               tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pair]:
    async with extra_stack(tmp_path_factory.mktemp("files-bus")) as bus:
        files_port, edge_port = free_port(), free_port()
        env = {"GRAVITY_DATABASE__URL": stack.postgres_dsn, "GRAVITY_NATS__URL": bus.endpoints.nats_url,
               "GRAVITY_VALKEY__URL": stack.valkey_url, "GRAVITY_MASTER_KEY_FILE": str(key_file),
               "GRAVITY_PROJECT_DIR": str(key_file.parent), "GRAVITY_PUBLIC_URL": "http://gravity.test",
               "GRAVITY_CONFIG": str(key_file.parent / "no-such.toml"), "GRAVITY_LOG_LEVEL": "warning",
               "GRAVITY_GATEWAY__TRUSTED_PROXIES": '["127.0.0.1/32"]'}
        files_env = {**env, "GRAVITY_NODE_NAME": "node-files",
                     "GRAVITY_SERVICE__FILES__ADVERTISE_URL": f"http://127.0.0.1:{files_port}",
                     "GRAVITY_SERVICE__FILES__STORAGE_OPTIONS__ROOT": str(tmp_path_factory.mktemp("cross-files"))}
        files_process = await _spawn(bus, "node-files", files_port, ["files"], files_env)
        edge_process = await _spawn(bus, "node-edge", edge_port, ["gateway", "auth", "users"],
                                    {**env, "GRAVITY_NODE_NAME": "node-edge"})
        yield Pair(f"http://127.0.0.1:{edge_port}", edge_process, files_process)


def memory(pid: int) -> dict[str, int]:
    """Resident memory now and at its peak, in bytes (from /proc)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(value.split()[0]) * 1024
    return values


def reset_peak(pid: int) -> None:
    """Make the process's peak resident memory (VmHWM) start again from its current size."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def generated(seed: int, size: int, digest: hashlib._Hash) -> AsyncIterator[bytes]:
    """`size` pseudo-random bytes, made as they are sent (never all in memory), hashed on the way."""
    source = random.Random(seed)
    sent = 0
    while sent < size:
        chunk = source.randbytes(min(CHUNK, size - sent))
        digest.update(chunk)
        sent += len(chunk)
        yield chunk


async def test_a_large_file_streams_through_the_gateway_with_flat_memory(pair: Pair) -> None:
    async with httpx2.AsyncClient(base_url=pair.edge, timeout=60.0) as edge:
        email = unique_email("streamer")
        registered = await edge.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201
        bearer = {"Authorization": f"Bearer {(await sign_in(edge, email)).json()['access_token']}"}
        warm_up = await edge.post("/api/v1/files", params={"name": "warm-up.bin"}, headers=bearer,
                                  content=generated(1, 4 * CHUNK, hashlib.sha256()))
        assert warm_up.status_code == 201, warm_up.text
        warm_down = await edge.get(f"/api/v1/files/{warm_up.json()['id']}/content", headers=bearer)
        assert len(warm_down.content) == 4 * CHUNK
        processes = {"edge": pair.edge_process.pid, "files": pair.files_process.pid}
        for pid in processes.values():
            reset_peak(pid)
        before = {name: memory(pid)["VmHWM"] for name, pid in processes.items()}
        sampled = dict(before)

        async def sample() -> None:
            while True:
                for name, pid in processes.items():
                    sampled[name] = max(sampled[name], memory(pid)["VmRSS"])
                await asyncio.sleep(0.05)

        sampler = asyncio.create_task(sample())

        sent = hashlib.sha256()
        created = await edge.post("/api/v1/files", params={"name": "big.bin"}, content=generated(7, SIZE, sent),
                                  headers={**bearer, "Content-Length": str(SIZE)})
        assert created.status_code == 201, created.text
        info = created.json()
        assert info["size"] == SIZE and info["sha256"] == sent.hexdigest()

        received = hashlib.sha256()
        total = 0
        async with edge.stream("GET", f"/api/v1/files/{info['id']}/content", headers=bearer) as download:
            assert download.status_code == 200
            assert download.headers["content-length"] == str(SIZE)
            async for chunk in download.aiter_bytes():
                received.update(chunk)
                total += len(chunk)
        assert total == SIZE and received.hexdigest() == sent.hexdigest()

        sampler.cancel()
        for name, pid in processes.items():
            peak = max(memory(pid)["VmHWM"], sampled[name])
            assert peak - before[name] < MEMORY_BUDGET, (name, before[name], peak)

        part = await edge.get(f"/api/v1/files/{info['id']}/content", headers={**bearer, "Range": "bytes=1000-1999"})
        assert part.status_code == 206 and part.headers["content-range"] == f"bytes 1000-1999/{SIZE}"
        assert len(part.content) == 1000
        parts = await edge.get(f"/api/v1/files/{info['id']}/content",
                               headers={**bearer, "Range": f"bytes=1000-1999,-100,{SIZE // 2}-{SIZE // 2 + 99}"})
        assert [(span, len(body)) for span, body in byte_ranges(parts)] == [
            (f"bytes 1000-1999/{SIZE}", 1000), (f"bytes {SIZE // 2}-{SIZE // 2 + 99}/{SIZE}", 100),
            (f"bytes {SIZE - 100}-{SIZE - 1}/{SIZE}", 100)]
        meta = await edge.get(f"/api/v1/files/{info['id']}", headers=bearer)
        assert meta.status_code == 200 and meta.json() == info
        assert (await edge.delete(f"/api/v1/files/{info['id']}", headers=bearer)).status_code == 204


async def test_errors_and_tus_cross_the_http_hop(pair: Pair) -> None:
    async with httpx2.AsyncClient(base_url=pair.edge, timeout=30.0) as edge:
        assert (await edge.post("/api/v1/files", params={"name": "x"}, content=b"abc")).status_code == 401
        email = unique_email("tus-remote")
        await edge.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        bearer = {"Authorization": f"Bearer {(await sign_in(edge, email)).json()['access_token']}"}
        tus = {**bearer, "Tus-Resumable": "1.0.0"}
        created = await edge.post("/api/v1/files/tus", headers={**tus, "Upload-Length": "6"})
        assert created.status_code == 201, created.text
        patch = {**tus, "Content-Type": "application/offset+octet-stream"}
        url = created.headers["location"]
        assert (await edge.patch(url, headers={**patch, "Upload-Offset": "1"}, content=b"abc")).status_code == 409
        wrong_sum = f"sha256 {base64.b64encode(hashlib.sha256(b'abcdeX').digest()).decode()}"
        mismatch = await edge.patch(url, headers={**patch, "Upload-Offset": "0", "Upload-Checksum": wrong_sum},
                                    content=b"abcdef")
        assert mismatch.status_code == 460 and mismatch.json()["type"] == "urn:gravity:error:checksum-mismatch"
        right_sum = f"sha256 {base64.b64encode(hashlib.sha256(b'abcdef').digest()).decode()}"
        done = await edge.patch(url, headers={**patch, "Upload-Offset": "0", "Upload-Checksum": right_sum},
                                content=b"abcdef")
        assert done.status_code == 204 and done.headers["upload-offset"] == "6"
        file_id = url.rsplit("/", 1)[1]
        content = await edge.get(f"/api/v1/files/{file_id}/content", headers=bearer)
        assert content.content == b"abcdef" and content.headers["x-request-id"]
        missing = await edge.get(f"/api/v1/files/{file_id}/content")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")


async def test_the_merged_openapi_document_has_the_files_routes(pair: Pair, http: httpx2.AsyncClient) -> None:
    async with httpx2.AsyncClient(base_url=pair.edge, timeout=30.0) as edge:
        remote = (await edge.get("/openapi.json")).json()
    local = (await http.get("/openapi.json")).json()
    for document in (remote, local):
        paths = document["paths"]
        assert {"/api/v1/files", "/api/v1/files/{file_id}", "/api/v1/files/{file_id}/content",
                "/api/v1/files/{file_id}/sharing", "/api/v1/files/{file_id}/signed-url", "/api/v1/files/tus",
                "/api/v1/files/tus/{upload_id}"} <= set(paths)
        assert {"get", "head"} <= set(paths["/api/v1/files/{file_id}/content"])
        assert "Upload-Checksum" in paths["/api/v1/files/tus/{upload_id}"]["patch"]["responses"]["460"]["description"]
        upload = paths["/api/v1/files"]["post"]["requestBody"]["content"]
        assert {"multipart/form-data", "application/octet-stream"} <= set(upload)



async def test_head_of_the_content_takes_the_streamed_path(pair: Pair) -> None:
    async with httpx2.AsyncClient(base_url=pair.edge, timeout=30.0) as edge:
        email = unique_email("head-remote")
        await edge.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        bearer = {"Authorization": f"Bearer {(await sign_in(edge, email)).json()['access_token']}"}
        data = random.Random(3).randbytes(300_000)
        created = await edge.post("/api/v1/files", params={"name": "remote.bin"}, content=data, headers=bearer)
        url = f"/api/v1/files/{created.json()['id']}/content"
        etag = f'"{created.json()["sha256"]}"'
        compared = ("etag", "content-length", "content-type", "content-range", "accept-ranges", "content-disposition")
        for extra, status in (({}, 200), ({"Range": "bytes=10-19"}, 206), ({"If-None-Match": etag}, 304),
                              ({"Range": "bytes=300000-"}, 416)):
            got = await edge.get(url, headers={**bearer, **extra})
            headed = await edge.head(url, headers={**bearer, **extra})
            assert (got.status_code, headed.status_code, headed.content) == (status, status, b"")
            assert {k: headed.headers.get(k) for k in compared} == {k: got.headers.get(k) for k in compared}
            assert len(got.headers.get_list("date")) == 1, "the edge's own Date, not the files node's too"
        # over NATS the Content-Length would be recomputed from the (empty) relayed body: this proves the HTTP hop
        assert (await edge.head(url, headers=bearer)).headers["content-length"] == "300000"
        anonymous = await edge.head(url)
        assert anonymous.status_code == 404 and anonymous.headers["content-type"].startswith("application/problem")
