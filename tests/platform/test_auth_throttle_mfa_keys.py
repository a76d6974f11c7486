"""Throttling of password guessing, TOTP MFA, and API keys with the client_credentials grant."""

from __future__ import annotations

import base64
import uuid

import httpx2
import pyotp

from tests.platform.conftest import PASSWORD, Account, new_account, sign_in, unique_email


def _address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


async def test_guessing_one_account_is_throttled_but_not_locked_for_others(http: httpx2.AsyncClient) -> None:
    account = await new_account(http)
    attacker, owner = _address(), _address()
    for _ in range(10):
        assert (await sign_in(http, account.email, "wrong guess!!", address=attacker)).status_code == 400
    blocked = await sign_in(http, account.email, "wrong guess!!", address=attacker)
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert (await sign_in(http, account.email, PASSWORD, address=attacker)).status_code == 429
    assert (await sign_in(http, account.email, PASSWORD, address=owner)).status_code == 200


async def test_guessing_many_accounts_from_one_address_is_throttled(http: httpx2.AsyncClient) -> None:
    attacker = _address()
    for _ in range(30):
        assert (await sign_in(http, unique_email(), "wrong guess!!", address=attacker)).status_code == 400
    assert (await sign_in(http, unique_email(), "wrong guess!!", address=attacker)).status_code == 429
    account = await new_account(http)
    assert (await sign_in(http, account.email, PASSWORD, address=_address())).status_code == 200


async def test_totp_mfa(http: httpx2.AsyncClient) -> None:
    account = await new_account(http)
    enrolment = (await http.post("/api/v1/auth/mfa/totp", headers=account.headers)).json()
    totp = pyotp.TOTP(enrolment["secret"])
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/")
    bad = await http.post("/api/v1/auth/mfa/totp/confirm", headers=account.headers, json={"otp": "000000"})
    assert bad.status_code in (422, 400)
    assert (await http.post("/api/v1/auth/mfa/totp/confirm", headers=account.headers,
                            json={"otp": totp.now()})).status_code == 204
    step = await sign_in(http, account.email, address=_address())
    assert step.status_code == 400 and step.json()["error"] == "mfa_required"
    mfa_token = step.json()["mfa_token"]
    grant = "urn:gravity:params:oauth:grant-type:mfa-otp"
    wrong = await http.post("/oauth2/token", data={"grant_type": grant, "mfa_token": mfa_token, "otp": "123456"})
    assert wrong.json()["error"] == "invalid_grant"
    code = totp.now()
    done = await http.post("/oauth2/token", data={"grant_type": grant, "mfa_token": mfa_token, "otp": code})
    assert done.status_code == 200 and done.json()["access_token"]
    again = (await sign_in(http, account.email, address=_address())).json()["mfa_token"]
    replay = await http.post("/oauth2/token", data={"grant_type": grant, "mfa_token": again, "otp": code})
    assert replay.json()["error"] == "invalid_grant", "a code works once"


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def test_api_keys(http: httpx2.AsyncClient, account: Account) -> None:
    created = await http.post("/api/v1/auth/api-keys", headers=account.headers,
                              json={"name": "ci", "scopes": ["users:me"]})
    assert created.status_code == 201
    key = created.json()
    listed = (await http.get("/api/v1/auth/api-keys", headers=account.headers)).json()
    assert [k["id"] for k in listed["items"]] == [key["id"]] and "client_secret" not in listed["items"][0]
    grant = await http.post("/oauth2/token", data={"grant_type": "client_credentials"},
                            headers=_basic(key["client_id"], key["client_secret"]))
    assert grant.status_code == 200 and "refresh_token" not in grant.json()
    token = {"Authorization": f"Bearer {grant.json()['access_token']}"}
    assert (await http.get("/api/v1/users/me", headers=token)).json()["id"] == account.id
    assert (await http.post("/api/v1/auth/api-keys", headers=token, json={"name": "x"})).status_code == 403
    wrong = await http.post("/oauth2/token", data={"grant_type": "client_credentials"},
                            headers=_basic(key["client_id"], "wrong"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    too_wide = await http.post("/api/v1/auth/api-keys", headers=account.headers,
                               json={"name": "admin", "scopes": ["users:read"]})
    assert too_wide.status_code == 403
    assert (await http.delete(f"/api/v1/auth/api-keys/{key['id']}", headers=account.headers)).status_code == 204
    assert (await http.get("/api/v1/users/me", headers=token)).status_code == 401
    again = await http.post("/oauth2/token", data={"grant_type": "client_credentials"},
                            headers=_basic(key["client_id"], key["client_secret"]))
    assert again.status_code == 401


async def test_api_key_without_scopes_grants_nothing(http: httpx2.AsyncClient, account: Account) -> None:
    key = (await http.post("/api/v1/auth/api-keys", headers=account.headers, json={"name": "empty"})).json()
    grant = await http.post("/oauth2/token", data={"grant_type": "client_credentials",
                                                   "client_id": key["client_id"],
                                                   "client_secret": key["client_secret"]})
    token = {"Authorization": f"Bearer {grant.json()['access_token']}"}
    assert (await http.get("/api/v1/users/me", headers=token)).status_code == 403
