"""Helpers for the sms service tests: JetStream events and waiting for a message's state."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx2
import pytest

from tests.platform.conftest import Account, sign_in
from tests.platform.harness import RunningNode
from tests.platform.support import relayed_events, stored_events


@pytest.fixture(scope="module")
async def admin(node: RunningNode, admin_credentials: tuple[str, str]) -> Account:
    """The admin, signed in once per module (password hashing is slow on a busy machine)."""
    email, password = admin_credentials
    async with node.client() as http:
        tokens = (await sign_in(http, email, password)).json()
        me = (await http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}))
    return Account(me.json()["id"], email, password, tokens["access_token"], tokens["refresh_token"])


def unique_number() -> str:
    """A valid number of its own (+1 415 2xx-9xx xxxx), so tests do not see each other's messages."""
    return f"+1415{uuid.uuid4().int % 8_000_000 + 2_000_000}"


async def sms_event(nats_url: str, event: str, sms_id: str, timeout: float = 20.0) -> dict[str, Any]:
    """The `gravity.events.sms.<event>` event about `sms_id` (waits for it to be relayed)."""
    found = await relayed_events(nats_url, f"gravity.events.sms.{event}",
                                 lambda document: document["data"]["id"] == sms_id, wait=timeout)
    assert found, f"no sms.{event} event for {sms_id}"
    return found[0]


async def sms_events(nats_url: str, event: str, sms_id: str) -> int:
    """How many `sms.<event>` events about `sms_id` JetStream holds now."""
    return len(await stored_events(nats_url, f"gravity.events.sms.{event}",
                                   lambda document: document["data"]["id"] == sms_id))


async def wait_status(http: httpx2.AsyncClient, sms_id: str, headers: dict[str, str], status: str,
                      timeout: float = 20.0) -> dict[str, Any]:
    """Poll `GET /api/v1/sms/{id}` until the message reaches `status`."""
    deadline = time.monotonic() + timeout
    while True:
        response = await http.get(f"/api/v1/sms/{sms_id}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] == status:
            return body
        assert time.monotonic() < deadline, f"message stayed {body['status']} (wanted {status}): {body}"
        await asyncio.sleep(0.05)

