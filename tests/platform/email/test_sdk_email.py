"""`client.email` in the SDK, sync and async, against the session node and its dev mail catcher."""

from __future__ import annotations

import asyncio
import time

import pytest

from gravity_sdk import AsyncGravity, Gravity, PermissionDeniedError, UnprocessableEntityError
from tests.platform.conftest import Account, unique_email
from tests.platform.harness import RunningNode


async def test_async_send_follow_and_read_the_catcher(node: RunningNode, admin: Account, account: Account) -> None:
    to = unique_email("sdk")
    async with AsyncGravity(base_url=node.url, access_token=admin.access_token) as client:
        email = await client.email.send(to=[to], subject="From the SDK", text="hello", idempotency_key=to,
                                        metadata={"via": "sdk"})
        assert email.status in ("queued", "sent") and email.to == [to] and email.idempotency_key == to
        deadline = time.monotonic() + 20
        while (email := await client.email.get(email.id)).status != "sent":
            assert time.monotonic() < deadline, email
            await asyncio.sleep(0.05)
        assert email.attempts == 1 and email.metadata == {"via": "sdk"}
        caught = [mail for mail in await client.email.caught(limit=500) if mail.to == [to]]
        assert [mail.subject for mail in caught] == ["From the SDK"]
        one = await client.email.caught_message(caught[0].id)
        assert one.text == "hello\n" and one.message_id == email.message_id
        with pytest.raises(UnprocessableEntityError):
            await client.email.send(to=["nope"], subject="s", text="t")
    async with AsyncGravity(base_url=node.url, access_token=account.access_token) as user:
        with pytest.raises(PermissionDeniedError):
            await user.email.send(to=[to], subject="s", text="t")


async def test_sync_client(node: RunningNode, admin: Account) -> None:
    to = unique_email("sync")

    def work() -> tuple[str, str]:
        with Gravity(base_url=node.url, access_token=admin.access_token) as client:
            sent = client.email.send(to=[to], subject="Sync", text="t")
            return sent.id, client.email.get(sent.id).subject

    email_id, subject = await asyncio.to_thread(work)
    assert subject == "Sync" and email_id
