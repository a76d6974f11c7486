"""The shortest path through the platform: register, sign in, read and change your profile."""

from __future__ import annotations

import httpx2

from tests.platform.conftest import Account


async def test_me_round_trip(http: httpx2.AsyncClient, account: Account) -> None:
    me = await http.get("/api/v1/users/me", headers=account.headers)
    assert me.status_code == 200
    assert me.json()["email"] == account.email
    changed = await http.patch("/api/v1/users/me", headers=account.headers, json={"display_name": "Ada"})
    assert changed.json()["display_name"] == "Ada"
    again = await http.get("/api/v1/users/me", headers=account.headers)
    assert again.json()["display_name"] == "Ada"
