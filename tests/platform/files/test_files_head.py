"""HEAD of a file's bytes: the status and headers the GET would answer, no body, the same access rules, and no
read of the bytes themselves."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

import httpx2
import pytest

from gravity_platform.services.files.plugin import FilesService
from gravity_platform.services.files.storage import StorageBackend
from tests.platform.conftest import Account, new_account
from tests.platform.files.conftest import upload
from tests.platform.harness import RunningNode

COMPARED = ("etag", "accept-ranges", "content-type", "content-length", "content-range", "content-disposition",
            "cache-control", "x-content-type-options", "content-security-policy")


class CountingStorage:
    """The node's real backend, counting the reads and size checks that pass through it."""

    def __init__(self, inner: StorageBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.reads = 0
        self.sizes = 0

    async def read(self, key: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        self.reads += 1
        async for chunk in self.inner.read(key, start, length):
            yield chunk

    async def size(self, key: str) -> int | None:
        self.sizes += 1
        return await self.inner.size(key)

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        return await self.inner.write(key, chunks)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def assert_same_answer(got: httpx2.Response, headed: httpx2.Response) -> None:
    assert headed.status_code == got.status_code, (got.text, headed.headers)
    assert headed.content == b""
    for name in COMPARED:
        expected, found = got.headers.get(name), headed.headers.get(name)
        if name == "content-type" and expected and expected.startswith("multipart/byteranges"):
            expected, found = expected.split("boundary=")[0], (found or "").split("boundary=")[0]  # random each time
        assert found == expected, name


def problem_head(response: httpx2.Response, status: int) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.content == b""


async def test_head_answers_what_get_would(http: httpx2.AsyncClient, account: Account) -> None:
    data = os.urandom(5000)
    created = await upload(http, account.headers, data, name="héad.bin")
    url = f"/api/v1/files/{created.json()['id']}/content"
    etag = (await http.get(url, headers=account.headers)).headers["etag"]
    cases: list[dict[str, str]] = [
        {}, {"Range": "bytes=100-199"}, {"Range": "bytes=-10"}, {"Range": "bytes=4990-"}, {"Range": "bytes=5000-"},
        {"Range": "bytes=0-9", "If-Range": '"other"'}, {"Range": "bytes=0-9", "If-Range": etag},
        {"If-None-Match": etag}, {"If-None-Match": '"other"'}, {"Range": "bytes=0-9,1000-1099"},
    ]
    statuses = []
    for extra in cases:
        headers = {**account.headers, **extra}
        got, headed = await http.get(url, headers=headers), await http.head(url, headers=headers)
        assert_same_answer(got, headed)
        statuses.append(headed.status_code)
    assert statuses == [200, 206, 206, 206, 416, 200, 206, 304, 200, 206]
    whole = await http.head(url, headers=account.headers)
    assert whole.headers["content-length"] == "5000" and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-disposition"].endswith("h%C3%A9ad.bin")
    unsatisfiable = await http.head(url, headers={**account.headers, "Range": "bytes=5000-"})
    assert unsatisfiable.headers["content-range"] == "bytes */5000"

    empty = await upload(http, account.headers, b"", name="empty.txt")
    empty_url = f"/api/v1/files/{empty.json()['id']}/content"
    assert_same_answer(await http.get(empty_url, headers=account.headers),
                       await http.head(empty_url, headers=account.headers))


async def test_head_reads_no_bytes(node: RunningNode, http: httpx2.AsyncClient, account: Account,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    service = node.node.service("files")
    assert isinstance(service, FilesService)
    counting = CountingStorage(service.storage)
    monkeypatch.setattr(service, "_storage", counting)
    url = f"/api/v1/files/{(await upload(http, account.headers, os.urandom(3000))).json()['id']}/content"
    for extra in ({}, {"Range": "bytes=0-99"}):
        assert (await http.head(url, headers={**account.headers, **extra})).status_code in (200, 206)
    assert (counting.reads, counting.sizes) == (0, 2)
    assert len((await http.get(url, headers=account.headers)).content) == 3000
    assert counting.reads == 1


async def test_head_follows_the_access_rules_of_get(http: httpx2.AsyncClient, account: Account) -> None:
    file_id = (await upload(http, account.headers, b"private bytes")).json()["id"]
    url = f"/api/v1/files/{file_id}/content"
    stranger = await new_account(http, "head-stranger")
    problem_head(await http.head(url, headers=stranger.headers), 404)
    problem_head(await http.head(url), 404)
    problem_head(await http.head(url, headers={"Authorization": "Bearer not-a-token"}), 401)

    signed = httpx2.URL((await http.post(f"/api/v1/files/{file_id}/signed-url", headers=account.headers,
                                         json={"expires_in": 60})).json()["url"])
    anonymous = await http.head(signed.path, params=dict(signed.params))
    assert anonymous.status_code == 200 and anonymous.headers["content-length"] == "13"
    tampered = {**dict(signed.params), "signature": dict(signed.params)["signature"][:-2] + "AA"}
    problem_head(await http.head(signed.path, params=tampered), 403)

    await http.patch(f"/api/v1/files/{file_id}/sharing", headers=account.headers, json={"public": True})
    public = await http.head(url)
    assert public.status_code == 200 and public.headers["cache-control"] == "public, no-cache"


async def test_head_of_missing_bytes_is_404_like_get(http: httpx2.AsyncClient, account: Account,
                                                     key_file: Path) -> None:
    file_id = (await upload(http, account.headers, b"soon gone")).json()["id"]
    (key_file.parent / "files" / "objects" / "f" / file_id[:2] / file_id).unlink()
    url = f"/api/v1/files/{file_id}/content"
    problem_head(await http.head(url, headers=account.headers), 404)
    assert (await http.get(url, headers=account.headers)).status_code == 404
