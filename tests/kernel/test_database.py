"""Migrations (idempotent, once per cluster under a lock), least-privilege service roles, and a node whose
PostgreSQL cannot be reached (writes answer 503, never 500)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import asyncpg
import httpx2
import pytest

from gravity_platform.devstack import DevStack
from gravity_platform.kernel.crypto import MasterKey
from gravity_platform.kernel.db import parse_dsn, role_name, service_password
from gravity_platform.kernel.migrations import MigrationReport, migrate
from gravity_platform.kernel.plugins import Service
from tests.platform.conftest import PASSWORD
from tests.platform.harness import free_port
from tests.platform.support import assert_problem, spawn_node


async def connect_as(devstack: DevStack, key: MasterKey, service: str, database: str | None = None
                     ) -> asyncpg.Connection:
    dsn = parse_dsn(devstack.endpoints.postgres_dsn)
    connection: asyncpg.Connection = await asyncpg.connect(
        host=dsn["host"], port=dsn["port"], database=database or dsn["database"], user=role_name(service),
        password=service_password(key, service))
    return connection


async def superuser(devstack: DevStack, database: str | None = None) -> asyncpg.Connection:
    dsn = parse_dsn(devstack.endpoints.postgres_dsn)
    if database:
        dsn["database"] = database
    connection: asyncpg.Connection = await asyncpg.connect(**dsn)
    return connection


# --- migrations ------------------------------------------------------------------------------------------------


async def test_migrations_are_idempotent(first_migration: list[MigrationReport], kernel_stack: DevStack,
                                         kernel_key: MasterKey, all_services: list[Service]) -> None:
    applied = {report.service: report.applied for report in first_migration}
    assert applied["auth"], "the first run applies the auth migrations"
    assert applied["users"], "and the users migrations"
    again = await migrate(kernel_stack.endpoints.postgres_dsn, all_services, kernel_key)
    assert [(r.service, r.applied) for r in again] == [(r.service, []) for r in first_migration]

    admin = await superuser(kernel_stack)
    try:
        for service in ("auth", "users"):
            ran = await admin.fetch(f"SELECT name FROM {service}.migration WHERE app_name = $1", service)  # noqa: S608
            assert sorted(row["name"] for row in ran) == sorted(applied[service]), "each recorded exactly once"
    finally:
        await admin.close()


async def test_concurrent_migrations_run_once(kernel_stack: DevStack, kernel_key: MasterKey,
                                              all_services: list[Service]) -> None:
    admin = await superuser(kernel_stack)
    try:
        await admin.execute("DROP DATABASE IF EXISTS racing")
        await admin.execute("CREATE DATABASE racing")
    finally:
        await admin.close()
    url = kernel_stack.endpoints.postgres_dsn.rsplit("/", 1)[0] + "/racing"
    runs = await asyncio.gather(*(migrate(url, all_services, kernel_key) for _ in range(3)))
    per_run = [sorted(name for report in run for name in report.applied) for run in runs]
    assert sorted(len(names) > 0 for names in per_run) == [False, False, True], \
        "under the cluster-wide lock one run migrates and the others find nothing to do"


# --- least privilege -------------------------------------------------------------------------------------------


async def test_service_roles_are_least_privilege(first_migration: list[MigrationReport], kernel_stack: DevStack,
                                                 kernel_key: MasterKey) -> None:
    auth = await connect_as(kernel_stack, kernel_key, "auth")
    users = await connect_as(kernel_stack, kernel_key, "users")
    try:
        assert await auth.fetchval("SELECT count(*) FROM auth.credential") is not None, "its own schema"
        assert await auth.fetchval("SHOW search_path") == "auth"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await auth.fetch("SELECT * FROM users.profile")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await users.fetch("SELECT * FROM auth.credential")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await users.execute("UPDATE auth.credential SET email = 'x'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await auth.execute("CREATE TABLE public.sneaky (id int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await auth.execute("CREATE SCHEMA sneaky")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await auth.execute("CREATE ROLE sneaky")
        attributes = await auth.fetchrow(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles "
            "WHERE rolname = current_user")
        assert attributes is not None
        assert not any(attributes.values())
    finally:
        await auth.close()
        await users.close()


async def test_a_role_cannot_use_another_services_password(first_migration: list[MigrationReport],
                                                           kernel_stack: DevStack, kernel_key: MasterKey) -> None:
    dsn = parse_dsn(kernel_stack.endpoints.postgres_dsn)
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(host=dsn["host"], port=dsn["port"], database=dsn["database"], user="gravity_auth",
                              password=service_password(kernel_key, "users"))
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(host=dsn["host"], port=dsn["port"], database=dsn["database"], user="gravity_auth",
                              password=service_password(MasterKey(b"\x01" * 32), "auth"))


# --- PostgreSQL unreachable ------------------------------------------------------------------------------------


async def test_writes_answer_503_when_postgresql_is_down(kernel_stack: DevStack, kernel_key_file: Path) -> None:
    port = free_port()
    process = await spawn_node(kernel_stack, "node-without-db", port, kernel_key_file,
                               GRAVITY_DATABASE__URL=f"postgresql://postgres:wrong@127.0.0.1:{free_port()}/gravity")
    async with contextlib.AsyncExitStack() as cleanup:
        cleanup.push_async_callback(process.stop)
        client = await cleanup.enter_async_context(httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                                                      timeout=10.0))
        register = await client.post("/api/v1/auth/register", json={"email": "nobody@example.com",
                                                                     "password": PASSWORD})
        body = assert_problem(register, 503, "unavailable")
        assert "nothing was changed" in body["detail"]
        assert register.headers["retry-after"] == "5"
        sign_in = await client.post("/oauth2/token", data={"grant_type": "password", "username": "nobody@example.com",
                                                           "password": PASSWORD})
        assert sign_in.status_code == 503
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["postgresql"] is False
        assert (await client.get("/healthz")).status_code == 200, "the process itself is alive"
        assert_problem(await client.get("/api/v1/users/me", headers={"Authorization": "Bearer x.y.z"}), 401)
