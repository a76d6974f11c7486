"""The example plugin examples/webhook-email (installed editable, as ./gravityw does): a node configured with
`transport = "webhook"` POSTs signed JSON."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from gravity_webhook_email import sign, verify

from gravity_platform.devstack import StackEndpoints
from gravity_platform.services.email.plugin import EmailService
from tests.platform.conftest import unique_email
from tests.platform.harness import RunningNode, free_port, make_settings, running_node

SECRET = "a shared secret of some length"


@dataclass
class Receiver:
    """An HTTP endpoint answering each POST with the next scripted status (then 200) and keeping what it got;
    only mail to `target` is scripted (other mail, e.g. from other tests, just gets 200)."""

    target: str
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        self.received.append((headers, body))
        ours = self.target in json.loads(body).get("to", [])
        status = self.statuses.pop(0) if self.statuses and ours else 200
        answer = json.dumps({"id": f"rcv-{len(self.received)}"}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": answer})


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


@contextlib.asynccontextmanager
async def serving(app: Receiver) -> AsyncIterator[str]:
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off",
                                    access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/hooks/mail"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def session_worker_paused(node: RunningNode) -> AsyncIterator[None]:
    """Keep the session node from delivering (the queue is shared by every node hosting email)."""
    service = node.node.service("email")
    assert isinstance(service, EmailService)
    saved, service.transport = service.transport, None
    try:
        yield
    finally:
        service.transport = saved


async def _status(node: RunningNode, email_id: str, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        status: dict[str, Any] = json.loads(
            await node.node.bus.request("email", "status", json.dumps({"id": email_id}).encode()))
        if status["status"] == wanted:
            return status
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.05)


async def test_a_webhook_node_posts_signed_json(stack: StackEndpoints, key_file: Path, node: RunningNode) -> None:
    to = unique_email("hook")
    receiver = Receiver(target=to, statuses=[503])
    async with serving(receiver) as url, session_worker_paused(node):
        email = {"transport": "webhook", "transport_options": {"url": url, "secret": SECRET},
                 "retry_base_delay": 0.05, "retry_max_delay": 0.1, "poll_interval": 0.05}
        settings = make_settings(stack, key_file, service={"email": email}, node_name="webhook-node")
        async with running_node(settings, ["email"]) as webhook_node:
            request = {"to": [to], "subject": "Via webhook", "text": "plain", "html": "<i>rich</i>",
                       "metadata": {}}
            accepted = json.loads(await webhook_node.node.bus.request("email", "send", json.dumps(request).encode()))
            status = await _status(webhook_node, accepted["id"], "sent")
            receiver.target = unique_email("refused")
            receiver.statuses = [400]
            request["to"] = [receiver.target]
            refused = json.loads(await webhook_node.node.bus.request("email", "send", json.dumps(request).encode()))
            failed = await _status(webhook_node, refused["id"], "failed")
    assert status["attempts"] == 2 and failed["attempts"] == 1 and "400" in failed["error"]
    ours = [(headers, sent) for headers, sent in receiver.received
            if headers["idempotency-key"] in (f"<{accepted['id']}@gravity.local>", f"<{refused['id']}@gravity.local>")]
    (first, body), (second, again), _ = ours
    assert body == again
    assert first["idempotency-key"] == second["idempotency-key"] == f"<{accepted['id']}@gravity.local>"
    document = json.loads(body)
    assert document["to"] == [to] and document["subject"] == "Via webhook" and document["html"] == "<i>rich</i>"
    for headers, sent in ours:
        expected = hmac.new(SECRET.encode(), headers["x-gravity-timestamp"].encode() + b"." + sent,
                            hashlib.sha256).hexdigest()
        assert headers["x-gravity-signature"] == f"sha256={expected}"
        assert abs(time.time() - int(headers["x-gravity-timestamp"])) < 60


def test_the_receiver_side_check() -> None:
    body, stamp = b'{"to":["a@example.com"]}', str(int(time.time()))
    good = sign(SECRET, stamp, body)
    assert verify(SECRET, stamp, body, good)
    assert not verify(SECRET, stamp, body + b" ", good)
    assert not verify("another secret entirely", stamp, body, good)
    assert not verify(SECRET, str(int(time.time()) - 3600), body, sign(SECRET, str(int(time.time()) - 3600), body))
    assert not verify(SECRET, "soon", body, good)
