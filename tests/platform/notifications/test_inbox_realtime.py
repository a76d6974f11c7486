"""The in-app inbox and its live delivery over the gateway's WebSocket, from a notifications service on
another node (the gateway-only node and the node under test meet only through NATS)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gravity_platform.kernel.settings import GravitySettings
from tests.platform.conftest import Account
from tests.platform.harness import RunningNode, running_node
from tests.platform.notifications.conftest import INAPP, eventually, notification, put_template, send, unique_name
from tests.platform.support import assert_problem

INBOX = "/api/v1/notifications/inbox"


@pytest.fixture(scope="module")
async def edge(settings: GravitySettings, node: RunningNode) -> AsyncIterator[RunningNode]:
    """A node hosting only the gateway, on the same NATS as the node under test."""
    async with running_node(settings.model_copy(update={"node_name": "edge-only"}), ["gateway"]) as running:
        yield running


def ws_url(edge: RunningNode, query: str = "") -> str:
    return f"ws://127.0.0.1:{edge.port}/api/v1/realtime{query}"


async def receive(socket: ClientConnection, http: httpx2.AsyncClient, admin: Account, sent: httpx2.Response,
                  timeout: float = 20.0) -> dict[str, Any]:
    """The next message on `socket`; if none comes, fail with what became of the notification `sent`."""
    try:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), timeout))
    except TimeoutError:
        state = await notification(http, admin, sent.json()["notifications"][0]["id"])
        raise AssertionError(f"no live message in {timeout}s; the notification's deliveries: "
                             f"{state['deliveries']}") from None
    return message


async def close_code(socket: ClientConnection, timeout: float = 20.0) -> int | None:
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(socket.recv(), timeout)
    return socket.close_code


async def test_live_delivery_through_another_node(http: httpx2.AsyncClient, admin: Account, account: Account,
                                                  edge: RunningNode) -> None:
    name = unique_name()
    await put_template(http, admin, name, INAPP)
    async with connect(ws_url(edge), additional_headers=account.headers) as socket:
        sent = await send(http, admin, user_id=account.id, template=name, data={"name": "Ada", "count": 2})
        message = await receive(socket, http, admin, sent)
    assert message["topic"] == "notifications.inbox"
    item = message["data"]
    assert (item["title"], item["body"]) == ("Hello Ada", "You have 2 new messages")
    assert item["notification_id"] == sent.json()["notifications"][0]["id"] and item["read_at"] is None

    async with edge.client() as through_edge:  # the HTTP API is reachable through the gateway-only node too
        count = await through_edge.get(f"{INBOX}/unread-count", headers=account.headers)
        assert count.json() == {"unread": 1}
        read = await through_edge.post(f"{INBOX}/{item['id']}/read", headers=account.headers)
        assert read.status_code == 200 and read.json()["read_at"] is not None
    assert (await http.get(f"{INBOX}/unread-count", headers=account.headers)).json() == {"unread": 0}


async def test_inbox_pages_and_read_state(http: httpx2.AsyncClient, admin: Account, account: Account) -> None:
    name = unique_name()
    await put_template(http, admin, name, INAPP)
    for count in range(3):
        await send(http, admin, user_id=account.id, template=name, data={"name": "x", "count": count})
    await eventually(lambda: http.get(f"{INBOX}/unread-count", headers=account.headers),
                     lambda response: response.json()["unread"] == 3)
    first = (await http.get(INBOX + "/", params={"limit": 2}, headers=account.headers)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = (await http.get(INBOX + "/", params={"limit": 2, "cursor": first["next_cursor"]},
                             headers=account.headers)).json()
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    bodies = [i["body"] for i in first["items"] + second["items"]]
    assert bodies == [f"You have {n} new messages" for n in (2, 1, 0)]  # newest first

    await http.post(f"{INBOX}/{first['items'][0]['id']}/read", headers=account.headers)
    unread = (await http.get(INBOX + "/", params={"unread": "true"}, headers=account.headers)).json()["items"]
    assert len(unread) == 2
    marked = await http.post(f"{INBOX}/read-all", headers=account.headers)
    assert marked.json() == {"updated": 2}
    assert (await http.get(f"{INBOX}/unread-count", headers=account.headers)).json() == {"unread": 0}
    assert_problem(await http.get(INBOX + "/", params={"cursor": "nonsense"}, headers=account.headers), 422)


async def test_items_are_private(http: httpx2.AsyncClient, admin: Account, account: Account) -> None:
    from tests.platform.conftest import new_account

    other = await new_account(http)
    name = unique_name()
    await put_template(http, admin, name, INAPP)
    await send(http, admin, user_id=account.id, template=name, data={"name": "x", "count": 1})
    page = await eventually(lambda: http.get(INBOX + "/", headers=account.headers),
                            lambda response: len(response.json()["items"]) == 1)
    item_id = page.json()["items"][0]["id"]
    assert_problem(await http.post(f"{INBOX}/{item_id}/read", headers=other.headers), 404)
    assert (await http.get(INBOX + "/", headers=other.headers)).json()["items"] == []
    assert_problem(await http.get(INBOX + "/"), 401)


async def test_socket_authentication(http: httpx2.AsyncClient, admin: Account, account: Account,
                                     edge: RunningNode) -> None:
    async with connect(ws_url(edge)) as anonymous:
        assert await close_code(anonymous) == 4401
    async with connect(ws_url(edge), additional_headers={"Authorization": "Bearer not-a-token"}) as forged:
        assert await close_code(forged) == 4401

    name = unique_name()
    await put_template(http, admin, name, INAPP)
    async with connect(ws_url(edge, f"?access_token={account.access_token}")) as by_query, \
            connect(ws_url(edge), subprotocols=["bearer", account.access_token]) as by_protocol:  # type: ignore[list-item]
        assert by_protocol.subprotocol == "bearer"
        sent = await send(http, admin, user_id=account.id, template=name, data={"name": "Q", "count": 1})
        assert (await receive(by_query, http, admin, sent))["data"]["title"] == "Hello Q"
        assert (await receive(by_protocol, http, admin, sent))["data"]["title"] == "Hello Q"

        logout = await http.post("/api/v1/auth/logout", headers=account.headers)
        assert logout.status_code in (200, 204), logout.text
        assert await close_code(by_query) == 4401
        assert await close_code(by_protocol) == 4401
    async with connect(ws_url(edge), additional_headers=account.headers) as revoked:
        assert await close_code(revoked) == 4401
