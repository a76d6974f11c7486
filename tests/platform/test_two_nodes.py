"""Auth and users on two different nodes behind a third, gateway-only node, finding each other through NATS.

The three nodes get a NATS server of their own, so the session node (which hosts every service and joins
the same queue groups) cannot answer in their place; PostgreSQL and Valkey are the session stack's."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import nats
import pytest

from gravity_platform.devstack import StackEndpoints
from gravity_platform.kernel.settings import GravitySettings
from tests.platform.conftest import PASSWORD, sign_in, unique_email
from tests.platform.harness import RunningNode, make_settings, running_node
from tests.platform.support import GENERATED_ID, assert_problem, extra_stack


@dataclass
class Cluster:
    gateway: RunningNode
    auth: RunningNode
    users: RunningNode
    nats_url: str
    exits: contextlib.AsyncExitStack
    users_exit: contextlib.AsyncExitStack


@pytest.fixture(scope="module")
async def cluster(stack: StackEndpoints, key_file: Path, settings: GravitySettings,
                  tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    """Three nodes; `settings` is requested so the session database is migrated first."""
    async with extra_stack(tmp_path_factory.mktemp("bus-only")) as bus, contextlib.AsyncExitStack() as exits:
        nats_url = bus.endpoints.nats_url

        def named(name: str) -> GravitySettings:
            return make_settings(stack, key_file, nats={"url": nats_url}, node_name=name)

        auth = await exits.enter_async_context(running_node(named("node-auth"), ["auth"]))
        users_exit = contextlib.AsyncExitStack()
        exits.push_async_callback(users_exit.aclose)
        users = await users_exit.enter_async_context(running_node(named("node-users"), ["users"]))
        gateway = await exits.enter_async_context(running_node(named("node-gateway"), ["gateway"]))
        yield Cluster(gateway, auth, users, nats_url, exits, users_exit)


@pytest.fixture
async def edge(cluster: Cluster) -> AsyncIterator[httpx2.AsyncClient]:
    async with cluster.gateway.client() as client:
        yield client


async def micro(nats_url: str, subject: str, wait: float = 0.3) -> list[dict[str, Any]]:
    """Every answer to a NATS micro discovery request (PING/INFO go to every instance)."""
    connection = await nats.connect(nats_url)
    try:
        inbox = connection.new_inbox()
        answers: list[dict[str, Any]] = []
        subscription = await connection.subscribe(inbox)
        await connection.publish(subject, b"", reply=inbox)
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = await subscription.next_msg(timeout=left)
            except nats.errors.TimeoutError:
                break
            if message.data:  # an empty message is the server's "no responders" status
                answers.append(json.loads(message.data))
        return answers
    finally:
        await connection.close()


async def test_nodes_host_only_what_they_were_given(cluster: Cluster) -> None:
    assert [s.name for s in cluster.gateway.node.services] == ["gateway"]
    assert [s.name for s in cluster.auth.node.services] == ["auth"]
    assert [s.name for s in cluster.users.node.services] == ["users"]


async def test_register_sign_in_and_profile_through_the_gateway(edge: httpx2.AsyncClient) -> None:
    email = unique_email("remote")
    registered = await edge.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD,
                                                                "display_name": "Remote Ray"})
    assert registered.status_code == 201, registered.text
    assert registered.json()["display_name"] == "Remote Ray"
    assert GENERATED_ID.match(registered.headers["x-request-id"])

    tokens = await sign_in(edge, email)
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["cache-control"] == "no-store"
    bearer = {"Authorization": f"Bearer {tokens.json()['access_token']}"}

    me = await edge.get("/api/v1/users/me", headers=bearer)
    assert me.status_code == 200, me.text
    assert me.headers["content-type"].startswith("application/json")
    assert me.json()["email"] == email
    changed = await edge.patch("/api/v1/users/me", headers=bearer, json={"display_name": "Ray Remote"})
    assert changed.status_code == 200, changed.text
    assert (await edge.get("/api/v1/users/me", headers=bearer)).json()["display_name"] == "Ray Remote"

    userinfo = await edge.get("/oauth2/userinfo", headers=bearer)
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["name"] == "Ray Remote"

    refreshed = await edge.post("/oauth2/token", data={"grant_type": "refresh_token",
                                                       "refresh_token": tokens.json()["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text


async def test_remote_errors_keep_their_status_and_problem(edge: httpx2.AsyncClient) -> None:
    email = unique_email("remote-errors")
    assert (await edge.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})).status_code == 201
    duplicate = await edge.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert_problem(duplicate, 409, "conflict")
    bearer = {"Authorization": f"Bearer {(await sign_in(edge, email)).json()['access_token']}"}

    assert_problem(await edge.get("/api/v1/users", headers=bearer), 403, "forbidden")
    assert_problem(await edge.patch("/api/v1/users/me", headers=bearer, json={"display_name": "x" * 300}), 400)
    assert_problem(await edge.get("/api/v1/users/me"), 401, "unauthorized")
    assert_problem(await edge.get("/api/v1/users/me", headers={"Authorization": "Bearer not.a.jwt"}), 401)
    assert_problem(await edge.get("/api/v1/users/not-a-uuid", headers=bearer), 404)
    traced = await edge.get("/api/v1/users", headers={**bearer, "X-Request-ID": "trace-across-nodes"})
    assert traced.headers["x-request-id"] == "trace-across-nodes"
    assert traced.json()["request_id"] == "trace-across-nodes"

    wrong = await sign_in(edge, email, "not the password at all")
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant", "OAuth errors cross the bus in their own format"


async def test_a_service_on_its_own_port_is_guarded_the_same(cluster: Cluster, edge: httpx2.AsyncClient) -> None:
    email = unique_email("direct")
    assert (await edge.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})).status_code == 201
    bearer = {"Authorization": f"Bearer {(await sign_in(edge, email)).json()['access_token']}"}
    async with cluster.users.client() as direct:
        assert (await direct.get("/api/v1/users/me", headers=bearer)).json()["email"] == email
        assert_problem(await direct.get("/api/v1/users/me"), 401)
        assert_problem(await direct.get("/api/v1/users", headers=bearer), 403)
        assert_problem(await direct.post("/oauth2/token", data={"grant_type": "password"}), 404)


async def test_merged_openapi_on_the_gateway(edge: httpx2.AsyncClient) -> None:
    document = (await edge.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    for path in ("/api/v1/users/me", "/api/v1/users/{user_id}", "/oauth2/token", "/api/v1/auth/register"):
        assert path in document["paths"], path
    assert "User" in json.dumps(document["components"]["schemas"])


async def test_instances_are_discoverable_with_nats_micro(cluster: Cluster) -> None:
    pings = await micro(cluster.nats_url, "$SRV.PING")
    by_name = {(ping["name"], ping["metadata"]["node"]) for ping in pings}
    assert {("gravity-auth", "node-auth"), ("gravity-users", "node-users"),
            ("gravity-gateway", "node-gateway")} <= by_name
    assert all(ping["type"] == "io.nats.micro.v1.ping_response" for ping in pings)

    [info] = await micro(cluster.nats_url, "$SRV.INFO.gravity-users")
    subjects = {endpoint["subject"] for endpoint in info["endpoints"]}
    assert {"gravity.users.http", "gravity.users.principal", "gravity.users.upsert_profile"} <= subjects
    assert info["metadata"]["port"] == "8082"
    [auth_info] = await micro(cluster.nats_url, "$SRV.INFO.gravity-auth")
    assert "gravity.auth.jwks" in {endpoint["subject"] for endpoint in auth_info["endpoints"]}


async def test_a_stopped_service_answers_503_quickly(cluster: Cluster, edge: httpx2.AsyncClient,
                                                    stack: StackEndpoints, key_file: Path) -> None:
    email = unique_email("outage")
    assert (await edge.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})).status_code == 201
    bearer = {"Authorization": f"Bearer {(await sign_in(edge, email)).json()['access_token']}"}
    await cluster.users_exit.aclose()

    started = time.monotonic()
    down = await edge.get("/api/v1/users/me", headers=bearer)
    assert time.monotonic() - started < 2.0, "fails fast, no hang"
    assert_problem(down, 503, "unavailable")
    assert_problem(await edge.patch("/api/v1/users/me", headers=bearer, json={"display_name": "x"}), 503)

    lost = unique_email("half-written")
    refused = await edge.post("/api/v1/auth/register", json={"email": lost, "password": PASSWORD})
    assert_problem(refused, 503)
    assert (await micro(cluster.nats_url, "$SRV.PING.gravity-users", wait=0.2)) == []

    settings = make_settings(stack, key_file, nats={"url": cluster.nats_url}, node_name="node-users-2")
    async with running_node(settings, ["users"]):
        for _ in range(50):
            if await micro(cluster.nats_url, "$SRV.PING.gravity-users", wait=0.1):
                break
            await asyncio.sleep(0.05)
        back = await edge.get("/api/v1/users/me", headers=bearer)
        assert back.status_code == 200, back.text
        again = await edge.post("/api/v1/auth/register", json={"email": lost, "password": PASSWORD})
        assert again.status_code == 201, "the refused registration left nothing half-written behind"
