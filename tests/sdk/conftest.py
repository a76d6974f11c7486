"""Fixtures for SDK unit tests: clients wired to an ``httpx2.MockTransport``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import pytest

from gravity_sdk import AsyncGravity, Gravity

BASE_URL = "http://gravity.test"

USER: dict[str, Any] = {
    "id": "0b7e5c3e-8a57-4b8e-9a43-0c3a8f1f9d10",
    "email": "ada@example.com",
    "display_name": "Ada",
    "roles": ["user"],
    "is_active": True,
    "email_verified": False,
    "created_at": "2025-01-01T00:00:00Z",
    "updated_at": "2025-01-02T00:00:00Z",
    "metadata": {"team": "engines"},
}

Handler = Callable[[httpx2.Request], Any]


def user(**overrides: Any) -> dict[str, Any]:
    return {**USER, **overrides}


def token_body(access: str = "access-1", refresh: str | None = "refresh-1", expires_in: int = 900) -> dict[str, Any]:
    body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": expires_in}
    if refresh is not None:
        body["refresh_token"] = refresh
    return body


def bearer(request: httpx2.Request) -> str | None:
    value = request.headers.get("authorization", "")
    return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None


class Sleeps(list[float]):
    """Records the delays a client would have slept for."""


@pytest.fixture
def make_client() -> Iterator[Callable[..., Gravity]]:
    clients: list[Gravity] = []

    def factory(handler: Handler, **kwargs: Any) -> Gravity:
        kwargs.setdefault("base_url", BASE_URL)
        client = Gravity(transport=httpx2.MockTransport(handler), **kwargs)
        client.sleeps = Sleeps()  # type: ignore[attr-defined]
        client._sleep = client.sleeps.append  # type: ignore[attr-defined,method-assign]
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
async def make_async_client() -> AsyncIterator[Callable[..., AsyncGravity]]:
    clients: list[AsyncGravity] = []

    def factory(handler: Handler, **kwargs: Any) -> AsyncGravity:
        kwargs.setdefault("base_url", BASE_URL)
        client = AsyncGravity(transport=httpx2.MockTransport(handler), **kwargs)
        sleeps = Sleeps()

        async def fake_sleep(seconds: float) -> None:
            sleeps.append(seconds)

        client.sleeps = sleeps  # type: ignore[attr-defined]
        client._sleep = fake_sleep  # type: ignore[method-assign]
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()
