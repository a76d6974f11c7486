"""Stop everything and start it again: accounts, profiles, sessions, signing keys and revocations survive.

A durable stack of its own in a temporary folder; the node runs as a separate process, the way
`gravity serve` runs it (a second configuration of the services cannot share this test process with
the session node, since each service's database handle is one per process)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2

from gravity_platform.devstack import DevStack, StackPorts
from gravity_platform.kernel.crypto import MasterKey, generate_master_key_file
from gravity_platform.kernel.migrations import migrate
from gravity_platform.kernel.plugins import discover_services, resolve_order
from tests.platform.conftest import PASSWORD, sign_in, unique_email
from tests.platform.harness import free_port
from tests.platform.support import spawn_node


async def _migrate(devstack: DevStack, key_file: Path) -> list[str]:
    services = resolve_order(discover_services(), [])
    reports = await migrate(devstack.endpoints.postgres_dsn, services, MasterKey.from_file(key_file))
    return [name for report in reports for name in report.applied]


@contextlib.asynccontextmanager
async def _stack_and_node(root: Path, ports: StackPorts, key_file: Path, port: int
                          ) -> AsyncIterator[tuple[httpx2.AsyncClient, list[str]]]:
    """Start the durable stack, migrate, run a node process on `port`; stop all of it on exit (the node
    first, with SIGTERM, which it must answer by draining and exiting cleanly)."""
    devstack = DevStack(root, ports=ports, durable=True)
    await devstack.start()
    try:
        applied = await _migrate(devstack, key_file)
        process = await spawn_node(devstack, "node", port, key_file)
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as client:
            for _ in range(100):
                if (await client.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            yield client, applied
        assert await process.stop(timeout=30) == 0, devstack.paths.log("node").read_text()[-3000:]
    finally:
        await devstack.stop()


async def test_data_survives_a_full_restart(tmp_path: Path) -> None:
    root = tmp_path / "project"
    key_file = root / "secrets" / "master.key"
    generate_master_key_file(key_file)
    ports, port = StackPorts.free(), free_port()
    email, leaver = unique_email("durable"), unique_email("leaver")

    async with _stack_and_node(root, ports, key_file, port) as (client, applied):
        assert applied, "the first start migrates"
        registered = await client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD,
                                                                       "display_name": "Durable Dora"})
        assert registered.status_code == 201, registered.text
        tokens = (await sign_in(client, email)).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        changed = await client.patch("/api/v1/users/me", headers=bearer, json={"metadata": {"kept": True}})
        assert changed.status_code == 200, changed.text

        assert (await client.post("/api/v1/auth/register", json={"email": leaver, "password": PASSWORD})
                ).status_code == 201
        leaving = (await sign_in(client, leaver)).json()
        leaving_bearer = {"Authorization": f"Bearer {leaving['access_token']}"}
        assert (await client.post("/api/v1/auth/logout", headers=leaving_bearer)).status_code == 204
        assert (await client.get("/api/v1/users/me", headers=leaving_bearer)).status_code == 401

    async with _stack_and_node(root, ports, key_file, port) as (client, applied):
        assert applied == [], "a restart finds every migration already applied"
        fresh = await sign_in(client, email)
        assert fresh.status_code == 200, fresh.text
        me = await client.get("/api/v1/users/me",
                              headers={"Authorization": f"Bearer {fresh.json()['access_token']}"})
        assert me.status_code == 200, me.text
        profile = me.json()
        assert profile["email"] == email
        assert profile["display_name"] == "Durable Dora"
        assert profile["metadata"] == {"kept": True}

        still = await client.get("/api/v1/users/me", headers=bearer)
        assert still.status_code == 200, "signing keys survive: tokens issued before the restart still verify"
        rotated = await client.post("/oauth2/token", data={"grant_type": "refresh_token",
                                                           "refresh_token": tokens["refresh_token"]})
        assert rotated.status_code == 200, "sessions survive"

        assert (await client.get("/api/v1/users/me", headers=leaving_bearer)).status_code == 401, \
            "a revocation made before the restart still holds"
        duplicate = await client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert duplicate.status_code == 409
