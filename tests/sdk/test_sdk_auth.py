"""Sign-in flows, token storage and the single-flight automatic refresh."""

from __future__ import annotations

import asyncio
import base64
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx2
import msgspec
import pytest

import gravity_sdk as g

from .conftest import USER, bearer, token_body

N = 8


def form(request):
    return {key: values[0] for key, values in parse_qs(request.content.decode()).items()}


class Server:
    """A tiny fake of the token endpoint and ``/users/me`` with token rotation."""

    def __init__(self, *, access="access-0", refresh="refresh-0"):
        self.access = access
        self.refresh = refresh
        self.refreshes = 0
        self.token_calls = 0
        self.requests = []

    def issue(self):
        self.refreshes += 1
        self.access = f"access-{self.refreshes}"
        self.refresh = f"refresh-{self.refreshes}"
        return httpx2.Response(200, json=token_body(self.access, self.refresh))

    def token(self, request):
        self.token_calls += 1
        fields = form(request)
        if fields["grant_type"] == "refresh_token":
            if fields["refresh_token"] != self.refresh:
                return httpx2.Response(400, json={"error": "invalid_grant", "error_description": "reused"})
            return self.issue()
        return httpx2.Response(400, json={"error": "unsupported_grant_type"})

    def me(self, request):
        if bearer(request) != self.access:
            return httpx2.Response(401, json={"type": "urn:gravity:error:unauthorized", "title": "Unauthorized"})
        return httpx2.Response(200, json=USER)

    def __call__(self, request):
        self.requests.append(request)
        if request.url.path == "/oauth2/token":
            return self.token(request)
        return self.me(request)


def test_login_sends_password_grant_and_stores_tokens(make_client):
    seen = []

    def handler(request):
        seen.append(request)
        return httpx2.Response(200, json={**token_body("a1", "r1", 600), "scope": "openid profile"})

    saved = []
    client = make_client(handler, on_tokens=saved.append)

    response = client.auth.login(email="ada@example.com", password="s3cret", scope="openid profile")

    request = seen[0]
    assert request.method == "POST"
    assert request.url.path == "/oauth2/token"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in request.headers
    assert form(request) == {
        "grant_type": "password",
        "username": "ada@example.com",
        "password": "s3cret",
        "scope": "openid profile",
    }
    assert response.access_token == "a1"
    tokens = client.tokens
    assert (tokens.access_token, tokens.refresh_token, tokens.scope) == ("a1", "r1", "openid profile")
    assert tokens.expires_at is not None
    assert timedelta(seconds=590) < tokens.expires_at - datetime.now(UTC) <= timedelta(seconds=600)
    assert saved == [tokens]


def test_mfa_flow(make_client):
    def handler(request):
        fields = form(request)
        if fields["grant_type"] == "password":
            return httpx2.Response(400, json={"error": "mfa_required", "mfa_token": "mfa-1"})
        assert fields == {
            "grant_type": "urn:gravity:params:oauth:grant-type:mfa-otp",
            "mfa_token": "mfa-1",
            "otp": "123456",
        }
        return httpx2.Response(200, json=token_body("a2", "r2"))

    client = make_client(handler)

    with pytest.raises(g.MFARequiredError) as info:
        client.auth.login(email="ada@example.com", password="pw")
    client.auth.complete_mfa(info.value.mfa_token, otp="123456")

    assert client.tokens.access_token == "a2"


def test_client_credentials_use_http_basic_and_hold_no_refresh_token(make_client):
    seen = []

    def handler(request):
        seen.append(request)
        return httpx2.Response(200, json={**token_body("svc", None), "scope": "users:read"})

    client = make_client(handler, refresh_token="stale")

    client.auth.login_with_client_credentials(client_id="cid", client_secret="csecret", scope="users:read")

    auth = seen[0].headers["authorization"]
    assert auth == "Basic " + base64.b64encode(b"cid:csecret").decode()
    assert form(seen[0]) == {"grant_type": "client_credentials", "scope": "users:read"}
    assert client.tokens.access_token == "svc"
    assert client.tokens.refresh_token is None


def test_requests_carry_the_bearer_token(make_client):
    server = Server()
    client = make_client(server, access_token="access-0")

    client.users.me()

    assert bearer(server.requests[0]) == "access-0"


def test_public_endpoints_send_no_bearer(make_client):
    seen = []

    def handler(request):
        seen.append(request)
        return httpx2.Response(202 if request.url.path.endswith("request") else 204)

    client = make_client(handler, access_token="a")

    client.auth.request_password_reset(email="ada@example.com")
    client.auth.reset_password(token="t", password="new")
    client.auth.verify_email(token="v")

    assert [r.url.path for r in seen] == [
        "/api/v1/auth/password-reset/request",
        "/api/v1/auth/password-reset",
        "/api/v1/auth/verify-email",
    ]
    assert all("authorization" not in r.headers for r in seen)
    assert [msgspec.json.decode(r.content) for r in seen] == [
        {"email": "ada@example.com"},
        {"token": "t", "password": "new"},
        {"token": "v"},
    ]


def test_401_triggers_one_refresh_then_retries(make_client):
    server = Server(access="access-fresh-on-server")
    server.refresh = "refresh-0"
    saved = []
    client = make_client(server, access_token="expired", refresh_token="refresh-0", on_tokens=saved.append)

    assert client.users.me().id == USER["id"]

    assert server.token_calls == 1
    assert [r.url.path for r in server.requests] == ["/api/v1/users/me", "/oauth2/token", "/api/v1/users/me"]
    assert bearer(server.requests[-1]) == "access-1"
    assert client.tokens.refresh_token == "refresh-1"
    assert [t.access_token for t in saved] == ["access-1"]


def test_second_401_after_refresh_is_raised(make_client):
    def handler(request):
        if request.url.path == "/oauth2/token":
            return httpx2.Response(200, json=token_body("still-bad", "r2"))
        return httpx2.Response(401, json={"title": "Unauthorized"})

    client = make_client(handler, access_token="a", refresh_token="r1")

    with pytest.raises(g.AuthenticationError):
        client.users.me()


def test_401_without_refresh_token_is_raised(make_client):
    server = Server()
    client = make_client(server, access_token="wrong")

    with pytest.raises(g.AuthenticationError):
        client.users.me()
    assert server.refreshes == 0


def test_failed_refresh_after_401_raises_the_401_and_drops_the_refresh_token(make_client):
    server = Server(refresh="refresh-on-server")
    client = make_client(server, access_token="wrong", refresh_token="revoked")

    with pytest.raises(g.AuthenticationError):
        client.users.me()
    assert client.tokens.refresh_token is None
    assert client.tokens.access_token == "wrong"


def test_token_expiring_soon_is_refreshed_before_the_request(make_client):
    server = Server()
    client = make_client(
        server,
        access_token="access-0",
        refresh_token="refresh-0",
        expires_at=datetime.now(UTC) + timedelta(seconds=10),
    )

    client.users.me()

    assert [r.url.path for r in server.requests] == ["/oauth2/token", "/api/v1/users/me"]
    assert bearer(server.requests[-1]) == "access-1"


def test_token_valid_for_longer_is_not_refreshed(make_client):
    server = Server()
    client = make_client(
        server, access_token="access-0", refresh_token="refresh-0", expires_at=datetime.now(UTC) + timedelta(hours=1)
    )

    client.users.me()

    assert server.refreshes == 0


def test_refresh_token_alone_is_exchanged_before_the_first_request(make_client):
    server = Server()
    client = make_client(server, refresh_token="refresh-0")

    client.users.me()

    assert server.token_calls == 1
    assert client.tokens.access_token == "access-1"


def test_failed_early_refresh_still_sends_the_request(make_client):
    server = Server(access="access-0", refresh="something-else")
    client = make_client(
        server, access_token="access-0", refresh_token="refresh-0", expires_at=datetime.now(UTC) + timedelta(seconds=5)
    )

    assert client.users.me().id == USER["id"]
    assert client.tokens.refresh_token is None


def test_explicit_refresh(make_client):
    server = Server()
    client = make_client(server, refresh_token="refresh-0")

    response = client.auth.refresh()

    assert response.access_token == "access-1"
    assert form(server.requests[0]) == {"grant_type": "refresh_token", "refresh_token": "refresh-0"}


def test_explicit_refresh_without_refresh_token(make_client):
    client = make_client(Server())

    with pytest.raises(g.GravityError, match="refresh token"):
        client.auth.refresh()


def test_explicit_refresh_with_dead_token_raises_oauth_error(make_client):
    client = make_client(Server(refresh="other"), refresh_token="dead")

    with pytest.raises(g.BadRequestError) as info:
        client.auth.refresh()
    assert info.value.error == "invalid_grant"
    assert client.tokens.refresh_token is None


def test_refresh_keeps_the_old_refresh_token_if_none_is_returned(make_client):
    client = make_client(lambda request: httpx2.Response(200, json=token_body("a2", None)), refresh_token="r1")

    client.auth.refresh()

    assert client.tokens.refresh_token == "r1"


def test_401_after_another_caller_refreshed_retries_without_refreshing(make_client):
    server = Server(access="access-new", refresh="refresh-new")
    client = None

    def handler(request):
        if bearer(request) == "access-old":
            client.tokens = g.Tokens(access_token="access-new", refresh_token="refresh-new")
        return server(request)

    client = make_client(handler, access_token="access-old", refresh_token="refresh-old")

    client.users.me()

    assert server.refreshes == 0
    assert [bearer(r) for r in server.requests] == ["access-old", "access-new"]


def test_concurrent_401s_cause_exactly_one_refresh_threads(make_client):
    server = Server(access="access-x", refresh="refresh-0")
    barrier = threading.Barrier(N, timeout=10)

    def handler(request):
        if request.url.path == "/oauth2/token":
            threading.Event().wait(0.05)
        elif bearer(request) == "stale":
            barrier.wait()
        return server(request)

    client = make_client(handler, access_token="stale", refresh_token="refresh-0")

    with ThreadPoolExecutor(N) as pool:
        users = list(pool.map(lambda _: client.users.me(), range(N)))

    assert len(users) == N
    assert server.token_calls == 1
    assert client.tokens.access_token == "access-1"


def test_concurrent_expiring_token_causes_exactly_one_refresh_threads(make_client):
    server = Server()
    start = threading.Barrier(N, timeout=10)

    def handler(request):
        if request.url.path == "/oauth2/token":
            threading.Event().wait(0.05)
        return server(request)

    client = make_client(
        handler, access_token="access-0", refresh_token="refresh-0", expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )

    def call(_):
        start.wait()
        return client.users.me()

    with ThreadPoolExecutor(N) as pool:
        assert len(list(pool.map(call, range(N)))) == N
    assert server.token_calls == 1


async def test_concurrent_401s_cause_exactly_one_refresh_async(make_async_client):
    server = Server(access="access-x", refresh="refresh-0")
    arrived = 0
    all_arrived = asyncio.Event()

    async def handler(request):
        nonlocal arrived
        if request.url.path == "/oauth2/token":
            await asyncio.sleep(0.01)
        elif bearer(request) == "stale":
            arrived += 1
            if arrived == N:
                all_arrived.set()
            await asyncio.wait_for(all_arrived.wait(), 10)
        return server(request)

    client = make_async_client(handler, access_token="stale", refresh_token="refresh-0")

    users = await asyncio.gather(*(client.users.me() for _ in range(N)))

    assert len(users) == N
    assert server.token_calls == 1
    assert client.tokens.access_token == "access-1"


async def test_concurrent_expiring_token_causes_exactly_one_refresh_async(make_async_client):
    server = Server()

    async def handler(request):
        if request.url.path == "/oauth2/token":
            await asyncio.sleep(0.01)
        return server(request)

    client = make_async_client(
        handler, access_token="access-0", refresh_token="refresh-0", expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )

    await asyncio.gather(*(client.users.me() for _ in range(N)))

    assert server.token_calls == 1


async def test_async_login_and_refresh(make_async_client):
    server = Server()

    def handler(request):
        if form(request).get("grant_type") == "password":
            return httpx2.Response(200, json=token_body(server.access, server.refresh))
        return server(request)

    client = make_async_client(handler)

    await client.auth.login(email="ada@example.com", password="pw")
    assert client.tokens.refresh_token == "refresh-0"
    await client.auth.refresh()
    assert client.tokens.access_token == "access-1"


def test_logout_ends_session_revokes_and_clears(make_client):
    seen = []

    def handler(request):
        seen.append(request)
        return httpx2.Response(204 if request.url.path.endswith("logout") else 200)

    saved = []
    client = make_client(handler, access_token="a", refresh_token="r", on_tokens=saved.append)

    client.auth.logout()

    assert [(r.method, r.url.path) for r in seen] == [("POST", "/api/v1/auth/logout"), ("POST", "/oauth2/revoke")]
    assert bearer(seen[0]) == "a"
    assert seen[0].content == b""
    assert form(seen[1]) == {"token": "r", "token_type_hint": "refresh_token"}
    assert "authorization" not in seen[1].headers
    assert client.tokens == g.Tokens()
    assert saved == [g.Tokens()]


def test_logout_with_dead_session_still_clears(make_client):
    def handler(request):
        if request.url.path == "/oauth2/token":
            return httpx2.Response(400, json={"error": "invalid_grant"})
        if request.url.path.endswith("logout"):
            return httpx2.Response(401, json={"title": "Unauthorized"})
        return httpx2.Response(200)

    client = make_client(handler, access_token="a", refresh_token="r")

    client.auth.logout()

    assert client.tokens == g.Tokens()


def test_logout_clears_tokens_even_when_the_server_is_down(make_client):
    def handler(request):
        raise httpx2.ConnectError("down", request=request)

    client = make_client(handler, access_token="a", refresh_token="r", max_retries=0)

    with pytest.raises(g.APIConnectionError):
        client.auth.logout()
    assert client.tokens == g.Tokens()


def test_logout_without_tokens_sends_nothing(make_client):
    seen = []
    client = make_client(lambda request: seen.append(request) or httpx2.Response(204))

    client.auth.logout()

    assert seen == []


async def test_async_logout(make_async_client):
    seen = []

    def handler(request):
        seen.append(request.url.path)
        return httpx2.Response(204 if request.url.path.endswith("logout") else 200)

    client = make_async_client(handler, access_token="a", refresh_token="r")

    await client.auth.logout()

    assert seen == ["/api/v1/auth/logout", "/oauth2/revoke"]
    assert client.tokens.access_token is None


def test_tokens_round_trip_through_msgspec(make_client):
    tokens = g.Tokens(access_token="a", refresh_token="r", expires_at=datetime(2030, 1, 1, tzinfo=UTC))
    assert msgspec.json.decode(msgspec.json.encode(tokens), type=g.Tokens) == tokens


def test_refresh_uses_the_per_call_timeout(make_client):
    server = Server()
    client = make_client(server, refresh_token="refresh-0")

    client.auth.refresh(timeout=3.0)
    assert server.requests[-1].extensions["timeout"]["read"] == 3.0

    client.tokens = g.Tokens(access_token="stale", refresh_token=server.refresh)
    client.users.me(timeout=2.5)
    assert [r.extensions["timeout"]["read"] for r in server.requests[-3:]] == [2.5, 2.5, 2.5]


async def test_async_dead_refresh_token_after_401(make_async_client):
    server = Server(refresh="refresh-on-server")
    client = make_async_client(server, access_token="wrong", refresh_token="revoked")

    with pytest.raises(g.AuthenticationError):
        await client.users.me()
    assert client.tokens.refresh_token is None
    with pytest.raises(g.AuthenticationError):
        await client.users.me()


async def test_async_failed_early_refresh_still_sends_the_request(make_async_client):
    server = Server(access="access-0", refresh="something-else")
    client = make_async_client(
        server, access_token="access-0", refresh_token="refresh-0", expires_at=datetime.now(UTC) + timedelta(seconds=5)
    )

    assert (await client.users.me()).id == USER["id"]
    assert client.tokens.refresh_token is None


async def test_async_401_after_another_caller_refreshed(make_async_client):
    server = Server(access="access-new", refresh="refresh-new")
    client = None

    def handler(request):
        if bearer(request) == "access-old":
            client.tokens = g.Tokens(access_token="access-new", refresh_token="refresh-new")
        return server(request)

    client = make_async_client(handler, access_token="access-old", refresh_token="refresh-old")

    await client.users.me()

    assert server.token_calls == 0
