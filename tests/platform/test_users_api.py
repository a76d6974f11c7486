"""The users API: profiles, admin listing and search, role changes, deactivation, erasure and its audit trail."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import httpx2

from gravity_platform.devstack import StackEndpoints
from tests.platform.conftest import PASSWORD, Account, new_account, sign_in, unique_email
from tests.platform.support import assert_problem, superuser_fetch, token_claims

USERS = "/api/v1/users"


async def register(http: httpx2.AsyncClient, email: str, display_name: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"email": email, "password": PASSWORD}
    if display_name is not None:
        body["display_name"] = display_name
    response = await http.post("/api/v1/auth/register", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def refresh(http: httpx2.AsyncClient, refresh_token: str) -> httpx2.Response:
    return await http.post("/oauth2/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def cursor_of(*parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


async def audit_rows(stack: StackEndpoints, target: str, action: str) -> list[dict[str, Any]]:
    rows = await superuser_fetch(
        stack, "SELECT actor, action, target, outcome, request_id, details FROM users.audit_log "
        "WHERE target = $1 AND action = $2 ORDER BY at", target, action)
    return [{**dict(row), "details": json.loads(row["details"])} for row in rows]


# --- the caller's own profile ---------------------------------------------------------------------------------


async def test_me_needs_a_token(http: httpx2.AsyncClient) -> None:
    response = await http.get(f"{USERS}/me")
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_get_and_patch_me(http: httpx2.AsyncClient, account: Account) -> None:
    me = (await http.get(f"{USERS}/me", headers=account.headers)).json()
    assert me["id"] == account.id
    assert me["email"] == account.email
    assert me["roles"] == ["user"]
    assert me["is_active"] is True
    changed = await http.patch(f"{USERS}/me", headers=account.headers,
                               json={"display_name": "Ada Lovelace", "metadata": {"theme": "dark"}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["display_name"] == "Ada Lovelace"
    assert changed.json()["metadata"] == {"theme": "dark"}
    again = (await http.get(f"{USERS}/me", headers=account.headers)).json()
    assert again["display_name"] == "Ada Lovelace"
    assert again["metadata"] == {"theme": "dark"}
    assert again["updated_at"] >= me["updated_at"]
    cleared = await http.patch(f"{USERS}/me", headers=account.headers, json={"display_name": None})
    assert cleared.json()["display_name"] is None
    assert cleared.json()["metadata"] == {"theme": "dark"}


async def test_self_update_ignores_privileged_fields(http: httpx2.AsyncClient, account: Account) -> None:
    response = await http.patch(f"{USERS}/me", headers=account.headers, json={
        "display_name": "Mallory", "roles": ["admin"], "is_active": False, "is_admin": True,
        "email": "someone-else@example.com", "email_verified": True, "id": str(uuid.uuid4()),
    })
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["display_name"] == "Mallory"
    assert me["roles"] == ["user"]
    assert me["is_active"] is True
    assert me["email"] == account.email
    assert me["email_verified"] is False
    assert me["id"] == account.id
    fresh = (await sign_in(http, account.email)).json()
    assert token_claims(fresh["access_token"])["roles"] == ["user"]
    listing = await http.get(USERS, headers={"Authorization": f"Bearer {fresh['access_token']}"})
    assert_problem(listing, 403, "forbidden")


async def test_invalid_self_update_is_a_problem(http: httpx2.AsyncClient, account: Account) -> None:
    too_long = await http.patch(f"{USERS}/me", headers=account.headers, json={"display_name": "x" * 201})
    assert_problem(too_long, 400)
    wrong_type = await http.patch(f"{USERS}/me", headers=account.headers, json={"metadata": "not an object"})
    assert_problem(wrong_type, 400)
    not_json = await http.patch(f"{USERS}/me", headers={**account.headers, "content-type": "application/json"},
                                content=b"{nope")
    assert_problem(not_json, 400)


# --- another user's data ---------------------------------------------------------------------------------------


async def test_non_admin_cannot_touch_other_users(http: httpx2.AsyncClient, account: Account) -> None:
    other = await new_account(http, "other")
    target = f"{USERS}/{other.id}"
    assert_problem(await http.get(USERS, headers=account.headers), 403, "forbidden")
    assert_problem(await http.get(target, headers=account.headers), 403, "forbidden")
    assert_problem(await http.patch(target, headers=account.headers, json={"display_name": "pwned"}), 403)
    assert_problem(await http.put(f"{target}/roles", headers=account.headers, json={"roles": ["admin"]}), 403)
    assert_problem(await http.delete(target, headers=account.headers), 403)
    assert_problem(await http.get(f"{USERS}/{account.id}", headers=account.headers), 403)
    untouched = (await http.get(f"{USERS}/me", headers=other.headers)).json()
    assert untouched["display_name"] is None
    assert untouched["roles"] == ["user"]
    assert (await sign_in(http, other.email)).status_code == 200


async def test_anonymous_cannot_list(http: httpx2.AsyncClient) -> None:
    assert_problem(await http.get(USERS), 401)
    assert_problem(await http.get(f"{USERS}/{uuid.uuid4()}"), 401)


async def test_admin_reads_and_changes_another_user(http: httpx2.AsyncClient, admin: Account,
                                                    account: Account) -> None:
    seen = await http.get(f"{USERS}/{account.id}", headers=admin.headers)
    assert seen.status_code == 200
    assert seen.json()["email"] == account.email
    changed = await http.patch(f"{USERS}/{account.id}", headers=admin.headers,
                               json={"display_name": "Renamed by admin", "metadata": {"tier": "gold"}})
    assert changed.status_code == 200, changed.text
    me = (await http.get(f"{USERS}/me", headers=account.headers)).json()
    assert me["display_name"] == "Renamed by admin"
    assert me["metadata"] == {"tier": "gold"}


async def test_unknown_and_malformed_ids(http: httpx2.AsyncClient, admin: Account) -> None:
    missing = f"{USERS}/{uuid.uuid4()}"
    for method in ("GET", "PATCH", "DELETE"):
        kwargs: dict[str, Any] = {"json": {"display_name": "x"}} if method == "PATCH" else {}
        assert_problem(await http.request(method, missing, headers=admin.headers, **kwargs), 404, "not-found")
    assert_problem(await http.put(f"{missing}/roles", headers=admin.headers, json={"roles": ["user"]}), 404)
    for malformed in ("not-a-uuid", "1234", "6f1c1a7e-1111-4222-8333-44445555666Z"):
        response = await http.get(f"{USERS}/{malformed}", headers=admin.headers)
        assert response.status_code in (400, 404), response.text
        assert_problem(response, response.status_code)


# --- listing, paging, search -----------------------------------------------------------------------------------


async def test_admin_pages_through_a_search(http: httpx2.AsyncClient, admin: Account) -> None:
    prefix = f"page{uuid.uuid4().hex[:8]}"
    created = await asyncio.gather(*(register(http, unique_email(prefix)) for _ in range(7)))
    expected = {user["id"] for user in created}

    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"q": prefix, "limit": 3, **({"cursor": cursor} if cursor else {})}
        response = await http.get(USERS, headers=admin.headers, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        assert len(page["items"]) <= 3
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10, "paging does not end"
    ids = [user["id"] for user in seen]
    assert len(ids) == len(set(ids)) == 7, "every user exactly once"
    assert set(ids) == expected
    assert pages == 3
    order = [(user["created_at"], user["id"]) for user in seen]
    assert order == sorted(order), "oldest first, ties broken by id"

    whole = (await http.get(USERS, headers=admin.headers, params={"q": prefix, "limit": 200})).json()
    assert [user["id"] for user in whole["items"]] == ids, "the same stable order without paging"
    assert whole["next_cursor"] is None


async def test_admin_search_by_email_and_name(http: httpx2.AsyncClient, admin: Account) -> None:
    tag = uuid.uuid4().hex[:8]
    by_email = await register(http, unique_email(f"find{tag}"))
    by_name = await register(http, unique_email("plain"), display_name=f"Zelda Q{tag} Hopper")

    found = (await http.get(USERS, headers=admin.headers, params={"q": by_email["email"]})).json()["items"]
    assert [user["id"] for user in found] == [by_email["id"]]
    upper = (await http.get(USERS, headers=admin.headers, params={"q": f"FIND{tag.upper()}"})).json()["items"]
    assert [user["id"] for user in upper] == [by_email["id"]], "search ignores case"

    named = (await http.get(USERS, headers=admin.headers, params={"q": f"zelda q{tag}"})).json()["items"]
    assert [user["id"] for user in named] == [by_name["id"]]

    wildcard = (await http.get(USERS, headers=admin.headers, params={"q": f"find{tag}%"})).json()["items"]
    assert wildcard == [], "LIKE wildcards in q are matched literally"
    underscore = (await http.get(USERS, headers=admin.headers, params={"q": f"find_{tag[1:]}"})).json()["items"]
    assert underscore == []


BAD_CURSORS = [
    "garbage",
    "!!!not base64!!!",
    cursor_of("not a date", str(uuid.uuid4())),
    cursor_of("2024-01-01T00:00:00+00:00", "not-a-uuid"),
    cursor_of("2024-01-01T00:00:00+00:00"),
    cursor_of(1, 2),
    base64.urlsafe_b64encode(b'{"a": 1}').decode(),
]


async def test_bad_cursor_is_422(http: httpx2.AsyncClient, admin: Account) -> None:
    for cursor in BAD_CURSORS:
        response = await http.get(USERS, headers=admin.headers, params={"cursor": cursor})
        assert_problem(response, 422, "unprocessable")


async def test_bad_limit_is_400(http: httpx2.AsyncClient, admin: Account) -> None:
    for limit in ("0", "201", "-1", "many"):
        assert_problem(await http.get(USERS, headers=admin.headers, params={"limit": limit}), 400)


# --- roles ---------------------------------------------------------------------------------------------------


async def test_role_change_takes_effect_and_is_audited(http: httpx2.AsyncClient, admin: Account,
                                                       stack: StackEndpoints) -> None:
    user = await new_account(http, "promote")
    assert_problem(await http.get(USERS, headers=user.headers), 403)

    changed = await http.put(f"{USERS}/{user.id}/roles", headers=admin.headers, json={"roles": ["user", "admin"]})
    assert changed.status_code == 200, changed.text
    assert sorted(changed.json()["roles"]) == ["admin", "user"]

    stale = await http.get(f"{USERS}/me", headers=user.headers)
    assert_problem(stale, 401, "unauthorized")

    refreshed = await refresh(http, user.refresh_token)
    assert refreshed.status_code == 200, refreshed.text
    access = refreshed.json()["access_token"]
    assert sorted(token_claims(access)["roles"]) == ["admin", "user"]
    assert token_claims(access)["iat"] > token_claims(user.access_token)["iat"], "issued past the denied second"
    listing = await http.get(USERS, headers={"Authorization": f"Bearer {access}"}, params={"q": user.email})
    assert listing.status_code == 200, listing.text
    assert [item["id"] for item in listing.json()["items"]] == [user.id]

    records = await audit_rows(stack, user.id, "roles_changed")
    assert len(records) == 1
    record = records[0]
    assert record["actor"] == admin.id
    assert record["outcome"] == "success"
    assert record["details"] == {"before": ["user"], "after": ["user", "admin"]}
    assert record["request_id"] == changed.headers["x-request-id"]


async def test_setting_the_same_roles_changes_nothing(http: httpx2.AsyncClient, admin: Account,
                                                      account: Account, stack: StackEndpoints) -> None:
    same = await http.put(f"{USERS}/{account.id}/roles", headers=admin.headers, json={"roles": ["user"]})
    assert same.status_code == 200
    assert (await http.get(f"{USERS}/me", headers=account.headers)).status_code == 200, "no needless revocation"
    assert await audit_rows(stack, account.id, "roles_changed") == []


async def test_invalid_roles_are_refused(http: httpx2.AsyncClient, admin: Account, account: Account) -> None:
    for roles in (["Admin"], ["with space"], [""], ["x" * 65], "admin", [1], [f"r{i}" for i in range(21)]):
        response = await http.put(f"{USERS}/{account.id}/roles", headers=admin.headers, json={"roles": roles})
        assert_problem(response, 400)
    assert_problem(await http.put(f"{USERS}/{account.id}/roles", headers=admin.headers, json={}), 400)
    me = (await http.get(f"{USERS}/me", headers=account.headers)).json()
    assert me["roles"] == ["user"]


# --- deactivation and erasure ----------------------------------------------------------------------------------


async def test_deactivation_ends_every_session(http: httpx2.AsyncClient, admin: Account,
                                               stack: StackEndpoints) -> None:
    user = await new_account(http, "deactivate")
    second = (await sign_in(http, user.email)).json()

    response = await http.patch(f"{USERS}/{user.id}", headers=admin.headers, json={"is_active": False})
    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False

    assert_problem(await http.get(f"{USERS}/me", headers=user.headers), 401)
    assert_problem(await http.get(f"{USERS}/me", headers={"Authorization": f"Bearer {second['access_token']}"}),
                   401)
    for refresh_token in (user.refresh_token, second["refresh_token"]):
        refused = await refresh(http, refresh_token)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "invalid_grant"
    again = await sign_in(http, user.email)
    assert again.status_code == 400, again.text
    assert again.json()["error"] == "invalid_grant"
    assert "access_token" not in again.json()

    shown = (await http.get(f"{USERS}/{user.id}", headers=admin.headers)).json()
    assert shown["is_active"] is False
    assert len(await audit_rows(stack, user.id, "user_deactivated")) == 1


async def test_delete_erases_the_user(http: httpx2.AsyncClient, admin: Account, stack: StackEndpoints) -> None:
    user = await new_account(http, "erase")
    deleted = await http.delete(f"{USERS}/{user.id}", headers=admin.headers)
    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""

    assert_problem(await http.get(f"{USERS}/{user.id}", headers=admin.headers), 404, "not-found")
    assert_problem(await http.delete(f"{USERS}/{user.id}", headers=admin.headers), 404)
    assert_problem(await http.get(f"{USERS}/me", headers=user.headers), 401)
    refused = await sign_in(http, user.email)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert (await refresh(http, user.refresh_token)).json()["error"] == "invalid_grant"
    listed = (await http.get(USERS, headers=admin.headers, params={"q": user.email})).json()["items"]
    assert listed == []

    assert await superuser_fetch(stack, "SELECT 1 FROM users.profile WHERE id = $1", uuid.UUID(user.id)) == []
    assert await superuser_fetch(stack, "SELECT 1 FROM auth.credential WHERE id = $1", uuid.UUID(user.id)) == []
    assert len(await audit_rows(stack, user.id, "user_deleted")) == 1

    again = await http.post("/api/v1/auth/register", json={"email": user.email, "password": PASSWORD})
    assert again.status_code == 201, "the email is free again after erasure"
    assert again.json()["id"] != user.id
