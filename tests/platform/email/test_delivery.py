"""Delivery through a relay that misbehaves: retries with backoff, permanent failures, the same Message-ID."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx2

from gravity_platform.services.email.plugin import EmailService
from gravity_platform.services.email.smtp import SmtpOptions, SmtpTransport
from gravity_platform.services.email.worker import backoff
from tests.platform.conftest import Account, unique_email
from tests.platform.email.smtp_server import Relay, smtp_server
from tests.platform.email.support import email_events, wait_status
from tests.platform.harness import RunningNode

FAST = {"retry_base_delay": 0.05, "retry_max_delay": 0.2, "poll_interval": 0.05}


@contextlib.asynccontextmanager
async def relaying_to(node: RunningNode, port: int, **settings: Any) -> AsyncIterator[EmailService]:
    """Point the session's email service at the relay on `port` for the block (and back afterwards)."""
    service = node.node.service("email")
    assert isinstance(service, EmailService)
    saved = service.transport, service.settings
    service.transport = SmtpTransport(SmtpOptions(port=port, tls="none", timeout=5))
    service.settings = service.settings.model_copy(update={**FAST, **settings})
    try:
        yield service
    finally:
        service.transport, service.settings = saved


async def _send(http: httpx2.AsyncClient, admin: Account, to: str) -> str:
    answer = await http.post("/api/v1/email/send", headers=admin.headers,
                             json={"to": [to], "subject": "Retry me", "text": "t", "idempotency_key": to})
    assert answer.status_code == 202, answer.text
    email_id: str = answer.json()["id"]
    return email_id


async def test_transient_failures_are_retried_with_the_same_message_id(
        http: httpx2.AsyncClient, node: RunningNode, admin: Account) -> None:
    to = unique_email("retry")
    relay = Relay(replies=["451 4.3.0 try later", "421 4.7.0 busy"], target=to)
    async with smtp_server(relay) as port, relaying_to(node, port):
        email_id = await _send(http, admin, to)
        status = await wait_status(http, email_id, admin.headers, "sent")
    assert status["attempts"] == 3 and status["error"] is None
    assert relay.attempts == [status["message_id"]] * 3 and len(relay.accepted) == 1
    [event] = await email_events(node.node.settings.nats.url, "sent", email_id)
    assert event["data"]["idempotency_key"] == status["to"][0]


async def test_a_permanent_failure_fails_at_once(http: httpx2.AsyncClient, node: RunningNode,
                                                 admin: Account) -> None:
    to = unique_email("bounce")
    relay = Relay(replies=["550 5.1.1 mailbox unavailable"], target=to)
    async with smtp_server(relay) as port, relaying_to(node, port):
        email_id = await _send(http, admin, to)
        status = await wait_status(http, email_id, admin.headers, "failed")
    assert status["attempts"] == 1 and "550" in status["error"]
    assert relay.accepted == []
    [event] = await email_events(node.node.settings.nats.url, "failed", email_id)
    assert "550" in event["data"]["error"]


async def test_an_unreachable_relay_fails_after_the_last_attempt(http: httpx2.AsyncClient, node: RunningNode,
                                                                 admin: Account) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with relaying_to(node, port, max_attempts=3):
        email_id = await _send(http, admin, unique_email("down"))
        status = await wait_status(http, email_id, admin.headers, "failed")
    assert status["attempts"] == 3 and "could not talk" in status["error"]
    assert await email_events(node.node.settings.nats.url, "sent", email_id, wait=0) == []


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    delays = [backoff(attempt, 2.0, 60.0) for attempt in range(1, 10)]
    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(60.0, 2.0 * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert len({backoff(3, 2.0, 60.0) for _ in range(20)}) > 1
