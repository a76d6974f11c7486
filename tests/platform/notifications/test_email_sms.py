"""The email and SMS channels: notifications hands mail and texts to the email and SMS services, which run on
another node (reached over NATS), and follows their `email.*` / `sms.*` events to the final status. The mail
lands in the session stack's mail catcher, the text in the SMS service's dev outbox."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from gravity_platform.devstack.mailbox import CaughtMail, Mailbox
from gravity_platform.kernel.migrations import migrate
from gravity_platform.kernel.node import build_node
from gravity_platform.kernel.settings import GravitySettings
from tests.platform.conftest import Account
from tests.platform.harness import RunningNode, running_node
from tests.platform.notifications.conftest import (
    channel_status,
    eventually,
    notification,
    put_template,
    send,
    unique_name,
)

MAIL_SERVICES = ["email", "sms"]
TEMPLATE = {
    "email": {"subject": "Welcome {{ name }}", "text": "Hello {{ name }}", "html": "<p>Hello {{ name }}</p>"},
    "sms": {"text": "Code for {{ name }}: {{ code }}"},
}


@pytest.fixture(scope="module")
async def mail_node(settings: GravitySettings, node: RunningNode) -> AsyncIterator[RunningNode]:
    """The email and SMS services on a node of their own (dev SMS outbox, fast retries)."""
    fast = {"poll_interval": 0.1}
    services = {**settings.service, "email": {**settings.service.get("email", {}), **fast},
                "sms": {"provider": "outbox", **fast}}
    mail_settings = settings.model_copy(update={"node_name": "mail-node", "service": services})
    built = build_node(mail_settings, MAIL_SERVICES)
    await migrate(mail_settings.database.url, built.services, built.master_key)
    async with running_node(mail_settings, MAIL_SERVICES) as running:
        yield running


async def caught(settings: GravitySettings, to: str, timeout: float = 30.0) -> CaughtMail:
    mailbox = Mailbox(settings.service["email"]["catcher_dir"])
    deadline = time.monotonic() + timeout
    while True:
        found = [mail for mail in mailbox.list() if to in mail.envelope_to]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no mail caught for {to}"
        await asyncio.sleep(0.1)


def unique_number() -> str:
    return f"+1415{uuid.uuid4().int % 8_000_000 + 2_000_000}"


async def test_email_and_sms_through_their_services(http: httpx2.AsyncClient, admin: Account, account: Account,
                                                    settings: GravitySettings, mail_node: RunningNode) -> None:
    async def preferences() -> dict[str, Any]:
        body: dict[str, Any] = (await http.get("/api/v1/notifications/preferences", headers=account.headers)).json()
        return body

    await eventually(preferences, lambda body: body["email"] == account.email)  # learned from auth's event
    phone = unique_number()
    changed = await http.patch("/api/v1/notifications/preferences", json={"phone": phone.replace("+1", "+1 ")},
                               headers=account.headers)
    assert changed.json()["phone"] == phone  # kept in E.164
    name = unique_name()
    await put_template(http, admin, name, TEMPLATE)
    sent = await send(http, admin, user_id=account.id, template=name, data={"name": "<Ada>", "code": "1234"})
    created = sent.json()["notifications"][0]
    final = await eventually(lambda: notification(http, admin, created["id"]),
                             lambda body: channel_status(body)["email"] == "sent"
                             and channel_status(body)["sms"] in ("sent", "delivered"))
    assert all(d["attempts"] == 1 for d in final["deliveries"]), final

    mail = await caught(settings, account.email)
    assert mail.subject == "Welcome <Ada>"
    assert mail.body("plain") is not None and "Hello <Ada>" in (mail.body("plain") or "")
    assert "<p>Hello &lt;Ada&gt;</p>" in (mail.body("html") or "")
    async with mail_node.client() as mail_http:
        outbox = await mail_http.get("/api/v1/sms/dev/outbox", params={"to": phone}, headers=admin.headers)
    assert [entry["body"] for entry in outbox.json()["items"]] == ["Code for <Ada>: 1234"]


async def test_invalid_phone_number(http: httpx2.AsyncClient, account: Account) -> None:
    refused = await http.patch("/api/v1/notifications/preferences", json={"phone": "+1 555"},
                               headers=account.headers)
    assert refused.status_code == 422
    assert refused.json()["type"] == "urn:gravity:error:invalid-phone-number"
