"""``client.realtime``: live messages for the signed-in user over the WebSocket ``/api/v1/realtime``, such as
new inbox items (topic ``notifications.inbox``).

>>> async with client.realtime.connect() as feed:
...     async for message in feed:
...         if message.topic == INBOX_TOPIC:
...             print(message.inbox_item().title)

Once ``connect()`` has returned, whatever the platform publishes for the user reaches the feed. The socket
carries the client's access token and follows it: when the server closes it because the token expired or was
revoked (code 4401), the client refreshes once and reconnects, and raises ``RealtimeAuthenticationError`` if that
does not help. When the connection fails or drops, or the server goes away (a node draining), it reconnects with
backoff; with ``reconnect=False`` it raises ``RealtimeConnectionError`` instead. Messages published while no
socket is open are not replayed; the inbox keeps inbox items (``client.notifications.inbox()``).

Needs the ``websockets`` package: ``pip install 'gravity[realtime]'``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from dataclasses import dataclass
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

import httpx2
import msgspec

from .._constants import USER_AGENT
from .._exceptions import GravityError, RealtimeAuthenticationError, RealtimeConnectionError
from .._resource import APIResource
from .._retry import backoff_delay
from ..types.notification import InboxItem

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection as AsyncSocket
    from websockets.sync.client import ClientConnection as SyncSocket

    from .._base_client import AsyncAPIClient, SyncAPIClient

__all__ = ["INBOX_TOPIC", "AsyncRealtime", "AsyncRealtimeConnection", "Realtime", "RealtimeConnection",
           "RealtimeMessage"]  # fmt: skip

log = logging.getLogger("gravity_sdk")
ClientT = TypeVar("ClientT", "SyncAPIClient", "AsyncAPIClient")
SocketT = TypeVar("SocketT", "SyncSocket", "AsyncSocket")

PATH = "/api/v1/realtime"
INBOX_TOPIC = "notifications.inbox"
"""The topic of a new in-app notification; its ``data`` is an ``InboxItem``."""
UNAUTHORIZED = 4401
"""The close code of a socket whose token is missing, invalid, expired or revoked."""
DEFAULT_OPEN_TIMEOUT = 10.0


class RealtimeMessage(msgspec.Struct, frozen=True):
    """One live message: what it is about (``topic``) and its JSON ``data``."""

    topic: str
    data: Any = None

    def inbox_item(self) -> InboxItem:
        """The ``data`` of a ``notifications.inbox`` message as an ``InboxItem``."""
        if self.topic != INBOX_TOPIC:
            raise ValueError(f"A {self.topic!r} message carries no inbox item")
        return msgspec.convert(self.data, InboxItem)


_decoder = msgspec.json.Decoder(RealtimeMessage)


def _decode(raw: str | bytes) -> RealtimeMessage | None:
    try:
        return _decoder.decode(raw)
    except msgspec.DecodeError:
        log.warning("ignored a realtime message that is not a {topic, data} object")
        return None


def _websockets() -> ModuleType:
    try:
        import websockets.asyncio.client
        import websockets.exceptions
        import websockets.sync.client
    except ImportError:
        raise GravityError("client.realtime needs the websockets package: pip install 'gravity[realtime]'") from None
    return websockets


def socket_url(base_url: httpx2.URL) -> str:
    """The realtime socket's URL for a server root (``http`` becomes ``ws``, ``https`` becomes ``wss``)."""
    scheme = {"http": "ws", "https": "wss"}.get(base_url.scheme, base_url.scheme)
    return f"{base_url.copy_with(scheme=scheme)}".rstrip("/") + PATH


@dataclass
class _Reconnection:
    """When a socket closes or fails to open, what to do next: shared by the sync and async connections."""

    reconnect: bool
    failures: int = 0
    """Connections in a row that failed or dropped before a message came."""
    refreshed: bool = False
    """Whether the token was refreshed since the last message (a second 4401 then means giving up)."""

    def after(self, code: int | None, reason: str) -> float | None:
        """Seconds to wait before reconnecting after close ``code`` (None: the socket did not open), or None to
        refresh the token and reconnect at once; raises when the connection should end."""
        if code == UNAUTHORIZED:
            if self.refreshed:
                raise RealtimeAuthenticationError(reason or "The access token was refused")
            self.refreshed = True
            return None
        if not self.reconnect:
            raise RealtimeConnectionError(code, reason)
        delay = backoff_delay(self.failures)
        self.failures += 1
        log.info("realtime socket closed (%s %s); reconnecting in %.1fs", code, reason, delay)
        return delay

    def received(self) -> None:
        self.failures, self.refreshed = 0, False


def _close_of(closed: Exception) -> tuple[int, str]:
    """The close code and reason of a websockets ConnectionClosed (1006 when the connection was just lost)."""
    received = getattr(closed, "rcvd", None)
    if received is None:
        return 1006, "the connection was lost"
    return int(received.code), str(received.reason)


def _open_errors(websockets: ModuleType) -> tuple[type[Exception], ...]:
    return OSError, TimeoutError, websockets.exceptions.InvalidHandshake


class _Feed(Generic[ClientT, SocketT]):
    """What the sync and async feeds share: the client, the socket's options, and the reconnection policy."""

    def __init__(self, client: ClientT, *, reconnect: bool, ssl_context: ssl.SSLContext | None,
                 open_timeout: float) -> None:
        self._client: ClientT = client
        self._websockets = _websockets()
        self._url = socket_url(client.base_url)
        self._ssl = ssl_context
        self._open_timeout = open_timeout
        self._policy = _Reconnection(reconnect)
        self._socket: SocketT | None = None
        self._token: str | None = None
        self._closed = False

    def _connect_options(self) -> dict[str, Any]:
        """The options of the next connection, with the client's current access token."""
        token = self._client._token_store.access_token
        if token is None:
            raise RealtimeAuthenticationError("Sign in first: the realtime socket needs an access token")
        self._token = token
        options: dict[str, Any] = {"additional_headers": {"Authorization": f"Bearer {token}"},
                                   "user_agent_header": USER_AGENT, "open_timeout": self._open_timeout}
        if self._ssl is not None:
            options["ssl"] = self._ssl
        return options

    def _message(self, raw: str | bytes) -> RealtimeMessage | None:
        message = _decode(raw)
        if message is not None:
            self._policy.received()
        return message


class AsyncRealtimeConnection(_Feed["AsyncAPIClient", "AsyncSocket"]):
    """An open realtime feed: ``async for message in feed`` (see the module docstring for reconnection)."""

    async def __aenter__(self) -> Self:
        while self._socket is None:
            await self._open()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> RealtimeMessage:
        while not self._closed:
            if self._socket is None:
                await self._open()
                continue
            try:
                raw = await self._socket.recv()
            except self._websockets.exceptions.ConnectionClosed as error:
                self._socket = None
                if not self._closed:
                    await self._recover(*_close_of(error))
                continue
            message = self._message(raw)
            if message is not None:
                return message
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Close the socket; iterating then ends."""
        self._closed = True
        if self._socket is not None:
            await self._socket.close()

    async def _open(self) -> None:
        await self._client._refresher.ensure_fresh()
        options = self._connect_options()
        try:
            self._socket = await self._websockets.asyncio.client.connect(self._url, **options)
        except _open_errors(self._websockets) as error:
            await self._recover(None, str(error) or type(error).__name__)

    async def _recover(self, code: int | None, reason: str) -> None:
        delay = self._policy.after(code, reason)
        if delay is not None:
            await asyncio.sleep(delay)
        elif not await self._client._refresher.recover_from_401(self._token):
            raise RealtimeAuthenticationError(reason or "The access token was refused and could not be refreshed")


class RealtimeConnection(_Feed["SyncAPIClient", "SyncSocket"]):
    """An open realtime feed: ``for message in feed`` (see the module docstring for reconnection). ``close()``
    may be called from another thread to end the iteration."""

    def __enter__(self) -> Self:
        while self._socket is None:
            self._open()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> RealtimeMessage:
        while not self._closed:
            if self._socket is None:
                self._open()
                continue
            try:
                raw = self._socket.recv()
            except self._websockets.exceptions.ConnectionClosed as error:
                self._socket = None
                if not self._closed:
                    self._recover(*_close_of(error))
                continue
            message = self._message(raw)
            if message is not None:
                return message
        raise StopIteration

    def close(self) -> None:
        """Close the socket; iterating then ends."""
        self._closed = True
        if self._socket is not None:
            self._socket.close()

    def _open(self) -> None:
        self._client._refresher.ensure_fresh()
        options = self._connect_options()
        try:
            socket = self._websockets.sync.client.connect(self._url, **options)
            self._socket = socket.__enter__()  # the feed, not a with block, owns the socket until close()
        except _open_errors(self._websockets) as error:
            self._recover(None, str(error) or type(error).__name__)

    def _recover(self, code: int | None, reason: str) -> None:
        delay = self._policy.after(code, reason)
        if delay is not None:
            time.sleep(delay)
        elif not self._client._refresher.recover_from_401(self._token):
            raise RealtimeAuthenticationError(reason or "The access token was refused and could not be refreshed")


class AsyncRealtime(APIResource["AsyncAPIClient"]):
    """Live messages for the signed-in user."""

    def connect(self, *, reconnect: bool = True, ssl_context: ssl.SSLContext | None = None,
                open_timeout: float = DEFAULT_OPEN_TIMEOUT) -> AsyncRealtimeConnection:
        """A feed to use with ``async with``; ``ssl_context`` to trust a private CA for ``wss``."""
        return AsyncRealtimeConnection(self._client, reconnect=reconnect, ssl_context=ssl_context,
                                       open_timeout=open_timeout)


class Realtime(APIResource["SyncAPIClient"]):
    """Live messages for the signed-in user."""

    def connect(self, *, reconnect: bool = True, ssl_context: ssl.SSLContext | None = None,
                open_timeout: float = DEFAULT_OPEN_TIMEOUT) -> RealtimeConnection:
        """A feed to use with ``with``; ``ssl_context`` to trust a private CA for ``wss``."""
        return RealtimeConnection(self._client, reconnect=reconnect, ssl_context=ssl_context,
                                  open_timeout=open_timeout)
