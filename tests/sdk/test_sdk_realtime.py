"""``client.realtime`` against a local WebSocket server that speaks the realtime protocol: typed messages, the
token on the socket, refreshing after a 4401, reconnecting after a drop, and the errors when it cannot go on.
(The platform's own realtime endpoint is exercised in tests/platform/notifications/test_realtime_sdk.py.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from websockets.asyncio.server import ServerConnection, serve

from gravity_sdk import (
    INBOX_TOPIC,
    AsyncGravity,
    Gravity,
    RealtimeAuthenticationError,
    RealtimeConnectionError,
    RealtimeMessage,
    Tokens,
)
from gravity_sdk.resources.realtime import socket_url

from .conftest import token_body

ITEM = {"id": "i1", "notification_id": "n1", "title": "Hello", "body": "You have mail", "category": "news",
        "data": {"template": "t"}, "created_at": "2026-11-26T10:00:00Z", "read_at": None}  # fmt: skip
Step = tuple[str, Any]
"""("send", a JSON message or raw text) or ("close", (code, reason)); a connection then waits for the client."""


@dataclass
class RealtimeServer:
    """Each connection follows the next script; the tokens and user agents it saw are recorded."""

    scripts: list[list[Step]]
    tokens: list[str | None] = field(default_factory=list)
    agents: list[str | None] = field(default_factory=list)
    url: str = ""

    async def handle(self, socket: ServerConnection) -> None:
        headers = socket.request.headers if socket.request else {}
        self.tokens.append(headers.get("Authorization", "").removeprefix("Bearer ") or None)
        self.agents.append(headers.get("User-Agent"))
        script = self.scripts.pop(0) if self.scripts else []
        for kind, value in script:
            if kind == "send":
                await socket.send(value if isinstance(value, str) else json.dumps(value))
            else:
                await socket.close(*value)
                return
        await socket.wait_closed()


@pytest.fixture
async def server() -> AsyncIterator[RealtimeServer]:
    realtime = RealtimeServer([])
    async with serve(realtime.handle, "127.0.0.1", 0) as running:
        port = next(iter(running.sockets)).getsockname()[1]
        realtime.url = f"http://127.0.0.1:{port}"
        yield realtime


def refreshing(tokens: list[str]) -> httpx2.MockTransport:
    """A token endpoint handing out ``tokens`` one refresh at a time (400 once they run out)."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/oauth2/token"
        if not tokens:
            return httpx2.Response(400, json={"error": "invalid_grant"})
        return httpx2.Response(200, json=token_body(tokens.pop(0), "refresh-2"))

    return httpx2.MockTransport(handler)


async def test_messages_arrive_typed_with_the_token_on_the_socket(server: RealtimeServer) -> None:
    server.scripts = [[("send", "not json"), ("send", {"topic": INBOX_TOPIC, "data": ITEM}),
                       ("send", {"topic": "other", "data": [1]})]]
    async with AsyncGravity(base_url=server.url, access_token="a1") as client, \
            client.realtime.connect() as feed:
        first = await anext(feed)
        assert first == RealtimeMessage(topic=INBOX_TOPIC, data=ITEM)
        item = first.inbox_item()
        assert (item.title, item.read_at, item.created_at.year) == ("Hello", None, 2026)
        other = await anext(feed)
        with pytest.raises(ValueError, match="no inbox item"):
            other.inbox_item()
    assert server.tokens == ["a1"] and (server.agents[0] or "").startswith("gravity-sdk/")


async def test_a_refused_token_is_refreshed_once_and_the_socket_reopened(server: RealtimeServer) -> None:
    server.scripts = [[("close", (4401, "A valid access token is required"))],
                      [("send", {"topic": INBOX_TOPIC, "data": ITEM})]]
    saved: list[Tokens] = []
    async with AsyncGravity(base_url=server.url, access_token="expired", refresh_token="r1", on_tokens=saved.append,
                            transport=refreshing(["fresh"])) as client, client.realtime.connect() as feed:
        assert (await anext(feed)).topic == INBOX_TOPIC
    assert server.tokens == ["expired", "fresh"] and saved[-1].access_token == "fresh"


async def test_a_token_refused_again_after_refreshing_ends_the_feed(server: RealtimeServer) -> None:
    server.scripts = [[("close", (4401, "revoked"))], [("close", (4401, "revoked"))]]
    async with AsyncGravity(base_url=server.url, access_token="a1", refresh_token="r1",
                            transport=refreshing(["a2"])) as client, client.realtime.connect() as feed:
        with pytest.raises(RealtimeAuthenticationError, match="revoked"):
            await anext(feed)
    assert server.tokens == ["a1", "a2"]


async def test_a_refused_token_without_a_refresh_token_ends_the_feed(server: RealtimeServer) -> None:
    server.scripts = [[("close", (4401, "A valid access token is required"))]]
    async with AsyncGravity(base_url=server.url, access_token="a1") as client, client.realtime.connect() as feed:
        with pytest.raises(RealtimeAuthenticationError):
            await anext(feed)
    async with AsyncGravity(base_url=server.url) as signed_out:
        with pytest.raises(RealtimeAuthenticationError, match="Sign in first"):
            await signed_out.realtime.connect().__aenter__()


async def test_a_dropped_socket_is_reopened(server: RealtimeServer) -> None:
    server.scripts = [[("close", (1001, "going away"))], [("close", (1013, "later"))],
                      [("send", {"topic": INBOX_TOPIC, "data": ITEM})]]
    async with AsyncGravity(base_url=server.url, access_token="a1") as client, client.realtime.connect() as feed:
        assert (await asyncio.wait_for(anext(feed), 10)).topic == INBOX_TOPIC
    assert server.tokens == ["a1", "a1", "a1"]


async def test_without_reconnecting_a_close_or_a_failed_open_is_an_error(server: RealtimeServer) -> None:
    server.scripts = [[("close", (1013, "Live updates are unavailable right now"))]]
    async with AsyncGravity(base_url=server.url, access_token="a1") as client:
        async with client.realtime.connect(reconnect=False) as feed:
            with pytest.raises(RealtimeConnectionError) as closed:
                await anext(feed)
        assert (closed.value.code, closed.value.reason) == (1013, "Live updates are unavailable right now")
    async with AsyncGravity(base_url="http://127.0.0.1:9", access_token="a1") as nowhere:
        with pytest.raises(RealtimeConnectionError) as refused:
            await nowhere.realtime.connect(reconnect=False).__aenter__()
        assert refused.value.code is None


async def test_closing_the_feed_ends_the_iteration(server: RealtimeServer) -> None:
    server.scripts = [[("send", {"topic": "a", "data": 1})]]
    async with AsyncGravity(base_url=server.url, access_token="a1") as client:
        feed = await client.realtime.connect().__aenter__()
        received = [message.topic async for message in _until_closed(feed)]
    assert received == ["a"]


async def _until_closed(feed: Any) -> AsyncIterator[RealtimeMessage]:
    async for message in feed:
        yield message
        await feed.aclose()


async def test_the_sync_client_reads_the_same_feed(server: RealtimeServer) -> None:
    server.scripts = [[("close", (1001, "going away"))], [("send", {"topic": INBOX_TOPIC, "data": ITEM})]]

    def read() -> str:
        with Gravity(base_url=server.url, access_token="a1") as client, client.realtime.connect() as feed:
            return next(feed).inbox_item().title

    assert await asyncio.wait_for(asyncio.to_thread(read), 20) == "Hello"
    assert server.tokens == ["a1", "a1"]


def test_socket_urls_follow_the_base_url() -> None:
    assert socket_url(httpx2.URL("http://127.0.0.1:8080")) == "ws://127.0.0.1:8080/api/v1/realtime"
    assert socket_url(httpx2.URL("https://api.example.com/gravity")) == "wss://api.example.com/gravity/api/v1/realtime"
