"""The realtime WebSocket `/api/v1/realtime`: relays to a signed-in client everything published on core NATS
`gravity.rt.user.<user_id>` (JSON `{"topic": ..., "data": ...}`), from whichever node published it.

The access token comes as an `Authorization: Bearer` header, an `access_token` query parameter, or — for
browsers, which cannot set headers on a WebSocket — the subprotocol pair `["bearer", "<token>"]` (answered with
the subprotocol `bearer`). Without a valid, not revoked token the socket is accepted and closed at once with
code 4401; it is closed the same way when the token is revoked or expires while connected.

The handshake completes only once NATS has confirmed the socket's subscription, so whatever is published for
the user after the client sees the socket open reaches it (on one NATS server; across a NATS cluster, interest
travels between servers within milliseconds). Without NATS the socket is closed at once with code 1013."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from gravity_platform.kernel.access import PUBLIC
from gravity_platform.kernel.errors import GravityError
from gravity_platform.kernel.node import DENY_TOPIC
from gravity_platform.kernel.security import Principal

log = logging.getLogger("gravity.realtime")

PATH = "/api/v1/realtime"
UNAUTHORIZED = 4401
TRY_AGAIN_LATER = 1013
SUBSCRIBE_TIMEOUT = 5.0
"""Seconds NATS has to confirm the socket's subscriptions before the socket is closed with 1013."""
CHECK_INTERVAL = 5.0
"""Seconds between two checks that the socket's token is still valid (deny-list and expiry)."""
QUEUE_SIZE = 256
"""Messages held for a slow client; past this the oldest are dropped (the inbox keeps them anyway)."""
AnySocket = WebSocket[Any, Any, Any]


def user_subject(user_id: str) -> str:
    """The NATS subject relayed to one user's sockets."""
    return f"gravity.rt.user.{user_id}"


def offered_token(socket: AnySocket) -> tuple[str | None, str | None]:
    """The access token the client offered, and the subprotocol to answer with (if it came as one)."""
    authorization = socket.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip(), None
    query = socket.query_params.get("access_token")
    if query:
        return str(query), None
    protocols = [p.strip() for p in socket.scope.get("subprotocols", [])]
    if "bearer" in protocols:
        index = protocols.index("bearer")
        if index + 1 < len(protocols):
            return protocols[index + 1], "bearer"
    return None, None


def _revoked(node: Any, principal: Principal) -> bool:
    expired = principal.expires_at <= time.time()
    return expired or bool(node.deny_list.denies(principal.token_id, principal.session_id, principal.subject,
                                                 principal.issued_at))


async def _authenticate(node: Any, token: str | None) -> Principal | None:
    if not token:
        return None
    try:
        principal: Principal = await node.verifier.verify(token)
    except GravityError:
        return None
    return None if _revoked(node, principal) else principal


@websocket(PATH, opt={"permission": PUBLIC}, name="realtime")
async def realtime(socket: AnySocket) -> None:
    """Live messages for the signed-in user (see the module docstring for how to authenticate)."""
    node = socket.app.state.node
    token, subprotocol = offered_token(socket)
    principal = await _authenticate(node, token)
    if principal is None:
        await _refuse(socket, subprotocol, UNAUTHORIZED, "A valid access token is required")
        return
    queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_SIZE)
    recheck = asyncio.Event()

    async def on_message(message: Any) -> None:
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(message.data)

    async def on_denied(message: Any) -> None:
        entry = json.loads(message.data)  # applied here too: the node's own handler may not have run yet
        node.deny_list.remember(entry["kind"], entry["value"], int(entry["ttl"]), int(entry["marker"]))
        recheck.set()

    subscriptions: list[Any] = []
    try:
        nc = node.bus.nc
        if nc is None or not node.bus.connected:
            raise ConnectionError("not connected to NATS")
        subscriptions = [await nc.subscribe(user_subject(principal.subject), cb=on_message),
                         await nc.subscribe(f"gravity.rt.{DENY_TOPIC}", cb=on_denied)]
        await nc.flush(timeout=SUBSCRIBE_TIMEOUT)
    except Exception as error:
        log.warning("realtime socket refused: live updates unavailable", extra={"error": repr(error)})
        await _refuse(socket, subprotocol, TRY_AGAIN_LATER, "Live updates are unavailable right now")
        await _unsubscribe(subscriptions)
        return
    try:
        await socket.accept(subprotocols=subprotocol)
        await _relay(socket, node, principal, queue, recheck)
    finally:
        await _unsubscribe(subscriptions)


async def _refuse(socket: AnySocket, subprotocol: str | None, code: int, reason: str) -> None:
    """Complete the handshake and close at once: browsers see the close code, not a failed handshake."""
    await socket.accept(subprotocols=subprotocol)
    await socket.close(code=code, reason=reason)


async def _unsubscribe(subscriptions: list[Any]) -> None:
    for subscription in subscriptions:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()


async def _relay(socket: AnySocket, node: Any, principal: Principal, queue: asyncio.Queue[bytes],
                 recheck: asyncio.Event) -> None:
    """Send queued messages until the client leaves or the token stops being valid (checked every
    CHECK_INTERVAL seconds and at once when a revocation is broadcast)."""
    reader = asyncio.create_task(_until_disconnect(socket))
    try:
        while not reader.done():
            getter, waker = asyncio.ensure_future(queue.get()), asyncio.ensure_future(recheck.wait())
            done, _ = await asyncio.wait({getter, waker, reader}, timeout=CHECK_INTERVAL,
                                         return_when=asyncio.FIRST_COMPLETED)
            for waiting in (getter, waker):
                if waiting not in done:
                    waiting.cancel()
            recheck.clear()
            if reader.done():
                return
            if _revoked(node, principal):
                await socket.close(code=UNAUTHORIZED, reason="The access token was revoked or has expired")
                return
            if getter in done:
                await socket.send_text(getter.result().decode())
    except WebSocketDisconnect:
        return
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await reader


async def _until_disconnect(socket: AnySocket) -> None:
    """Read (and ignore) what the client sends, returning when it disconnects."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await socket.receive_data(mode="text")
