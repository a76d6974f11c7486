"""Access-token checks (RFC 8725), refresh rotation and reuse detection, logout, revoke, introspect, key rotation."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.platform.conftest import Account, new_account
from tests.platform.harness import RunningNode


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def _claims(account: Account) -> dict[str, Any]:
    return jwt.decode(account.access_token, options={"verify_signature": False})


async def _signed(node: RunningNode, claims: dict[str, Any], **header: Any) -> str:
    key = await node.node.service("auth").keys.active()  # type: ignore[attr-defined]
    headers = {"kid": key.kid, "typ": "at+jwt", **header}
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers=headers)


async def _status(http: httpx2.AsyncClient, token: str) -> int:
    return (await http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})).status_code


async def test_access_token_shape(account: Account) -> None:
    header = jwt.get_unverified_header(account.access_token)
    claims = await _claims(account)
    assert header["alg"] == "EdDSA" and header["typ"] == "at+jwt" and header["kid"]
    assert {"iss", "aud", "exp", "iat", "jti", "sub", "sid"} <= claims.keys()
    assert claims["sub"] == account.id and claims["exp"] - claims["iat"] <= 3600


async def test_forged_and_tampered_tokens_are_rejected(http: httpx2.AsyncClient, node: RunningNode,
                                                       account: Account) -> None:
    claims = await _claims(account)
    jwks = (await http.get("/.well-known/jwks.json")).json()["keys"]
    header = jwt.get_unverified_header(account.access_token)
    unsigned = _b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": header["kid"]}).encode()) + "." + \
        _b64(json.dumps(claims).encode()) + "."
    public_x = base64.urlsafe_b64decode(jwks[0]["x"] + "==")
    hmac_with_public = jwt.encode(claims, public_x, algorithm="HS256", headers={"kid": jwks[0]["kid"], "typ": "at+jwt"})
    stranger = ed25519.Ed25519PrivateKey.generate()
    unknown_kid = jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": "not-ours", "typ": "at+jwt"})
    known_kid_wrong_key = jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": header["kid"],
                                                                                   "typ": "at+jwt"})
    head, _, signature = account.access_token.split(".")
    tampered_claims = _b64(json.dumps({**claims, "roles": ["admin"]}).encode())
    cases = {
        "alg none": unsigned,
        "HMAC with the public key": hmac_with_public,
        "unknown kid": unknown_kid,
        "wrong key for a known kid": known_kid_wrong_key,
        "tampered payload": f"{head}.{tampered_claims}.{signature}",
        "wrong audience": await _signed(node, {**claims, "aud": "someone-else"}),
        "wrong issuer": await _signed(node, {**claims, "iss": "https://evil.example"}),
        "expired": await _signed(node, {**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}),
        "no typ": await _signed(node, claims, typ=None),
        "id-token typ": await _signed(node, claims, typ="JWT"),
        "missing jti": await _signed(node, {k: v for k, v in claims.items() if k != "jti"}),
        "refresh token as access token": account.refresh_token,
        "garbage": "not-a-token",
    }
    for name, token in cases.items():
        answer = await http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, name
        assert answer.headers["content-type"] == "application/problem+json", name
        assert answer.headers["www-authenticate"].startswith("Bearer"), name
    assert await _status(http, account.access_token) == 200


async def _refresh(http: httpx2.AsyncClient, token: str) -> httpx2.Response:
    return await http.post("/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": token})


async def test_refresh_rotates_and_reuse_revokes_the_family(http: httpx2.AsyncClient, node: RunningNode) -> None:
    node.node.service("auth").settings.refresh_reuse_interval = 0.5  # type: ignore[attr-defined]
    account = await new_account(http)
    first = (await _refresh(http, account.refresh_token)).json()
    assert first["refresh_token"] != account.refresh_token and len(first["refresh_token"]) >= 22
    second = (await _refresh(http, first["refresh_token"])).json()
    await asyncio.sleep(0.6)
    reuse = await _refresh(http, first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    after = await _refresh(http, second["refresh_token"])
    assert after.status_code == 400, "the whole family is revoked"
    assert await _status(http, second["access_token"]) == 401, "the session's access tokens are deny-listed"
    node.node.service("auth").settings.refresh_reuse_interval = 5.0  # type: ignore[attr-defined]


async def test_retried_refresh_within_the_reuse_interval_gets_the_current_pair(http: httpx2.AsyncClient) -> None:
    account = await new_account(http)
    first = (await _refresh(http, account.refresh_token)).json()
    retried = await _refresh(http, account.refresh_token)
    assert retried.status_code == 200
    assert retried.json()["refresh_token"] == first["refresh_token"]
    assert (await _refresh(http, first["refresh_token"])).status_code == 200


async def test_concurrent_refreshes_never_fork_the_family(http: httpx2.AsyncClient) -> None:
    account = await new_account(http)
    answers = await asyncio.gather(*(_refresh(http, account.refresh_token) for _ in range(5)))
    assert all(a.status_code == 200 for a in answers)
    assert len({a.json()["refresh_token"] for a in answers}) == 1


async def test_logout_revokes_session_and_token(http: httpx2.AsyncClient) -> None:
    account = await new_account(http)
    other = await http.post("/oauth2/token", data={"grant_type": "password", "username": account.email,
                                                   "password": account.password})
    assert (await http.post("/api/v1/auth/logout", headers=account.headers)).status_code == 204
    assert await _status(http, account.access_token) == 401
    assert (await _refresh(http, account.refresh_token)).status_code == 400
    assert await _status(http, other.json()["access_token"]) == 200, "other sessions are untouched"


async def test_revoke_endpoint(http: httpx2.AsyncClient) -> None:
    account = await new_account(http)
    assert (await http.post("/oauth2/revoke", data={"token": "unknown-token"})).status_code == 200
    assert (await http.post("/oauth2/revoke", data={"token": account.refresh_token,
                                                    "token_type_hint": "refresh_token"})).status_code == 200
    assert (await _refresh(http, account.refresh_token)).status_code == 400
    fresh = await new_account(http)
    assert (await http.post("/oauth2/revoke", data={"token": fresh.access_token,
                                                    "token_type_hint": "access_token"})).status_code == 200
    assert await _status(http, fresh.access_token) == 401


async def test_introspection(http: httpx2.AsyncClient, account: Account, admin: Account) -> None:
    denied = await http.post("/oauth2/introspect", data={"token": account.access_token}, headers=account.headers)
    assert denied.status_code == 401
    active = (await http.post("/oauth2/introspect", data={"token": account.access_token},
                              headers=admin.headers)).json()
    assert active["active"] is True and active["sub"] == account.id and active["token_type"] == "access_token"
    refresh = (await http.post("/oauth2/introspect", data={"token": account.refresh_token},
                               headers=admin.headers)).json()
    assert refresh["active"] is True and refresh["token_type"] == "refresh_token"
    for token in ("garbage", "", "a.b.c"):
        answer = await http.post("/oauth2/introspect", data={"token": token}, headers=admin.headers)
        assert answer.json() == {"active": False}


async def test_key_rotation(http: httpx2.AsyncClient, node: RunningNode) -> None:
    account = await new_account(http)
    before = {k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]}
    old_kid = jwt.get_unverified_header(account.access_token)["kid"]
    new_kid = await node.node.service("auth").rotate_keys("test")  # type: ignore[attr-defined]
    after = {k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]}
    assert new_kid in before and old_kid not in after and len(after) == 2
    assert await _status(http, account.access_token) == 401, "tokens of a retired key stop working"
    renewed = (await _refresh(http, account.refresh_token)).json()
    assert jwt.get_unverified_header(renewed["access_token"])["kid"] == new_kid
    assert await _status(http, renewed["access_token"]) == 200


@pytest.mark.parametrize("header", ["Basic Zm9vOmJhcg==", "Bearer", "Bearer  x y", "Token abc"])
async def test_odd_authorization_headers(http: httpx2.AsyncClient, header: str) -> None:
    answer = await http.get("/api/v1/users/me", headers={"Authorization": header})
    assert answer.status_code == 401
