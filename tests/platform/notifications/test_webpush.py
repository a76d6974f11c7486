"""Web Push: the encrypted, VAPID-signed request reaches a local push service; a gone subscription is
forgotten; a push service answering 500 makes the job retry with backoff and end in the dead-letter stream."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import http_ece  # type: ignore[import-untyped]
import httpx2
import jwt
import nats
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gravity_platform.kernel.settings import GravitySettings
from gravity_platform.services.notifications.jobs import DEAD_LETTER_STREAM
from tests.platform.conftest import Account
from tests.platform.harness import free_port
from tests.platform.notifications.conftest import (
    channel_status,
    eventually,
    notification,
    put_template,
    send,
    unique_name,
)

PUSH = {"push": {"title": "Hi {{ name }}", "body": "{{ count }} new"}}
SUBSCRIPTIONS = "/api/v1/notifications/push-subscriptions"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class PushService:
    """A local push service: `/ok/...` answers 201, `/gone/...` 410, `/fail/...` 500; every request is kept."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.received.append({"path": scope["path"], "headers": headers, "body": body, "at": time.monotonic()})
        kind = scope["path"].split("/")[1]
        status = {"ok": 201, "gone": 410}.get(kind, 500)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def to(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.received if r["path"] == path]


@pytest.fixture(scope="module")
async def push_service() -> AsyncIterator[PushService]:
    port = free_port()
    service = PushService(f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn.Config(service.app, host="127.0.0.1", port=port, log_config=None,
                                           lifespan="off", access_log=False, interface="asgi3"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    yield service
    server.should_exit = True
    await task


@dataclass
class Browser:
    """What a browser keeps for one push subscription: its ECDH key and auth secret."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self) -> dict[str, Any]:
        public = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                    serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64(public), "auth": b64(self.auth)},
                "expirationTime": None}

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        decoded: dict[str, Any] = json.loads(plain)
        return decoded


async def subscribe(http: httpx2.AsyncClient, account: Account, browser: Browser) -> str:
    response = await http.post(SUBSCRIPTIONS, json=browser.subscription(), headers=account.headers)
    assert response.status_code == 201, response.text
    subscription_id: str = response.json()["id"]
    return subscription_id


async def test_encrypted_and_signed_push(http: httpx2.AsyncClient, admin: Account, account: Account,
                                         push_service: PushService) -> None:
    good, gone = Browser(f"{push_service.url}/ok/{unique_name()}"), Browser(f"{push_service.url}/gone/{unique_name()}")
    await subscribe(http, account, good)
    await subscribe(http, account, gone)
    name = unique_name()
    await put_template(http, admin, name, PUSH)
    sent = (await send(http, admin, user_id=account.id, template=name, data={"name": "Ada", "count": 3})).json()
    created = sent["notifications"][0]
    final = await eventually(lambda: notification(http, admin, created["id"]),
                             lambda body: channel_status(body)["push"] not in ("pending", "sending", "retrying"))
    assert channel_status(final)["push"] == "sent", final

    [request] = push_service.to(good.endpoint.removeprefix(push_service.url))
    headers = request["headers"]
    assert headers["content-encoding"] == "aes128gcm" and int(headers["ttl"]) > 0
    assert good.decrypt(request["body"]) == {"title": "Hi Ada", "body": "3 new",
                                             "data": {"notification_id": created["id"]}}
    scheme, _, params = headers["authorization"].partition(" ")
    values = dict(part.strip().split("=", 1) for part in params.split(","))
    assert scheme == "vapid"
    published = (await http.get("/api/v1/notifications/vapid-public-key", headers=account.headers)).json()
    assert values["k"] == published["public_key"]
    point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(values["k"]))
    claims = jwt.decode(values["t"], key=point, algorithms=["ES256"], audience=push_service.url)
    assert claims["sub"].startswith("mailto:") and claims["exp"] > 0

    listed = (await http.get(SUBSCRIPTIONS, headers=account.headers)).json()["items"]
    assert [s["endpoint"] for s in listed] == [good.endpoint]  # the 410 one was forgotten


async def test_failing_push_retries_then_dead_letters(http: httpx2.AsyncClient, admin: Account, account: Account,
                                                      push_service: PushService, settings: GravitySettings) -> None:
    failing = Browser(f"{push_service.url}/fail/{unique_name()}")
    await subscribe(http, account, failing)
    name = unique_name()
    await put_template(http, admin, name, PUSH)
    sent = (await send(http, admin, user_id=account.id, template=name, data={"name": "x", "count": 1})).json()
    created = sent["notifications"][0]
    final = await eventually(lambda: notification(http, admin, created["id"]),
                             lambda body: channel_status(body)["push"] == "dead")
    push = next(d for d in final["deliveries"] if d["channel"] == "push")
    assert push["attempts"] == 3 and "500" in push["last_error"]  # max_attempts in the package settings

    attempts = push_service.to(failing.endpoint.removeprefix(push_service.url))
    assert len(attempts) == 3
    gaps = [later["at"] - earlier["at"] for earlier, later in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.15 and gaps[1] >= 0.35, gaps  # NAKed with 0.2 s, then 0.4 s (exponential backoff)

    connection = await nats.connect(settings.nats.url)
    try:
        last = await connection.jetstream().get_last_msg(DEAD_LETTER_STREAM, "gravity.notify.dead.push")
    finally:
        await connection.close()
    dead = json.loads(last.data or b"{}")
    assert dead["job"]["delivery_id"] and dead["deliveries"] == 3 and "500" in dead["error"], dead



async def test_subscriptions_are_per_user(http: httpx2.AsyncClient, account: Account,
                                          push_service: PushService) -> None:
    from tests.platform.conftest import new_account

    other = await new_account(http)
    browser = Browser(f"{push_service.url}/ok/{unique_name()}")
    subscription_id = await subscribe(http, account, browser)
    assert (await http.delete(f"{SUBSCRIPTIONS}/{subscription_id}", headers=other.headers)).status_code == 404
    assert (await http.delete(f"{SUBSCRIPTIONS}/{subscription_id}", headers=account.headers)).status_code == 204
    assert (await http.get(SUBSCRIPTIONS, headers=account.headers)).json()["items"] == []
    bad = {**browser.subscription(), "endpoint": "javascript:alert(1)"}
    assert (await http.post(SUBSCRIPTIONS, json=bad, headers=account.headers)).status_code == 400
