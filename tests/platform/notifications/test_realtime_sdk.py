"""`client.realtime` in the SDK against the platform's own realtime endpoint: inbox items arrive typed, a refused
token is refreshed through the real auth service, and the sync client reads the same feed."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gravity_sdk import INBOX_TOPIC, AsyncGravity, Gravity, RealtimeAuthenticationError, Tokens
from tests.platform.conftest import Account
from tests.platform.harness import RunningNode
from tests.platform.notifications.conftest import INAPP, put_template, send, unique_name


async def test_inbox_items_arrive_typed(node: RunningNode, admin: Account, account: Account) -> None:
    name = unique_name()
    async with node.client() as http:
        await put_template(http, admin, name, INAPP)
        async with AsyncGravity(base_url=node.url, access_token=account.access_token) as user, \
                user.realtime.connect(reconnect=False) as feed:
            sent = await send(http, admin, user_id=account.id, template=name, data={"name": "Ada", "count": 3})
            message = await asyncio.wait_for(anext(feed), 20)
    assert message.topic == INBOX_TOPIC
    item = message.inbox_item()
    assert (item.title, item.body, item.read_at) == ("Hello Ada", "You have 3 new messages", None)
    assert item.notification_id == sent.json()["notifications"][0]["id"]


async def test_a_refused_token_is_refreshed_through_auth(node: RunningNode, admin: Account, account: Account) -> None:
    name = unique_name()
    saved: list[Tokens] = []
    async with node.client() as http:
        await put_template(http, admin, name, INAPP)
        async with AsyncGravity(base_url=node.url, access_token="forged", refresh_token=account.refresh_token,
                                on_tokens=saved.append) as user, user.realtime.connect(reconnect=False) as feed:
            reading = asyncio.create_task(anext(feed))  # the first socket is closed with 4401, the second opens
            for _ in range(20):  # sent until one arrives: nothing tells the test when the second socket is open
                await send(http, admin, user_id=account.id, template=name, data={"name": "Bo", "count": 1})
                if (await asyncio.wait({reading}, timeout=1.0))[0]:
                    break
            message = await asyncio.wait_for(reading, 20)
    assert message.inbox_item().title == "Hello Bo"
    assert saved[-1].access_token not in (None, "forged")

    async with AsyncGravity(base_url=node.url, access_token="forged") as stranger, \
            stranger.realtime.connect(reconnect=False) as refused:
        with pytest.raises(RealtimeAuthenticationError, match="access token"):
            await asyncio.wait_for(anext(refused), 20)


async def test_the_sync_client_reads_the_feed(node: RunningNode, admin: Account, account: Account) -> None:
    name = unique_name()
    opened = threading.Event()

    def read() -> str:
        with Gravity(base_url=node.url, access_token=account.access_token) as user, \
                user.realtime.connect(reconnect=False) as feed:
            opened.set()
            return next(feed).inbox_item().title

    async with node.client() as http:
        await put_template(http, admin, name, INAPP)
        reader = asyncio.create_task(asyncio.to_thread(read))
        assert await asyncio.to_thread(opened.wait, 20)
        await send(http, admin, user_id=account.id, template=name, data={"name": "Cy", "count": 1})
        assert await asyncio.wait_for(reader, 20) == "Hello Cy"

