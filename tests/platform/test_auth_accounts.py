"""Registration, sign-in errors, discovery, email verification and password reset."""

from __future__ import annotations

import asyncio
import logging

import httpx2
import pytest

from gravity_platform.kernel.hookspecs import hookimpl
from tests.platform.conftest import PASSWORD, Account, new_account, sign_in, unique_email
from tests.platform.harness import RunningNode


async def test_register_returns_the_user(http: httpx2.AsyncClient) -> None:
    email = unique_email()
    answer = await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD,
                                                            "display_name": "Grace"})
    assert answer.status_code == 201
    body = answer.json()
    assert body["email"] == email and body["display_name"] == "Grace" and body["roles"] == ["user"]
    assert "password" not in answer.text


async def test_duplicate_registration_is_409_and_creates_nothing(http: httpx2.AsyncClient) -> None:
    email = unique_email()
    attempts = await asyncio.gather(*(
        http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD}) for _ in range(4)))
    codes = sorted(a.status_code for a in attempts)
    assert codes == [201, 409, 409, 409]
    again = await http.post("/api/v1/auth/register", json={"email": email.upper(), "password": PASSWORD})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("password", "reason"), [
    ("short1!", "at least 8"),
    ("password123", "too common"),
    ("aaaaaaaaaaaa", "too common"),
    ("x" * 129 + "yz", "at most"),
])
async def test_weak_passwords_are_refused(http: httpx2.AsyncClient, password: str, reason: str) -> None:
    answer = await http.post("/api/v1/auth/register", json={"email": unique_email(), "password": password})
    assert answer.status_code == 422
    assert reason in answer.json()["detail"]


async def test_long_passphrases_and_any_characters_are_fine(http: httpx2.AsyncClient) -> None:
    passwords = ("съешь же ещё этих мягких булок", "correct horse battery staple " * 4, "12345678ab-no-rules")
    for password in passwords:
        answer = await http.post("/api/v1/auth/register", json={"email": unique_email(), "password": password})
        assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("body", [b"{not json", b'{"email": 5, "password": "x"}', b'{"password": "abcdefghij"}',
                                  b'{"email": "not-an-email", "password": "abcdefghijk"}'])
async def test_malformed_registration_is_a_problem(http: httpx2.AsyncClient, body: bytes) -> None:
    answer = await http.post("/api/v1/auth/register", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400
    problem = answer.json()
    expected = "bad-request" if body.startswith(b"{not") else "validation"
    assert problem["type"] == f"urn:gravity:error:{expected}" and problem["status"] == 400 and problem["request_id"]
    assert problem["detail"]


async def test_password_grant_errors_follow_rfc_6749(http: httpx2.AsyncClient, account: Account) -> None:
    wrong = await sign_in(http, account.email, "not the password", address="10.1.0.1")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert wrong.headers["cache-control"] == "no-store"
    unknown_user = await sign_in(http, unique_email(), PASSWORD, address="10.1.0.1")
    assert unknown_user.json()["error"] == "invalid_grant"
    unsupported = await http.post("/oauth2/token", data={"grant_type": "authorization_code"})
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"
    missing = await http.post("/oauth2/token", data={"grant_type": "password", "username": account.email})
    assert missing.json()["error"] == "invalid_request"
    no_client = await http.post("/oauth2/token", data={"grant_type": "client_credentials"})
    assert no_client.status_code == 401 and no_client.json()["error"] == "invalid_client"
    assert no_client.headers["www-authenticate"].startswith("Basic")


async def test_discovery_and_jwks(http: httpx2.AsyncClient) -> None:
    metadata = (await http.get("/.well-known/openid-configuration")).json()
    assert metadata["token_endpoint"].endswith("/oauth2/token")
    assert "refresh_token" in metadata["grant_types_supported"]
    keys = (await http.get("/.well-known/jwks.json")).json()["keys"]
    assert len(keys) == 2
    assert all(k["alg"] == "EdDSA" and k["use"] == "sig" and "d" not in k for k in keys)


async def test_userinfo(http: httpx2.AsyncClient, account: Account) -> None:
    info = (await http.get("/oauth2/userinfo", headers=account.headers)).json()
    assert info == {"sub": account.id, "email": account.email, "email_verified": False}
    assert (await http.get("/oauth2/userinfo")).status_code == 401


class _Outbox:
    """A token sender plugin that keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    @hookimpl
    def gravity_auth_token_sender(self, kind: str, email: str, token: str, link: str) -> bool:
        self.sent.append({"kind": kind, "email": email, "token": token, "link": link})
        return True


@pytest.fixture
def outbox(node: RunningNode) -> _Outbox:
    sender = _Outbox()
    node.node.hooks.register(sender)
    yield sender  # type: ignore[misc]
    node.node.hooks.unregister(sender)


async def test_email_verification(http: httpx2.AsyncClient, account: Account, outbox: _Outbox) -> None:
    assert (await http.post("/api/v1/auth/verify-email/request", headers=account.headers)).status_code == 202
    [mail] = outbox.sent
    assert mail["kind"] == "verify-email" and mail["email"] == account.email and mail["token"] in mail["link"]
    assert (await http.post("/api/v1/auth/verify-email", json={"token": mail["token"]})).status_code == 204
    assert (await http.get("/api/v1/users/me", headers=account.headers)).json()["email_verified"] is True
    reused = await http.post("/api/v1/auth/verify-email", json={"token": mail["token"]})
    assert reused.status_code == 422


async def test_password_reset_ends_sessions(http: httpx2.AsyncClient, account: Account, outbox: _Outbox) -> None:
    unknown = await http.post("/api/v1/auth/password-reset/request", json={"email": unique_email()})
    assert unknown.status_code == 202 and outbox.sent == []
    assert (await http.post("/api/v1/auth/password-reset/request", json={"email": account.email})).status_code == 202
    [mail] = outbox.sent
    weak = await http.post("/api/v1/auth/password-reset", json={"token": mail["token"], "password": "password"})
    assert weak.status_code == 422
    await asyncio.sleep(1.1)
    new_password = "a brand new passphrase"
    done = await http.post("/api/v1/auth/password-reset", json={"token": mail["token"], "password": new_password})
    assert done.status_code == 204
    reused = await http.post("/api/v1/auth/password-reset", json={"token": mail["token"], "password": new_password})
    assert reused.status_code == 422
    assert (await http.get("/api/v1/users/me", headers=account.headers)).status_code == 401
    refresh = await http.post("/oauth2/token", data={"grant_type": "refresh_token",
                                                     "refresh_token": account.refresh_token})
    assert refresh.json()["error"] == "invalid_grant"
    assert (await sign_in(http, account.email, new_password)).status_code == 200


async def test_change_password(http: httpx2.AsyncClient) -> None:
    account = await new_account(http)
    wrong = await http.post("/api/v1/auth/password", headers=account.headers,
                            json={"current_password": "nope nope nope", "new_password": "another good one"})
    assert wrong.status_code == 401
    ok = await http.post("/api/v1/auth/password", headers=account.headers,
                         json={"current_password": PASSWORD, "new_password": "another good one"})
    assert ok.status_code == 204
    assert (await sign_in(http, account.email, "another good one")).status_code == 200


async def test_the_email_service_sends_when_no_plugin_does(http: httpx2.AsyncClient, account: Account,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """Account emails go through the email service (the session's dev mail catcher; see tests/platform/email);
    the dev log fallback is left for when no email service takes mail (test_auth_mail.py)."""
    with caplog.at_level(logging.WARNING, logger="gravity.auth"):
        assert (await http.post("/api/v1/auth/verify-email/request", headers=account.headers)).status_code == 202
    assert not any("dev link" in r.getMessage() for r in caplog.records)
