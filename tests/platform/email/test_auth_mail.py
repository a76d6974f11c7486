"""Auth's account emails go through the email service: the dev mail catcher receives them, and their links work."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from gravity_platform.devstack.mailbox import CaughtMail
from gravity_platform.kernel.admin import admin_node
from gravity_platform.kernel.settings import GravitySettings
from tests.platform.conftest import Account, sign_in, unique_email
from tests.platform.email.support import caught
from tests.platform.harness import RunningNode


def _token(mail: CaughtMail, kind: str) -> str:
    text = mail.body("plain") or ""
    [link] = [word for word in text.split() if word.startswith("http")]
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == "http://gravity.test" and parts.path == f"/{kind}"
    [token] = parse_qs(parts.query)["token"]
    return token


async def test_verification_email_is_caught_and_its_link_verifies(http: httpx2.AsyncClient, node: RunningNode,
                                                                  account: Account) -> None:
    assert (await http.post("/api/v1/auth/verify-email/request", headers=account.headers)).status_code == 202
    [mail] = await caught(node, account.email)
    assert mail.to == [account.email] and mail.subject == "Confirm your email address"
    token = _token(mail, "verify-email")
    assert (await http.post("/api/v1/auth/verify-email", json={"token": token})).status_code == 204
    assert (await http.get("/api/v1/users/me", headers=account.headers)).json()["email_verified"] is True
    assert (await http.post("/api/v1/auth/verify-email", json={"token": token})).status_code == 422


async def test_password_reset_email_is_caught_and_its_link_resets(http: httpx2.AsyncClient, node: RunningNode,
                                                                  account: Account) -> None:
    assert (await http.post("/api/v1/auth/password-reset/request",
                            json={"email": account.email})).status_code == 202
    [mail] = await caught(node, account.email)
    assert mail.to == [account.email] and mail.subject == "Reset your password"
    token = _token(mail, "password-reset")
    new_password = "a fresh passphrase from the mail"
    done = await http.post("/api/v1/auth/password-reset", json={"token": token, "password": new_password})
    assert done.status_code == 204
    assert (await sign_in(http, account.email, account.password)).status_code == 400
    assert (await sign_in(http, account.email, new_password)).status_code == 200


async def test_no_mail_for_an_unknown_address(http: httpx2.AsyncClient, node: RunningNode) -> None:
    email = unique_email("nobody")
    assert (await http.post("/api/v1/auth/password-reset/request", json={"email": email})).status_code == 202
    await asyncio.sleep(0.5)
    with pytest.raises(AssertionError, match="0 message"):
        await caught(node, email, timeout=0.2)


async def test_the_dev_log_is_the_fallback_when_no_email_service_takes_mail(
        settings: GravitySettings, account: Account, caplog: pytest.LogCaptureFixture) -> None:
    unconfigured = settings.model_copy(update={"service": {**settings.service, "email": {}}})
    async with admin_node(unconfigured, ["users", "auth", "email"]) as admin:
        with caplog.at_level(logging.WARNING, logger="gravity.auth"):
            await admin.service("auth").accounts.send_token(  # type: ignore[attr-defined]
                account.id, account.email, "verify-email")
    [record] = [r for r in caplog.records if "dev link" in r.getMessage()]
    assert "verify-email?token=" in str(record.__dict__["link"])


async def test_auth_on_another_node_sends_through_the_bus(settings: GravitySettings, node: RunningNode,
                                                          account: Account) -> None:
    async with admin_node(settings, ["users", "auth"]) as auth_only:
        assert not auth_only.hosts("email")
        await auth_only.service("auth").accounts.send_token(  # type: ignore[attr-defined]
            account.id, account.email, "verify-email")
    [mail] = await caught(node, account.email)
    assert mail.subject == "Confirm your email address"
