"""The authenticated read's hot path across nodes: revocations and profile changes made on one node reach the
others (broadcast, or resync at start), and the handlers' helpers leave no trace in the OpenAPI document."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2

from gravity_platform.devstack import StackEndpoints
from tests.platform.conftest import new_account
from tests.platform.support import node_with


async def _eventually(check: object, timeout: float = 2.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await check():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.02)
    return False


async def test_profile_changes_reach_other_nodes_caches(stack: StackEndpoints, key_file: Path,
                                                        http: httpx2.AsyncClient) -> None:
    account = await new_account(http, "cached")
    async with node_with(stack, key_file) as other, other.client() as remote:
        first = await remote.get("/api/v1/users/me", headers=account.headers)
        assert first.status_code == 200, first.text
        assert (await remote.get("/api/v1/users/me", headers=account.headers)).json() == first.json()

        changed = await http.patch("/api/v1/users/me", headers=account.headers, json={"display_name": "Cached"})
        assert changed.status_code == 200, changed.text
        here = await http.get("/api/v1/users/me", headers=account.headers)
        assert here.json()["display_name"] == "Cached", "the node that wrote never serves the old profile"

        async def seen_there() -> bool:
            answer = await remote.get("/api/v1/users/me", headers=account.headers)
            return bool(answer.json()["display_name"] == "Cached")

        assert await _eventually(seen_there), "the other node dropped its cached copy on the broadcast"


async def test_a_node_started_after_a_logout_refuses_the_token(stack: StackEndpoints, key_file: Path,
                                                               http: httpx2.AsyncClient) -> None:
    account = await new_account(http, "resync")
    assert (await http.post("/api/v1/auth/logout", headers=account.headers)).status_code == 204
    async with node_with(stack, key_file) as late, late.client() as client:
        refused = await client.get("/api/v1/users/me", headers=account.headers)
        assert refused.status_code == 401, "the broadcast was missed, the start-up resync from Valkey was not"


async def test_logout_reaches_a_running_node(stack: StackEndpoints, key_file: Path, http: httpx2.AsyncClient) -> None:
    account = await new_account(http, "broadcast")
    async with node_with(stack, key_file) as other, other.client() as client:
        assert (await client.get("/api/v1/users/me", headers=account.headers)).status_code == 200
        assert (await http.post("/api/v1/auth/logout", headers=account.headers)).status_code == 204

        async def refused() -> bool:
            return (await client.get("/api/v1/users/me", headers=account.headers)).status_code == 401

        assert await _eventually(refused)


async def test_openapi_shows_no_request_parameter(http: httpx2.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    for path, operations in document["paths"].items():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            names = {p["name"] for p in operation.get("parameters", [])}
            assert not names & {"request", "auth", "users", "principal", "client_address"}, path
    me = document["paths"]["/api/v1/users/me"]["get"]
    schema = me["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/User"), schema
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
