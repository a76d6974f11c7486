"""Fixtures for the notifications tests and small helpers.

The tests run their own node (gateway, auth, users, notifications) on the session's PostgreSQL and Valkey but
with a NATS server of its own: its JetStream work queues and durable consumers are then this node's alone,
so the small retry and backoff settings below are the ones every job sees."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest

from gravity_platform.devstack import StackEndpoints
from gravity_platform.kernel.admin import admin_node
from gravity_platform.kernel.migrations import migrate
from gravity_platform.kernel.node import build_node
from gravity_platform.kernel.settings import GravitySettings
from gravity_platform.services.notifications.plugin import NotificationsService
from tests.platform.conftest import PASSWORD, Account, sign_in, unique_email
from tests.platform.harness import RunningNode, make_settings, running_node
from tests.platform.support import extra_stack

T = TypeVar("T")
SERVICES = ["gateway", "auth", "users", "notifications"]
NOTIFICATIONS = {"max_attempts": 3, "backoff_base": 0.2, "backoff_max": 1.0, "ack_wait": 30}


@pytest.fixture(scope="package")
async def bus_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A NATS server for this package's nodes only."""
    async with extra_stack(tmp_path_factory.mktemp("notifications-bus")) as bus:
        yield bus.endpoints.nats_url


@pytest.fixture(scope="package")
async def settings(stack: StackEndpoints, key_file: Path, bus_url: str) -> GravitySettings:
    """Settings of this package's node; its services' migrations run once."""
    settings = make_settings(stack, key_file, nats={"url": bus_url}, node_name="notifications-tests",
                             service={"notifications": NOTIFICATIONS, "auth": {"access_token_ttl": 3600}})
    node = build_node(settings, SERVICES)
    await migrate(settings.database.url, node.services, node.master_key)
    return settings


@pytest.fixture(scope="package")
async def node(settings: GravitySettings) -> AsyncIterator[RunningNode]:
    """The node under test, serving HTTP on a free port."""
    async with running_node(settings, SERVICES) as running:
        yield running


@pytest.fixture(scope="package")
async def admin_credentials(settings: GravitySettings, node: RunningNode) -> tuple[str, str]:
    """An admin created the way `gravity users create-admin` does."""
    email = unique_email("admin")
    async with admin_node(settings, ["auth", "users"]) as admin:
        await admin.service("auth").accounts.register(email, PASSWORD, "Admin", address="test",  # type: ignore[attr-defined]
                                                      roles=["admin", "user"], actor="test")
    return email, PASSWORD


@pytest.fixture(scope="package")
async def admin(node: RunningNode, admin_credentials: tuple[str, str]) -> Account:
    """The admin, signed in once for the package (password hashing is slow on a busy machine)."""
    email, password = admin_credentials
    async with node.client() as http:
        tokens = (await sign_in(http, email, password)).json()
        me = await http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    return Account(me.json()["id"], email, password, tokens["access_token"], tokens["refresh_token"])


@pytest.fixture
def service(node: RunningNode) -> NotificationsService:
    """The notifications service hosted by the node under test."""
    found = node.node.service("notifications")
    assert isinstance(found, NotificationsService)
    return found


async def eventually(probe: Callable[[], Awaitable[T]], check: Callable[[T], bool], *, timeout: float = 30.0,
                     interval: float = 0.1) -> T:
    """Call `probe` until `check` holds for its result (generous deadline, ends as soon as it holds)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout}s; last value: {value!r}")
        await asyncio.sleep(interval)


def unique_name(prefix: str = "tpl") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def put_template(http: httpx2.AsyncClient, admin: Account, name: str, channels: dict[str, Any],
                       **extra: Any) -> dict[str, Any]:
    response = await http.put(f"/api/v1/notifications/templates/{name}", json={"channels": channels, **extra},
                              headers=admin.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def attempt_send(http: httpx2.AsyncClient, sender: Account, **body: Any) -> httpx2.Response:
    """POST a send request as `sender` and return the reply, whatever it is."""
    body.setdefault("idempotency_key", uuid.uuid4().hex)
    return await http.post("/api/v1/notifications", json=body, headers=sender.headers)


async def send(http: httpx2.AsyncClient, sender: Account, **body: Any) -> httpx2.Response:
    """Send a notification, failing the test at once if it is not accepted."""
    response = await attempt_send(http, sender, **body)
    assert response.status_code == 201, response.text
    return response


async def notification(http: httpx2.AsyncClient, admin: Account, notification_id: str) -> dict[str, Any]:
    response = await http.get(f"/api/v1/notifications/{notification_id}", headers=admin.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def channel_status(body: dict[str, Any]) -> dict[str, str]:
    return {d["channel"]: d["status"] for d in body["deliveries"]}


INAPP = {"inapp": {"title": "Hello {{ name }}", "body": "You have {{ count }} new messages"}}
