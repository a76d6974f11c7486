"""Provision each service's schema and role, then run its Piccolo migrations — once per cluster, under a lock."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg
from piccolo.apps.migrations.commands.forwards import ForwardsMigrationManager
from piccolo.apps.migrations.tables import Migration

from gravity_platform.kernel import piccolo_conf
from gravity_platform.kernel.crypto import MasterKey
from gravity_platform.kernel.db import Engine, connection_target, parse_dsn, role_name, service_password
from gravity_platform.kernel.plugins import Service

log = logging.getLogger("gravity.migrations")

MIGRATION_TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS migration (id serial PRIMARY KEY, name varchar(200) NOT NULL, "
    "app_name varchar(200) NOT NULL, ran_on timestamp NOT NULL DEFAULT now())"
)
"""Piccolo's bookkeeping table, created in the service's own schema (the role may not create schemas)."""
MIGRATION_LOCK_ID = 0x67726176  # "grav": one advisory lock for the whole cluster
os.environ.setdefault("PICCOLO_CONF", "gravity_platform.kernel.piccolo_conf")


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What one service's migration run did."""

    service: str
    applied: list[str]


def sql_step(*blocks: str) -> Callable[[], Awaitable[None]]:
    """A raw migration step running plain SQL in the migration's transaction (as the service's role)."""

    async def run() -> None:
        transaction = piccolo_conf.DB.current_transaction.get()
        if transaction is None:
            raise RuntimeError("migration steps run inside the migration transaction")
        for block in blocks:
            await transaction.connection.execute(block)

    return run


async def provision(admin: asyncpg.Connection, service: str, password: str, connection_limit: int) -> None:
    """Create (or bring up to date) the role and schema of one service, with rights on its schema only."""
    role = role_name(service)
    database = await admin.fetchval("SELECT current_database()")
    exists = await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
    superuser = await admin.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    statements = [] if exists else [await admin.fetchval("SELECT format('CREATE ROLE %I', $1::text)", role)]
    # A deployed admin is not a superuser but has CREATEROLE (PostgreSQL 15): it may not name the SUPERUSER or
    # REPLICATION attributes (new roles lack them anyway), and must be a member of a role to create its schema.
    attributes = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION" if superuser else "NOCREATEDB NOCREATEROLE"
    if not superuser:
        statements.append(await admin.fetchval("SELECT format('GRANT %I TO CURRENT_USER', $1::text)", role))
    statements += [
        await admin.fetchval(
            f"SELECT format('ALTER ROLE %I WITH LOGIN {attributes} "
            "CONNECTION LIMIT %s PASSWORD %L', $1::text, $2::int, $3::text)", role, connection_limit, password),
        await admin.fetchval("SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', $1::text, $2::text)",
                             service, role),
        await admin.fetchval("SELECT format('ALTER ROLE %I SET search_path = %I', $1::text, $2::text)", role, service),
        await admin.fetchval("SELECT format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', $1::text)", service),
        await admin.fetchval("SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', $1::text)", database),
        await admin.fetchval("SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', $1::text, $2::text)",
                             database, role),
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    ]
    for statement in statements:
        await admin.execute(statement)


async def _run_piccolo(service: Service, dsn: dict[str, object], password: str) -> list[str]:
    app = service.piccolo_app()
    if app is None:
        return []
    engine = Engine(config={
        **connection_target(dsn), "user": role_name(service.name),
        "password": password, "server_settings": {"search_path": service.name},
    })
    piccolo_conf.DB = engine
    Migration._meta.db = engine
    Migration._meta.schema = service.name
    manager = ForwardsMigrationManager(app_name=app.app_name)
    before = set(await _applied(service.name, engine))
    await engine._run_in_new_connection(MIGRATION_TABLE_DDL)
    with contextlib.redirect_stdout(io.StringIO()):
        result = await manager.run_migrations(app)
    if not result.success:
        raise RuntimeError(f"migrations of {service.name} failed: {result.message}")
    return sorted(set(await _applied(service.name, engine)) - before)


async def _applied(service: str, engine: Engine) -> list[str]:
    try:
        return list(await Migration.get_migrations_which_ran(app_name=service))
    except asyncpg.UndefinedTableError:
        return []


async def migrate(admin_url: str, services: Sequence[Service], master_key: MasterKey, *,
                  connection_limit: int = 20, lock_timeout: float = 120.0) -> list[MigrationReport]:
    """Run every service's migrations in dependency order, holding the cluster-wide migration lock."""
    dsn = parse_dsn(admin_url)
    admin = await asyncpg.connect(**dsn, timeout=10)
    try:
        await admin.execute(f"SET lock_timeout = '{int(lock_timeout * 1000)}ms'")
        await admin.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
        reports = []
        for service in services:
            if service.database is None:
                continue
            password = service_password(master_key, service.name)
            await provision(admin, service.name, password, connection_limit)
            applied = await _run_piccolo(service, dsn, password)
            if applied:
                log.info("migrated", extra={"service": service.name, "applied": applied})
            reports.append(MigrationReport(service.name, applied))
        return reports
    finally:
        with contextlib.suppress(Exception):
            await admin.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
        await admin.close()
