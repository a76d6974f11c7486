"""The tus concatenation extension, driven with raw HTTP: partial uploads made in parallel, then one final upload
that makes a file of them; its errors, its quota, and the sweep of expired partials."""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path

import httpx2

from gravity_platform.devstack import StackEndpoints
from tests.platform.conftest import Account, new_account
from tests.platform.files.conftest import SMALL_FILE_LIMIT, SMALL_QUOTA, sha256, upload
from tests.platform.harness import RunningNode
from tests.platform.support import assert_problem, relayed_events, superuser_fetch

TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_TYPE = {"Content-Type": "application/offset+octet-stream"}


def _meta(**values: str) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items())


async def _partial(http: httpx2.AsyncClient, account: Account, data: bytes, pieces: int = 1) -> str:
    """A partial upload of `data` (in `pieces` PATCHes, 0 for none); its URL."""
    created = await http.post("/api/v1/files/tus", headers={
        **account.headers, **TUS, "Upload-Concat": "partial", "Upload-Length": str(len(data))})
    assert created.status_code == 201, created.text
    url = created.headers["location"]
    step = -(-len(data) // pieces) if pieces else len(data) + 1
    for offset in range(0, len(data) if pieces else 0, step):
        answer = await http.patch(url, content=data[offset:offset + step], headers={
            **account.headers, **TUS, **OFFSET_TYPE, "Upload-Offset": str(offset)})
        assert answer.status_code == 204, answer.text
    return str(url)


async def _final(http: httpx2.AsyncClient, account: Account, urls: list[str], **headers: str) -> httpx2.Response:
    return await http.post("/api/v1/files/tus", headers={
        **account.headers, **TUS, "Upload-Concat": "final;" + " ".join(urls), **headers})


def _object(node: RunningNode, url: str) -> Path:
    """Where the local backend keeps the bytes of a complete partial upload (or of the file it became)."""
    upload_id = url.rsplit("/", 1)[1]
    return Path(node.node.service("files").storage.root) / "objects" / "f" / upload_id[:2] / upload_id  # type: ignore[attr-defined]


def _stored(root: Path) -> set[Path]:
    """Every file the local backend holds (objects, staged uploads, partial writes)."""
    return {path for path in root.rglob("*") if path.is_file()}


async def _holdings(stack: StackEndpoints, owner: str) -> tuple[int, int]:
    """An owner's charged bytes and reserved bytes."""
    used = await superuser_fetch(stack, "SELECT used FROM files.usage WHERE owner_id = $1", uuid.UUID(owner))
    held = await superuser_fetch(stack, "SELECT coalesce(sum(bytes), 0) AS held FROM files.reservation "
                                        "WHERE owner_id = $1", uuid.UUID(owner))
    return (used[0]["used"] if used else 0), held[0]["held"]


async def _uploaded_event(stack: StackEndpoints, file_id: str) -> dict[str, object]:
    """The `file.uploaded` event of a file, as JetStream keeps it."""
    found = await relayed_events(stack.nats_url, "gravity.events.files.uploaded",
                                 lambda document: document["data"]["file_id"] == file_id)
    assert len(found) == 1, found
    return {"sha256": found[0]["data"]["sha256"], "size": found[0]["data"]["size"]}


async def test_parallel_partials_become_one_file(node: RunningNode, http: httpx2.AsyncClient,
                                                 stack: StackEndpoints) -> None:
    account = await new_account(http, "concat")
    first, second, third = os.urandom(70_000), os.urandom(123_457), os.urandom(999)
    urls = [await _partial(http, account, first), await _partial(http, account, second, pieces=2),
            await _partial(http, account, third)]
    probe = await http.head(urls[1], headers={**account.headers, **TUS})
    assert probe.status_code == 200 and probe.headers["upload-concat"] == "partial"
    assert probe.headers["upload-offset"] == probe.headers["upload-length"] == str(len(second))
    assert (await http.get(f"/api/v1/files/{urls[1].rsplit('/', 1)[1]}", headers=account.headers)).status_code == 404
    assert await _holdings(stack, account.id) == (0, len(first) + len(second) + len(third))

    order = [f"{node.url}{urls[2]}", urls[0], urls[1]]  # an absolute URL and paths, not in order of creation
    final = await _final(http, account, order, **{"Upload-Metadata": _meta(filename="joined.bin", filetype="x/y")})
    assert final.status_code == 201, final.text
    assert final.headers["tus-resumable"] == "1.0.0"
    data = third + first + second
    file_id = final.headers["location"].rsplit("/", 1)[1]
    info = (await http.get(f"/api/v1/files/{file_id}", headers=account.headers)).json()
    assert (info["size"], info["sha256"], info["name"]) == (len(data), sha256(data), "joined.bin")
    assert (await http.get(f"/api/v1/files/{file_id}/content", headers=account.headers)).content == data

    for url in urls:
        assert (await http.head(url, headers={**account.headers, **TUS})).status_code == 404
        assert not _object(node, url).exists()
    keys = [f"f/{url.rsplit('/', 1)[1][:2]}/{url.rsplit('/', 1)[1]}" for url in urls]
    assert await superuser_fetch(stack, "SELECT 1 FROM files.garbage WHERE storage_key = ANY($1)", keys) == []
    assert await _holdings(stack, account.id) == (len(data), 0)
    assert await _uploaded_event(stack, file_id) == {"sha256": sha256(data), "size": len(data)}

    described = await http.head(final.headers["location"], headers={**account.headers, **TUS})
    assert described.status_code == 200
    assert described.headers["upload-concat"] == "final;" + " ".join(urls[i] for i in (2, 0, 1))
    assert described.headers["upload-offset"] == described.headers["upload-length"] == str(len(data))
    again = await _final(http, account, order)  # a retry whose answer was lost gets the same final upload
    assert again.status_code == 201 and again.headers["location"] == final.headers["location"]
    assert again.headers["upload-offset"] == str(len(data))
    assert_problem(await _final(http, account, urls), 404)  # the partials in another order: they are gone
    refused = await http.patch(final.headers["location"], content=b"more", headers={
        **account.headers, **TUS, **OFFSET_TYPE, "Upload-Offset": str(len(data))})
    assert_problem(refused, 403)
    assert refused.headers["tus-resumable"] == "1.0.0"


async def test_a_final_must_name_the_callers_complete_partials(node: RunningNode, http: httpx2.AsyncClient,
                                                               stack: StackEndpoints) -> None:
    account = await new_account(http, "concat-errors")
    stranger = await new_account(http, "concat-stranger")
    done = await _partial(http, account, b"hello ")
    half = await _partial(http, account, b"world", pieces=0)
    patch = {**account.headers, **TUS, **OFFSET_TYPE}
    assert (await http.patch(half, content=b"wor", headers={**patch, "Upload-Offset": "0"})).status_code == 204
    theirs = await _partial(http, stranger, b"secret")
    plain = (await http.post("/api/v1/files/tus", headers={**account.headers, **TUS, "Upload-Length": "3"}))
    cases = [
        ([done, f"/api/v1/files/tus/{uuid.uuid4()}"], 404), ([done, "/api/v1/files/tus/not-an-id"], 404),
        ([done, theirs], 404), ([done, plain.headers["location"]], 400), ([done, half], 400),
        ([done, "/api/v1/files/somewhere-else"], 400), ([done, done], 400), ([], 400),
    ]
    for urls, status in cases:
        answer = await _final(http, account, urls)
        assert_problem(answer, status)
        assert answer.headers["tus-resumable"] == "1.0.0"
    assert_problem(await _final(http, account, [done], **{"Upload-Length": "6"}), 400)
    assert_problem(await http.post("/api/v1/files/tus", headers={**account.headers, **TUS,
                                                                  "Upload-Concat": "whole"}), 400)

    assert (await http.patch(half, content=b"ld", headers={**patch, "Upload-Offset": "3"})).status_code == 204
    assert (await http.head(half, headers={**account.headers, **TUS})).headers["upload-offset"] == "5"
    assert_problem(await http.patch(half, content=b"!", headers={**patch, "Upload-Offset": "5"}), 413)
    unchanged = await http.patch(half, content=b"", headers={**patch, "Upload-Offset": "5"})
    assert unchanged.status_code == 204 and unchanged.headers["upload-offset"] == "5"
    final = await _final(http, account, [done, half])
    assert final.status_code == 201, final.text
    file_id = final.headers["location"].rsplit("/", 1)[1]
    assert (await http.get(f"/api/v1/files/{file_id}/content", headers=account.headers)).content == b"hello world"
    assert (await http.head(theirs, headers={**stranger.headers, **TUS})).headers["upload-offset"] == "6"


async def test_limits_and_quota(small_node: RunningNode, small: httpx2.AsyncClient, stack: StackEndpoints) -> None:
    account = await new_account(small, "concat-quota")
    kept = os.urandom(4000)
    assert (await upload(small, account.headers, kept)).status_code == 201
    parts = [os.urandom(2000), os.urandom(2000)]
    urls = [await _partial(small, account, data) for data in parts]
    assert await _holdings(stack, account.id) == (4000, 4000)
    refused = await small.post("/api/v1/files/tus", headers={
        **account.headers, **TUS, "Upload-Concat": "partial", "Upload-Length": str(SMALL_QUOTA - 7999)})
    assert_problem(refused, 413, "quota-exceeded")
    extra = await _partial(small, account, os.urandom(SMALL_FILE_LIMIT - 3999))
    assert_problem(await _final(small, account, [*urls, extra]), 413)  # together past the per-file limit
    assert (await small.delete(extra, headers={**account.headers, **TUS})).status_code == 204

    final = await _final(small, account, urls)  # charged once: 4000 kept + 4000 reserved, not twice
    assert final.status_code == 201, final.text
    assert await _holdings(stack, account.id) == (8000, 0)
    assert not _object(small_node, urls[0]).exists()


async def test_a_failed_concatenation_leaves_the_partials_usable(node: RunningNode, http: httpx2.AsyncClient,
                                                                 stack: StackEndpoints) -> None:
    account = await new_account(http, "concat-failure")
    parts = [os.urandom(5000), os.urandom(6000)]
    urls = [await _partial(http, account, data) for data in parts]
    stored = _object(node, urls[1])
    aside = stored.with_name(stored.name + ".aside")
    root = Path(node.node.service("files").storage.root)  # type: ignore[attr-defined]
    before = _stored(root)
    stored.rename(aside)  # the store loses the second partial's bytes for a moment
    try:
        assert_problem(await _final(http, account, urls), 503)
    finally:
        aside.rename(stored)
    assert _stored(root) - before == set()  # no final object, no temp file
    files = await superuser_fetch(stack, "SELECT 1 FROM files.file WHERE owner_id = $1", uuid.UUID(account.id))
    assert files == [] and await _holdings(stack, account.id) == (0, 11_000)
    leased = await superuser_fetch(stack, "SELECT lease_until FROM files.upload WHERE id = ANY($1)",
                                   [uuid.UUID(url.rsplit("/", 1)[1]) for url in urls])
    assert [row["lease_until"] for row in leased] == [None, None]

    final = await _final(http, account, urls)
    assert final.status_code == 201, final.text
    file_id = final.headers["location"].rsplit("/", 1)[1]
    assert (await http.get(f"/api/v1/files/{file_id}/content", headers=account.headers)).content == b"".join(parts)


async def test_expired_partials_are_swept_with_their_bytes(node: RunningNode, http: httpx2.AsyncClient,
                                                           stack: StackEndpoints) -> None:
    account = await new_account(http, "concat-sweep")
    complete = await _partial(http, account, os.urandom(3000))
    unfinished = await _partial(http, account, os.urandom(3000), pieces=0)
    ids = [uuid.UUID(url.rsplit("/", 1)[1]) for url in (complete, unfinished)]
    handle = (await superuser_fetch(stack, "SELECT handle FROM files.upload WHERE id = $1", ids[1]))[0]["handle"]
    service = node.node.service("files")
    staged = Path(service.storage.root) / handle  # type: ignore[attr-defined]
    assert _object(node, complete).exists() and staged.exists()
    await superuser_fetch(stack, "UPDATE files.upload SET expires_at = now() - interval '1 second' "
                                 "WHERE id = ANY($1)", ids)
    await service.sweeper.sweep()  # type: ignore[attr-defined]
    assert not _object(node, complete).exists() and not staged.exists()
    assert await superuser_fetch(stack, "SELECT 1 FROM files.upload WHERE id = ANY($1)", ids) == []
    assert await _holdings(stack, account.id) == (0, 0)
