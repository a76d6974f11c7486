"""Fixtures for tests against real nodes on the session's embedded stack."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from gravity_platform.devstack import StackEndpoints
from gravity_platform.kernel.admin import admin_node
from gravity_platform.kernel.migrations import migrate
from gravity_platform.kernel.node import build_node
from gravity_platform.kernel.settings import GravitySettings
from tests.platform.harness import RunningNode, make_settings, running_node

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
async def settings(stack: StackEndpoints, key_file: Path) -> GravitySettings:
    """Settings of the session node; the database is migrated once."""
    settings = make_settings(stack, key_file)
    node = build_node(settings)
    await migrate(settings.database.url, node.services, node.master_key)
    return settings


@pytest.fixture(scope="session")
async def node(settings: GravitySettings) -> AsyncIterator[RunningNode]:
    """One node hosting every service, serving HTTP on a free port."""
    async with running_node(settings) as running:
        yield running


@pytest.fixture
async def http(node: RunningNode) -> AsyncIterator[httpx2.AsyncClient]:
    async with node.client() as client:
        yield client


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


@dataclass
class Account:
    """A registered and signed-in test user."""

    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def sign_in(http: httpx2.AsyncClient, email: str, password: str = PASSWORD,
                  address: str | None = None) -> httpx2.Response:
    headers = {"X-Forwarded-For": address} if address else {}
    return await http.post("/oauth2/token", data={"grant_type": "password", "username": email,
                                                   "password": password}, headers=headers)


async def new_account(http: httpx2.AsyncClient, prefix: str = "user") -> Account:
    email = unique_email(prefix)
    registered = await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    tokens = (await sign_in(http, email)).json()
    return Account(registered.json()["id"], email, PASSWORD, tokens["access_token"], tokens["refresh_token"])


@pytest.fixture
async def account(http: httpx2.AsyncClient) -> Account:
    """A fresh ordinary user."""
    return await new_account(http)


@pytest.fixture(scope="session")
async def admin_credentials(settings: GravitySettings, node: RunningNode) -> tuple[str, str]:
    """An admin created the way `gravity users create-admin` does."""
    email = unique_email("admin")
    async with admin_node(settings, ["auth", "users"]) as admin:
        await admin.service("auth").accounts.register(email, PASSWORD, "Admin", address="test",  # type: ignore[attr-defined]
                                                      roles=["admin", "user"], actor="test")
    return email, PASSWORD


@pytest.fixture
async def admin(http: httpx2.AsyncClient, admin_credentials: tuple[str, str]) -> Account:
    """The admin, signed in afresh."""
    email, password = admin_credentials
    tokens = (await sign_in(http, email, password)).json()
    me = (await http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})).json()
    return Account(me["id"], email, password, tokens["access_token"], tokens["refresh_token"])
