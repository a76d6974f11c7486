"""``client.files`` of the SDK, sync and async, against a real node."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import httpx2
import pytest

from gravity_sdk import AsyncGravity, Gravity, NotFoundError, PayloadTooLargeError, PermissionDeniedError, Tokens
from gravity_sdk.types import File
from tests.platform.conftest import PASSWORD, Account, new_account
from tests.platform.files.conftest import SMALL_FILE_LIMIT, sha256
from tests.platform.harness import RunningNode


async def signed_in(node: RunningNode, account: Account) -> AsyncGravity:
    client = AsyncGravity(base_url=node.url)
    await client.auth.login(email=account.email, password=PASSWORD)
    return client


async def test_async_round_trip(node: RunningNode, http: httpx2.AsyncClient, tmp_path: Path) -> None:
    account = await new_account(http, "sdk")
    friend = await new_account(http, "sdk-friend")
    source = tmp_path / "report.bin"
    data = os.urandom(3 * 1024 * 1024 + 17)
    source.write_bytes(data)
    seen: list[tuple[int, int | None]] = []
    async with await signed_in(node, account) as client:
        uploaded = await client.files.upload(source, progress=lambda done, total: seen.append((done, total)))
        assert isinstance(uploaded, File)
        assert uploaded.name == "report.bin" and uploaded.size == len(data) and uploaded.sha256 == sha256(data)
        assert seen[-1] == (len(data), len(data)) and len(seen) >= 3
        assert await client.files.get(uploaded.id) == uploaded

        second = await client.files.upload(b"tiny", name="tiny.txt", content_type="text/plain")
        listed = [f.id async for f in client.files.list(limit=1)]
        assert listed == [uploaded.id, second.id]

        target = tmp_path / "copy.bin"
        progress: list[int] = []
        count = await client.files.download(uploaded.id, to=target, progress=lambda done, _: progress.append(done))
        assert count == len(data) and target.read_bytes() == data and progress[-1] == len(data)
        assert not (tmp_path / "copy.bin.part").exists()

        shared = await client.files.share(uploaded.id, users=[friend.id])
        assert shared.shared_with_users == [friend.id]
        signed = await client.files.signed_url(uploaded.id, expires_in=60)
        anonymous = await http.get(signed.url.removeprefix("http://gravity.test"))
        assert anonymous.content == data

        await client.files.delete(second.id)
        with pytest.raises(NotFoundError) as missing:
            await client.files.get(second.id)
        assert missing.value.request_id
        with pytest.raises(NotFoundError):
            await client.files.download(second.id, to=tmp_path / "gone.bin")
        assert not (tmp_path / "gone.bin").exists() and not (tmp_path / "gone.bin.part").exists()

    async with await signed_in(node, friend) as client:
        assert (await client.files.get(uploaded.id)).id == uploaded.id
        with pytest.raises(PermissionDeniedError):
            await client.files.delete(uploaded.id)


async def test_sync_client_streams(node: RunningNode, http: httpx2.AsyncClient) -> None:
    account = await new_account(http, "sdk-sync")
    data = os.urandom(2 * 1024 * 1024)

    def work() -> tuple[File, bytes, int]:
        with Gravity(base_url=node.url) as client:
            client.auth.login(email=account.email, password=PASSWORD)
            uploaded = client.files.upload(io.BytesIO(data), name="stream.bin")
            sink = io.BytesIO()
            count = client.files.download(uploaded.id, to=sink)
            assert [f.id for f in client.files.list()] == [uploaded.id]
            return uploaded, sink.getvalue(), count

    uploaded, downloaded, count = await asyncio.to_thread(work)
    assert uploaded.size == len(data) and downloaded == data and count == len(data)


async def test_typed_errors_for_limits(small_node: RunningNode, small: httpx2.AsyncClient) -> None:
    account = await new_account(small, "sdk-limits")
    async with await signed_in(small_node, account) as client:
        with pytest.raises(PayloadTooLargeError) as too_big:
            await client.files.upload(os.urandom(SMALL_FILE_LIMIT + 1), name="big.bin")
        assert too_big.value.status_code == 413
        for _ in range(2):
            await client.files.upload(os.urandom(SMALL_FILE_LIMIT), name="fill.bin")
        with pytest.raises(PayloadTooLargeError) as over_quota:
            await client.files.upload(os.urandom(SMALL_FILE_LIMIT), name="over.bin")
        assert over_quota.value.problem is not None
        assert over_quota.value.problem.type == "urn:gravity:error:quota-exceeded"


async def test_a_stale_access_token_is_refreshed_and_the_transfer_sent_again(
        node: RunningNode, http: httpx2.AsyncClient, tmp_path: Path) -> None:
    account = await new_account(http, "sdk-stale")
    stale = AsyncGravity(base_url=node.url, access_token="not-a-token", refresh_token=account.refresh_token)
    async with stale as client:
        uploaded = await client.files.upload(b"after a refresh", name="stale.txt")
        assert client.tokens.access_token != "not-a-token"
        client.tokens = Tokens(access_token="not-a-token", refresh_token=client.tokens.refresh_token)
        assert await client.files.download(uploaded.id, to=tmp_path / "stale.txt") == len(b"after a refresh")
    assert (tmp_path / "stale.txt").read_bytes() == b"after a refresh"
