"""Client configuration and the exact HTTP calls each resource method makes."""

from __future__ import annotations

from types import NoneType

import httpx2
import msgspec
import pytest

import gravity_sdk as g
from gravity_sdk._version import __version__

from .conftest import BASE_URL, USER, bearer, user


class Recorder:
    """Records requests and answers each with a canned response."""

    def __init__(self, status=200, body=None):
        self.status = status
        self.body = body
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        if self.body is None:
            return httpx2.Response(self.status)
        return httpx2.Response(self.status, json=self.body)

    @property
    def last(self):
        return self.requests[-1]

    def last_json(self):
        return msgspec.json.decode(self.last.content)


def test_base_url_defaults_to_local_gateway(monkeypatch):
    monkeypatch.delenv("GRAVITY_BASE_URL", raising=False)
    with g.Gravity() as client:
        assert str(client.base_url) == "http://127.0.0.1:8080"


def test_base_url_from_environment(monkeypatch):
    monkeypatch.setenv("GRAVITY_BASE_URL", "https://api.example.com/")
    with g.Gravity() as client:
        assert str(client.base_url) == "https://api.example.com"


def test_base_url_with_path_prefix_is_kept(make_client):
    recorder = Recorder(body=USER)
    client = make_client(recorder, base_url="http://host/gravity/")

    client.users.me()

    assert str(recorder.last.url) == "http://host/gravity/api/v1/users/me"


def test_default_headers(make_client):
    recorder = Recorder(body=USER)
    client = make_client(recorder)

    client.users.me()

    assert recorder.last.headers["user-agent"] == f"gravity-sdk/{__version__}"
    assert recorder.last.headers["accept"] == "application/json"
    assert "x-request-id" not in recorder.last.headers


def test_client_timeout_and_per_call_timeout(make_client):
    recorder = Recorder(body=USER)
    client = make_client(recorder, timeout=4.0)

    client.users.me()
    assert recorder.last.extensions["timeout"]["read"] == 4.0

    client.users.me(timeout=1.5)
    assert recorder.last.extensions["timeout"] == {"connect": 1.5, "read": 1.5, "write": 1.5, "pool": 1.5}

    client.users.me(timeout=httpx2.Timeout(9.0, connect=2.0))
    assert recorder.last.extensions["timeout"]["connect"] == 2.0

    client.users.me(timeout=None)
    assert recorder.last.extensions["timeout"]["read"] is None


def test_injected_http_client_is_used_and_left_open():
    recorder = Recorder(body=USER)
    http_client = httpx2.Client(transport=httpx2.MockTransport(recorder), headers={"x-app": "demo"})

    with g.Gravity(base_url=BASE_URL, http_client=http_client) as client:
        client.users.me()

    assert recorder.last.headers["x-app"] == "demo"
    assert not http_client.is_closed
    http_client.close()


def test_context_manager_closes_owned_client():
    with g.Gravity(base_url=BASE_URL, transport=httpx2.MockTransport(Recorder())) as client:
        assert not client.is_closed
    assert client.is_closed


async def test_async_context_manager_closes_owned_client():
    async with g.AsyncGravity(base_url=BASE_URL, transport=httpx2.MockTransport(Recorder())) as client:
        assert not client.is_closed
    assert client.is_closed


async def test_async_injected_http_client_is_left_open():
    http_client = httpx2.AsyncClient(transport=httpx2.MockTransport(Recorder(body=USER)))
    async with g.AsyncGravity(base_url=BASE_URL, http_client=http_client) as client:
        await client.users.me()
    assert not http_client.is_closed
    await http_client.aclose()


def test_tokens_property_and_setter(make_client):
    saved = []
    client = make_client(Recorder(), access_token="a", refresh_token="r", on_tokens=saved.append)

    assert client.tokens == g.Tokens(access_token="a", refresh_token="r")
    assert saved == []
    client.tokens = g.Tokens(access_token="b")
    assert client.tokens.access_token == "b"
    assert saved == [g.Tokens(access_token="b")]


def test_users_me_decodes_user(make_client):
    client = make_client(Recorder(body=USER))

    me = client.users.me()

    assert isinstance(me, g.User)
    assert me.created_at.year == 2025
    assert me.created_at.tzinfo is not None
    assert me.metadata == {"team": "engines"}
    assert me.roles == ["user"]


def test_unknown_fields_are_ignored(make_client):
    client = make_client(Recorder(body={**USER, "new_field": 1}))
    assert client.users.me().email == USER["email"]


def test_update_me_sends_only_given_fields(make_client):
    recorder = Recorder(body=user(display_name=None))
    client = make_client(recorder)

    client.users.update_me(display_name=None)
    assert (recorder.last.method, recorder.last.url.path) == ("PATCH", "/api/v1/users/me")
    assert recorder.last.headers["content-type"] == "application/json"
    assert recorder.last_json() == {"display_name": None}

    client.users.update_me(metadata={"a": 1})
    assert recorder.last_json() == {"metadata": {"a": 1}}


def test_user_admin_calls(make_client):
    recorder = Recorder(body=USER)
    client = make_client(recorder)

    client.users.get("u/1")
    assert (recorder.last.method, recorder.last.url.raw_path) == ("GET", b"/api/v1/users/u%2F1")

    client.users.update("u1", is_active=False, roles=["admin"])
    assert (recorder.last.method, recorder.last.url.path) == ("PATCH", "/api/v1/users/u1")
    assert recorder.last_json() == {"is_active": False, "roles": ["admin"]}

    client.users.set_roles("u1", roles=["admin", "user"])
    assert (recorder.last.method, recorder.last.url.path) == ("PUT", "/api/v1/users/u1/roles")
    assert recorder.last_json() == {"roles": ["admin", "user"]}

    recorder.status, recorder.body = 204, None
    assert client.users.delete("u1") is None
    assert (recorder.last.method, recorder.last.url.path) == ("DELETE", "/api/v1/users/u1")


def test_register(make_client):
    recorder = Recorder(status=201, body=USER)
    client = make_client(recorder, access_token="a")

    created = client.auth.register(email="ada@example.com", password="pw")

    assert created.email == "ada@example.com"
    assert recorder.last.url.path == "/api/v1/auth/register"
    assert recorder.last_json() == {"email": "ada@example.com", "password": "pw"}
    assert "authorization" not in recorder.last.headers

    client.auth.register(email="b@example.com", password="pw", display_name="B")
    assert recorder.last_json()["display_name"] == "B"


def test_userinfo(make_client):
    body = {"sub": USER["id"], "email": USER["email"], "email_verified": True, "name": "Ada"}
    recorder = Recorder(body=body)
    client = make_client(recorder, access_token="a")

    info = client.auth.userinfo()

    assert (recorder.last.method, recorder.last.url.path) == ("GET", "/oauth2/userinfo")
    assert bearer(recorder.last) == "a"
    assert info == g.UserInfo(sub=USER["id"], email=USER["email"], email_verified=True, name="Ada")


@pytest.mark.parametrize(
    ("call", "method", "path", "body"),
    [
        (lambda c: c.auth.request_email_verification(), "POST", "/api/v1/auth/verify-email/request", None),
        (
            lambda c: c.auth.change_password(current_password="old", new_password="new"),
            "POST",
            "/api/v1/auth/password",
            {"current_password": "old", "new_password": "new"},
        ),
        (lambda c: c.auth.mfa_confirm_totp(otp="123456"), "POST", "/api/v1/auth/mfa/totp/confirm", {"otp": "123456"}),
        (lambda c: c.auth.mfa_disable_totp(otp="654321"), "DELETE", "/api/v1/auth/mfa/totp", {"otp": "654321"}),
        (lambda c: c.auth.api_keys.revoke("k1"), "DELETE", "/api/v1/auth/api-keys/k1", None),
    ],
)
def test_authenticated_no_content_calls(make_client, call, method, path, body):
    recorder = Recorder(status=204)
    client = make_client(recorder, access_token="a")

    assert call(client) is None

    assert (recorder.last.method, recorder.last.url.path) == (method, path)
    assert bearer(recorder.last) == "a"
    assert (recorder.last_json() if body is not None else recorder.last.content) == (body if body else b"")


def test_mfa_enroll_totp(make_client):
    recorder = Recorder(status=201, body={"secret": "JBSWY3DP", "otpauth_uri": "otpauth://totp/Gravity:ada"})
    client = make_client(recorder, access_token="a")

    enrollment = client.auth.mfa_enroll_totp()

    assert (recorder.last.method, recorder.last.url.path) == ("POST", "/api/v1/auth/mfa/totp")
    assert enrollment.secret == "JBSWY3DP"


def test_api_key_create(make_client):
    body = {
        "id": "k1",
        "name": "ci",
        "scopes": ["users:read"],
        "client_id": "cid",
        "client_secret": "shh",
        "created_at": "2025-01-01T00:00:00Z",
        "expires_at": "2025-02-01T00:00:00Z",
    }
    recorder = Recorder(status=201, body=body)
    client = make_client(recorder, access_token="a")

    created = client.auth.api_keys.create(name="ci", scopes=["users:read"], expires_in=3600)

    assert recorder.last.url.path == "/api/v1/auth/api-keys"
    assert recorder.last_json() == {"name": "ci", "scopes": ["users:read"], "expires_in": 3600}
    assert created.client_secret == "shh"
    assert created.expires_at is not None

    client.auth.api_keys.create(name="ci", scopes=[])
    assert "expires_in" not in recorder.last_json()


def test_raw_request_escape_hatch(make_client):
    recorder = Recorder(body={"ok": True})
    client = make_client(recorder, access_token="a")

    assert client.request(dict, "GET", "/api/v1/things", params={"a": 1, "b": None, "c": g.NOT_GIVEN}) == {"ok": True}
    assert dict(recorder.last.url.params) == {"a": "1"}
    assert client.request(NoneType, "POST", "/api/v1/things", json={"x": 1}) is None


def test_not_given_is_falsy_and_named():
    assert not g.NOT_GIVEN
    assert repr(g.NOT_GIVEN) == "NOT_GIVEN"


async def test_async_resource_calls(make_async_client):
    recorder = Recorder(body=USER)
    client = make_async_client(recorder, access_token="a")

    assert (await client.users.get("u1")).id == USER["id"]
    await client.users.update("u1", display_name="Z")
    assert recorder.last_json() == {"display_name": "Z"}
    await client.users.set_roles("u1", roles=["user"])
    assert recorder.last.url.path == "/api/v1/users/u1/roles"
    await client.users.update_me(display_name="Me")
    assert recorder.last.url.path == "/api/v1/users/me"

    recorder.status, recorder.body = 204, None
    await client.users.delete("u1")
    await client.auth.mfa_disable_totp(otp="1")
    await client.auth.api_keys.revoke("k1")
    assert [r.method for r in recorder.requests[-3:]] == ["DELETE", "DELETE", "DELETE"]


def test_defaults():
    with g.Gravity() as client:
        assert client.max_retries == 2
        assert client.timeout == 10.0
        assert client.tokens == g.Tokens()


def test_http_client_and_transport_are_exclusive():
    http_client = httpx2.Client()
    with pytest.raises(ValueError, match="not both"):
        g.Gravity(http_client=http_client, transport=httpx2.MockTransport(Recorder()))
    http_client.close()


def test_unsupported_scheme_is_not_retried():
    with g.Gravity(base_url="ftp://example.com") as client:
        client._sleep = pytest.fail
        with pytest.raises(g.APIConnectionError):
            client.users.me()


async def test_async_auth_calls(make_async_client):
    seen = []

    def handler(request):
        seen.append(request)
        path = request.url.path
        if path == "/oauth2/token":
            return httpx2.Response(200, json={"access_token": "a", "token_type": "Bearer", "expires_in": 60})
        if path == "/oauth2/userinfo":
            return httpx2.Response(200, json={"sub": "s"})
        if path == "/api/v1/auth/mfa/totp" and request.method == "POST":
            return httpx2.Response(201, json={"secret": "S", "otpauth_uri": "otpauth://x"})
        if path == "/api/v1/auth/api-keys" and request.method == "POST":
            key = {"id": "k", "name": "n", "client_id": "c", "client_secret": "s", "created_at": "2025-01-01T00:00:00Z"}
            return httpx2.Response(201, json=key)
        if path == "/api/v1/auth/api-keys":
            return httpx2.Response(200, json={"items": [], "next_cursor": None})
        return httpx2.Response(204)

    client = make_async_client(handler)

    await client.auth.complete_mfa("m", otp="1")
    await client.auth.login_with_client_credentials(client_id="c", client_secret="s")
    assert seen[-1].headers["authorization"].startswith("Basic ")
    assert (await client.auth.userinfo()).sub == "s"
    await client.auth.request_email_verification()
    await client.auth.verify_email(token="t")
    await client.auth.request_password_reset(email="e@example.com")
    await client.auth.reset_password(token="t", password="p")
    await client.auth.change_password(current_password="a", new_password="b")
    assert (await client.auth.mfa_enroll_totp()).secret == "S"
    await client.auth.mfa_confirm_totp(otp="1")
    assert (await client.auth.api_keys.create(name="n", scopes=["x"])).client_secret == "s"
    assert [k async for k in client.auth.api_keys.list(limit=5)] == []
    assert [(r.method, r.url.path) for r in seen[2:]] == [
        ("GET", "/oauth2/userinfo"),
        ("POST", "/api/v1/auth/verify-email/request"),
        ("POST", "/api/v1/auth/verify-email"),
        ("POST", "/api/v1/auth/password-reset/request"),
        ("POST", "/api/v1/auth/password-reset"),
        ("POST", "/api/v1/auth/password"),
        ("POST", "/api/v1/auth/mfa/totp"),
        ("POST", "/api/v1/auth/mfa/totp/confirm"),
        ("POST", "/api/v1/auth/api-keys"),
        ("GET", "/api/v1/auth/api-keys"),
    ]
