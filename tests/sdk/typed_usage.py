"""How an application uses the SDK; checked with ``mypy --strict`` by test_sdk_typing.py, never run."""

from __future__ import annotations

from datetime import datetime
from typing import assert_type

import httpx2

from gravity_sdk import (
    INBOX_TOPIC,
    NOT_GIVEN,
    APIConnectionError,
    ApiKey,
    ApiKeyCreated,
    APIStatusError,
    AsyncCursorPage,
    AsyncGravity,
    AsyncPaginator,
    Gravity,
    InboxItem,
    MFARequiredError,
    NotFoundError,
    RateLimitError,
    RealtimeConnectionError,
    RealtimeMessage,
    SyncCursorPage,
    TokenResponse,
    Tokens,
    TotpEnrollment,
    User,
    UserInfo,
)


def save(tokens: Tokens) -> None:
    assert_type(tokens.expires_at, datetime | None)


def sync_usage() -> None:
    with Gravity(base_url="http://127.0.0.1:8080", timeout=5.0, max_retries=3, on_tokens=save) as client:
        try:
            assert_type(client.auth.login(email="a@example.com", password="pw", scope="openid"), TokenResponse)
        except MFARequiredError as exc:
            assert_type(exc.mfa_token, str)
            client.auth.complete_mfa(exc.mfa_token, otp="123456")
        assert_type(client.tokens, Tokens)
        assert_type(client.tokens.access_token, str | None)
        me = client.users.me(timeout=2.0)
        assert_type(me, User)
        assert_type(me.display_name, str | None)
        assert_type(client.users.update_me(display_name=None, metadata={"k": 1}), User)
        page = client.users.list(q="ada", limit=50)
        assert_type(page, SyncCursorPage[User])
        assert_type(page.next_cursor, str | None)
        for user in page:
            assert_type(user, User)
            assert_type(client.users.get(user.id), User)
            client.users.update(user.id, is_active=False, roles=["user"], display_name=NOT_GIVEN)
            assert_type(client.users.set_roles(user.id, roles=["admin"]), User)
            assert_type(client.users.delete(user.id, timeout=None), None)
        assert_type(client.auth.userinfo(), UserInfo)
        assert_type(client.auth.mfa_enroll_totp(), TotpEnrollment)
        client.auth.mfa_confirm_totp(otp="123456")
        key = client.auth.api_keys.create(name="ci", scopes=["users:read"], expires_in=3600)
        assert_type(key, ApiKeyCreated)
        keys = client.auth.api_keys.list(limit=10)
        assert_type(keys, SyncCursorPage[ApiKey])
        client.auth.api_keys.revoke(key.id)
        client.auth.login_with_client_credentials(client_id=key.client_id, client_secret=key.client_secret)
        assert_type(client.auth.refresh(), TokenResponse)
        client.auth.logout()


def error_handling(client: Gravity) -> None:
    try:
        client.users.get("missing")
    except NotFoundError as exc:
        assert_type(exc.status_code, int)
        assert_type(exc.request_id, str | None)
        assert_type(exc.detail, str | None)
        assert_type(exc.response, httpx2.Response)
    except RateLimitError as exc:
        assert_type(exc.retry_after, float | None)
    except APIStatusError as exc:
        assert_type(exc.error, str | None)
    except APIConnectionError as exc:
        assert_type(exc.request, httpx2.Request)


async def async_usage() -> None:
    async with AsyncGravity(http_client=httpx2.AsyncClient()) as client:
        await client.auth.register(email="a@example.com", password="pw", display_name="A")
        await client.auth.login(email="a@example.com", password="pw")
        assert_type(await client.users.me(), User)
        paginator = client.users.list(limit=10)
        assert_type(paginator, AsyncPaginator[User])
        first = await paginator
        assert_type(first, AsyncCursorPage[User])
        async for user in client.users.list():
            assert_type(user, User)
        async for page in first.iter_pages():
            assert_type(page.items, list[User])
        assert_type(await client.auth.api_keys.create(name="x", scopes=[]), ApiKeyCreated)
        await client.auth.logout()


async def realtime_usage(client: AsyncGravity, sync_client: Gravity) -> None:
    try:
        async with client.realtime.connect(reconnect=False) as feed:
            async for message in feed:
                assert_type(message, RealtimeMessage)
                if message.topic == INBOX_TOPIC:
                    assert_type(message.inbox_item(), InboxItem)
    except RealtimeConnectionError as exc:
        assert_type(exc.code, int | None)
    with sync_client.realtime.connect() as sync_feed:
        for received in sync_feed:
            assert_type(received.topic, str)
