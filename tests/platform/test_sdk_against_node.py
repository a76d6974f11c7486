"""The SDK (`Gravity` and `AsyncGravity`) driven against a real running node.

The node serves from this test's event loop, so the synchronous client runs in a worker thread."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from gravity_sdk import (
    AsyncGravity,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    Gravity,
    NotFoundError,
    PermissionDeniedError,
    Tokens,
    UnprocessableEntityError,
)
from tests.platform.conftest import PASSWORD, unique_email
from tests.platform.harness import RunningNode


@dataclass
class Traffic:
    """What a client sent: (method, path, status) per response."""

    calls: list[tuple[str, str, int]] = field(default_factory=list)

    def record(self, response: httpx2.Response) -> None:
        self.calls.append((response.request.method, response.request.url.path, response.status_code))

    async def arecord(self, response: httpx2.Response) -> None:
        self.record(response)

    def to(self, path: str) -> list[int]:
        return [status for _, called, status in self.calls if called == path]


@contextlib.contextmanager
def sync_client(node: RunningNode, traffic: Traffic, **kwargs: Any) -> Iterator[Gravity]:
    """A `Gravity` on the node whose HTTP traffic is recorded; closes the HTTP client it was given."""
    with httpx2.Client(event_hooks={"response": [traffic.record]}, timeout=10.0) as http, \
            Gravity(base_url=node.url, http_client=http, max_retries=0, **kwargs) as client:
        yield client


@contextlib.asynccontextmanager
async def async_client(node: RunningNode, traffic: Traffic, **kwargs: Any) -> AsyncIterator[AsyncGravity]:
    """An `AsyncGravity` on the node whose HTTP traffic is recorded; closes the HTTP client it was given."""
    async with httpx2.AsyncClient(event_hooks={"response": [traffic.arecord]}, timeout=10.0) as http, \
            AsyncGravity(base_url=node.url, http_client=http, max_retries=0, **kwargs) as client:
        yield client


@pytest.fixture
def traffic() -> Traffic:
    return Traffic()


# --- the synchronous client ----------------------------------------------------------------------------------


def _sync_journey(node: RunningNode) -> None:
    traffic = Traffic()
    seen_tokens: list[Tokens] = []
    email = unique_email("sdk-sync")
    with sync_client(node, traffic, on_tokens=seen_tokens.append) as client:
        created = client.auth.register(email=email, password=PASSWORD, display_name="Sync Sam")
        assert created.email == email
        assert created.display_name == "Sync Sam"
        with pytest.raises(ConflictError) as conflict:
            client.auth.register(email=email, password=PASSWORD)
        assert conflict.value.status_code == 409
        assert conflict.value.request_id == conflict.value.response.headers["x-request-id"]
        with pytest.raises(BadRequestError) as wrong:
            client.auth.login(email=email, password="definitely not it")
        assert wrong.value.error == "invalid_grant"

        tokens = client.auth.login(email=email, password=PASSWORD)
        assert tokens.refresh_token
        assert seen_tokens[-1].access_token == tokens.access_token
        me = client.users.me()
        assert me.id == created.id
        assert client.users.update_me(display_name="Samantha", metadata={"plan": "pro"}).display_name == "Samantha"
        assert client.users.me().metadata == {"plan": "pro"}
        info = client.auth.userinfo()
        assert info.sub == created.id
        assert info.email == email
        assert info.name == "Samantha"

        key = client.auth.api_keys.create(name="ci", scopes=["users:me"])
        assert key.client_secret
        assert [k.id for k in client.auth.api_keys.list()] == [key.id]
        with sync_client(node, traffic) as program:
            granted = program.auth.login_with_client_credentials(client_id=key.client_id,
                                                                 client_secret=key.client_secret)
            assert granted.refresh_token is None
            assert program.users.me().id == created.id
            client.auth.api_keys.revoke(key.id)
            assert list(client.auth.api_keys.list()) == []
            with pytest.raises(AuthenticationError):
                program.users.me()
            with pytest.raises(AuthenticationError):
                program.auth.login_with_client_credentials(client_id=key.client_id, client_secret=key.client_secret)

        old_access = client.tokens.access_token
        client.auth.logout()
        assert client.tokens == Tokens()
        assert seen_tokens[-1] == Tokens()
        with pytest.raises(AuthenticationError):
            client.users.me()
    with sync_client(node, traffic, access_token=old_access) as stale, pytest.raises(AuthenticationError):
        stale.users.me()


async def test_sync_client_journey(node: RunningNode) -> None:
    await asyncio.to_thread(_sync_journey, node)


# --- the asynchronous client ---------------------------------------------------------------------------------


async def test_async_client_journey(node: RunningNode, traffic: Traffic) -> None:
    email = unique_email("sdk-async")
    async with async_client(node, traffic) as client:
        created = await client.auth.register(email=email, password=PASSWORD)
        with pytest.raises(ConflictError):
            await client.auth.register(email=email.upper(), password=PASSWORD)
        with pytest.raises(UnprocessableEntityError) as weak:
            await client.auth.register(email=unique_email(), password="short")
        assert weak.value.type == "urn:gravity:error:unprocessable"
        with pytest.raises(BadRequestError) as wrong:
            await client.auth.login(email=email, password="wrong password here")
        assert wrong.value.error == "invalid_grant"
        assert wrong.value.error_description

        await client.auth.login(email=email, password=PASSWORD)
        assert (await client.users.me()).id == created.id
        updated = await client.users.update_me(display_name="Async Ann")
        assert updated.display_name == "Async Ann"
        assert (await client.auth.userinfo()).name == "Async Ann"
        cleared = await client.users.update_me(display_name=None)
        assert cleared.display_name is None

        key = await client.auth.api_keys.create(name="worker", scopes=["users:me"], expires_in=3600)
        assert key.expires_at is not None
        listed = [k async for k in client.auth.api_keys.list()]
        assert [k.id for k in listed] == [key.id]
        async with async_client(node, traffic) as program:
            await program.auth.login_with_client_credentials(client_id=key.client_id,
                                                             client_secret=key.client_secret)
            assert (await program.users.me()).id == created.id
            with pytest.raises(PermissionDeniedError):
                await program.users.get(created.id)
        await client.auth.api_keys.revoke(key.id)
        assert [k async for k in client.auth.api_keys.list()] == []

        old_access = client.tokens.access_token
        await client.auth.logout()
        with pytest.raises(AuthenticationError):
            await client.users.me()
    async with async_client(node, traffic, access_token=old_access) as stale:
        with pytest.raises(AuthenticationError) as revoked:
            await stale.users.me()
        assert revoked.value.status_code == 401
        assert revoked.value.response.headers["www-authenticate"].startswith("Bearer")


async def test_typed_errors(node: RunningNode, traffic: Traffic, admin_credentials: tuple[str, str]) -> None:
    async with async_client(node, traffic, access_token="not-a-token") as anonymous:
        with pytest.raises(AuthenticationError) as bad_token:
            await anonymous.users.me()
        assert bad_token.value.type == "urn:gravity:error:unauthorized"
        assert bad_token.value.request_id

    email = unique_email("sdk-errors")
    async with async_client(node, traffic) as user:
        await user.auth.register(email=email, password=PASSWORD)
        await user.auth.login(email=email, password=PASSWORD)
        with pytest.raises(PermissionDeniedError) as denied:
            await user.users.list()
        assert denied.value.status_code == 403
        with pytest.raises(PermissionDeniedError):
            await user.users.set_roles((await user.users.me()).id, roles=["admin"])

    admin_email, admin_password = admin_credentials
    async with async_client(node, traffic) as admin:
        await admin.auth.login(email=admin_email, password=admin_password)
        with pytest.raises(NotFoundError) as missing:
            await admin.users.get(str(uuid.uuid4()))
        assert missing.value.detail == "No such user"
        assert missing.value.problem is not None
        assert missing.value.problem.status == 404


# --- pagination ----------------------------------------------------------------------------------------------


async def test_admin_listing_pages_lazily(node: RunningNode, admin_credentials: tuple[str, str]) -> None:
    prefix = f"sdkpage{uuid.uuid4().hex[:6]}"
    traffic = Traffic()
    admin_email, admin_password = admin_credentials
    async with async_client(node, traffic) as admin:
        created = await asyncio.gather(*(admin.auth.register(email=unique_email(prefix), password=PASSWORD)
                                         for _ in range(5)))
        await admin.auth.login(email=admin_email, password=admin_password)
        before = len(traffic.to("/api/v1/users"))
        paginator = admin.users.list(q=prefix, limit=2)
        assert len(traffic.to("/api/v1/users")) == before, "nothing is fetched until iteration starts"
        seen = []
        async for user in paginator:
            seen.append(user.id)
            if len(seen) == 2:
                assert len(traffic.to("/api/v1/users")) == before + 1, "only the first page so far"
        assert sorted(seen) == sorted(u.id for u in created)
        assert len(seen) == len(set(seen)) == 5
        assert len(traffic.to("/api/v1/users")) == before + 3

        first = await admin.users.list(q=prefix, limit=2)
        assert len(first.items) == 2
        assert first.has_next_page()
        pages = [page async for page in first.iter_pages()]
        assert [len(page.items) for page in pages] == [2, 2, 1]
        assert not pages[-1].has_next_page()


def _sync_pages(node: RunningNode, admin_email: str, admin_password: str, prefix: str) -> list[str]:
    traffic = Traffic()
    with sync_client(node, traffic) as admin:
        admin.auth.login(email=admin_email, password=admin_password)
        page = admin.users.list(q=prefix, limit=2)
        assert len(traffic.to("/api/v1/users")) == 1
        taken = []
        for user in page:
            taken.append(user.id)
            if len(taken) == 3:
                break
        assert len(traffic.to("/api/v1/users")) == 2, "stopping early fetches no further page"
        return [user.id for user in admin.users.list(q=prefix, limit=2)]


async def test_sync_listing_pages_lazily(node: RunningNode, admin_credentials: tuple[str, str]) -> None:
    prefix = f"syncpage{uuid.uuid4().hex[:6]}"
    async with async_client(node, Traffic()) as client:
        created = await asyncio.gather(*(client.auth.register(email=unique_email(prefix), password=PASSWORD)
                                         for _ in range(5)))
    ids = await asyncio.to_thread(_sync_pages, node, *admin_credentials, prefix)
    assert sorted(ids) == sorted(u.id for u in created)


# --- automatic refresh ---------------------------------------------------------------------------------------


async def _signed_in(node: RunningNode) -> tuple[str, Tokens]:
    email = unique_email("sdk-refresh")
    async with async_client(node, Traffic()) as client:
        user = await client.auth.register(email=email, password=PASSWORD)
        await client.auth.login(email=email, password=PASSWORD)
        return user.id, client.tokens


async def test_refresh_after_a_refused_access_token(node: RunningNode, traffic: Traffic) -> None:
    user_id, tokens = await _signed_in(node)
    saved: list[Tokens] = []
    async with async_client(node, traffic, access_token="garbage.not.jwt", refresh_token=tokens.refresh_token,
                            on_tokens=saved.append) as client:
        me = await client.users.me()
        assert me.id == user_id
        assert traffic.to("/api/v1/users/me") == [401, 200]
        assert traffic.to("/oauth2/token") == [200], "exactly one refresh"
        assert client.tokens.refresh_token != tokens.refresh_token, "the refresh token rotated"
        assert saved[-1] == client.tokens
        await client.users.me()
        assert traffic.to("/oauth2/token") == [200]


async def test_refresh_ahead_of_expiry(node: RunningNode, traffic: Traffic) -> None:
    user_id, tokens = await _signed_in(node)
    expired = datetime.now(UTC) - timedelta(minutes=1)
    async with async_client(node, traffic, access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                            expires_at=expired) as client:
        results = await asyncio.gather(*(client.users.me() for _ in range(5)))
        assert {me.id for me in results} == {user_id}
        assert traffic.to("/oauth2/token") == [200], "concurrent calls share one refresh"
        assert 401 not in traffic.to("/api/v1/users/me")
        assert client.tokens.expires_at is not None
        assert client.tokens.expires_at > datetime.now(UTC)


def _sync_refresh(node: RunningNode, refresh_token: str) -> tuple[str, list[int]]:
    traffic = Traffic()
    with sync_client(node, traffic, access_token="garbage", refresh_token=refresh_token) as client:
        return client.users.me().id, traffic.to("/oauth2/token")


async def test_sync_refresh(node: RunningNode) -> None:
    user_id, tokens = await _signed_in(node)
    assert tokens.refresh_token is not None
    me, refreshes = await asyncio.to_thread(_sync_refresh, node, tokens.refresh_token)
    assert me == user_id
    assert refreshes == [200]


async def test_a_dead_refresh_token_surfaces_as_authentication_error(node: RunningNode, traffic: Traffic) -> None:
    _, tokens = await _signed_in(node)
    async with async_client(node, Traffic(), access_token=tokens.access_token,
                            refresh_token=tokens.refresh_token) as owner:
        await owner.auth.logout()
    async with async_client(node, traffic, access_token="garbage", refresh_token=tokens.refresh_token) as client:
        with pytest.raises(AuthenticationError):
            await client.users.me()
        assert traffic.to("/oauth2/token") == [400]
        assert client.tokens.refresh_token is None, "a refused refresh token is dropped"
