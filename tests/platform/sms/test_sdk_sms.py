"""`client.sms` of the SDK against the session node (dev outbox provider), async and sync."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gravity_sdk import AsyncGravity, Gravity, PermissionDeniedError, UnprocessableEntityError
from gravity_sdk.types import SmsMessage
from tests.platform.conftest import Account
from tests.platform.harness import RunningNode
from tests.platform.sms.conftest import unique_number


async def until_sent(client: AsyncGravity, sms_id: str) -> SmsMessage:
    for _ in range(400):
        message = await client.sms.get(sms_id)
        if message.status != "queued":
            return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"{sms_id} was never sent")


async def test_async_client(node: RunningNode, admin: Account, account: Account) -> None:
    to = unique_number()
    key = f"sdk-{uuid.uuid4()}"
    async with AsyncGravity(base_url=node.url, access_token=admin.access_token) as client:
        queued = await client.sms.send(to=to, body="from the SDK", idempotency_key=key, metadata={"via": "sdk"})
        again = await client.sms.send(to=to, body="from the SDK", idempotency_key=key)
        assert again.id == queued.id
        assert queued.status == "queued"
        sent = await until_sent(client, queued.id)
        assert (sent.status, sent.metadata, sent.idempotency_key) == ("sent", {"via": "sdk"}, key)
        [entry] = await client.sms.dev_outbox(to=to)
        assert (entry.message_id, entry.body) == (queued.id, "from the SDK")
        with pytest.raises(UnprocessableEntityError) as raised:
            await client.sms.send(to="+1 555", body="x")
        assert raised.value.status_code == 422
    async with AsyncGravity(base_url=node.url, access_token=account.access_token) as client:
        with pytest.raises(PermissionDeniedError):
            await client.sms.send(to=to, body="not allowed")


async def test_sync_client(node: RunningNode, admin: Account) -> None:
    to = unique_number()

    def work() -> tuple[SmsMessage, SmsMessage]:
        with Gravity(base_url=node.url, access_token=admin.access_token) as client:
            queued = client.sms.send(to=to, body="sync")
            return queued, client.sms.get(queued.id)

    queued, fetched = await asyncio.to_thread(work)
    assert fetched.id == queued.id
    assert fetched.to == to
