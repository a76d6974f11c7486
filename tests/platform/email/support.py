"""Helpers for the email tests: the session's mail catcher, JetStream events, waiting for a status."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx2

from gravity_platform.devstack.mailbox import CaughtMail, Mailbox
from tests.platform.harness import RunningNode
from tests.platform.support import relayed_events


def catcher(node: RunningNode) -> Mailbox:
    """The mailbox of the session stack's mail catcher (the session node sends through it)."""
    folder = node.node.settings.service["email"]["catcher_dir"]
    return Mailbox(folder)


async def caught(node: RunningNode, to: str, *, count: int = 1, timeout: float = 20.0) -> list[CaughtMail]:
    """Wait until the catcher holds `count` messages for `to`; return them, oldest first."""
    mailbox = catcher(node)
    deadline = time.monotonic() + timeout
    while True:
        found = [mail for mail in mailbox.list() if to in mail.envelope_to]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"{len(found)} message(s) caught for {to}, wanted {count}"
        await asyncio.sleep(0.05)


async def wait_status(http: httpx2.AsyncClient, email_id: str, headers: dict[str, str], status: str,
                      timeout: float = 20.0) -> dict[str, Any]:
    """Poll `GET /api/v1/email/{id}` until the email reaches `status`."""
    deadline = time.monotonic() + timeout
    while True:
        response = await http.get(f"/api/v1/email/{email_id}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] == status:
            return body
        assert time.monotonic() < deadline, f"email stayed {body['status']} (wanted {status}): {body}"
        await asyncio.sleep(0.05)


async def email_events(nats_url: str, event: str, email_id: str, *, wait: float = 20.0) -> list[dict[str, Any]]:
    """Every `gravity.events.email.<event>` about `email_id`, once at least one has been relayed."""
    return await relayed_events(nats_url, f"gravity.events.email.{event}",
                                lambda document: document["data"]["id"] == email_id, wait=wait)
