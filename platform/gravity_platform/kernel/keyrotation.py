"""Rotating the platform master key: re-wrap every sealed value's data key, then re-derive the database roles'
passwords — resumable if it stops midway, because the key file is written first and keeps the retired key."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from gravity_platform.kernel.crypto import MasterKey
from gravity_platform.kernel.db import parse_dsn, role_name, service_password
from gravity_platform.kernel.plugins import Service


class RotationError(RuntimeError):
    """The rotation cannot go on (a value sealed under a key the key file lacks, a role that cannot log in)."""


@dataclass(frozen=True, slots=True)
class RotationReport:
    """What one rotation did: the new key's ID, the retired ones, and values re-wrapped per service."""

    key_id: str
    retired: list[str]
    rewrapped: dict[str, int] = field(default_factory=dict)


def write_key_file(path: Path, key: MasterKey) -> None:
    """Replace the key file atomically (0600), so a crash leaves the old or the new file, never half of one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.file_text())
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


async def _connect_as(service: str, dsn: dict[str, object], key: MasterKey) -> asyncpg.Connection:
    """Connect as the service's role with the password of the current key, else of a retired one (a resumed run)."""
    failure: Exception | None = None
    for candidate in (key, *key.previous):
        try:
            return await asyncpg.connect(**{**dsn, "user": role_name(service),
                                            "password": service_password(candidate, service)}, timeout=10)
        except asyncpg.InvalidPasswordError as error:
            failure = error
    raise RotationError(f"cannot connect as {role_name(service)} with the current or a retired key: {failure}")


async def _rewrap_service(service: Service, dsn: dict[str, object], key: MasterKey) -> int:
    connection = await _connect_as(service.name, dsn, key)
    count = 0
    try:
        async with connection.transaction():
            for table, column in service.sealed_columns:
                qualified = f'"{service.name}"."{table}"'
                rows = await connection.fetch(
                    f'SELECT "{column}" AS sealed FROM {qualified} WHERE "{column}" IS NOT NULL '  # noqa: S608
                    f'AND split_part("{column}", \'.\', 2) <> $1 FOR UPDATE', key.key_id)
                for row in rows:
                    await connection.execute(f'UPDATE {qualified} SET "{column}" = $1 WHERE "{column}" = $2',  # noqa: S608
                                             _rewrapped(key, row["sealed"], f"{service.name}.{table}.{column}"),
                                             row["sealed"])
                count += len(rows)
    finally:
        await connection.close()
    return count


def _rewrapped(key: MasterKey, sealed: str, where: str) -> str:
    try:
        return key.rewrap(sealed)
    except ValueError:
        key_id = sealed.split(".")[1] if sealed.count(".") == 3 else "unknown"
        raise RotationError(f"{where} holds a value sealed with master key {key_id}, which the key file does not "
                            "hold; nothing was changed for this service") from None


async def _set_role_passwords(admin_url: str, services: Sequence[Service], key: MasterKey) -> None:
    admin = await asyncpg.connect(**parse_dsn(admin_url), timeout=10)
    try:
        for service in services:
            statement = await admin.fetchval("SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)",
                                             role_name(service.name), service_password(key, service.name))
            await admin.execute(statement)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def rotate_master_key(admin_url: str, services: Sequence[Service], key_file: Path, *,
                            resume: bool = False) -> RotationReport:
    """Make a new master key current and move every service onto it.

    The key file first gets the new key with the old one kept as retired, then each service's sealed columns
    (`Service.sealed_columns`) are re-wrapped in one transaction per service, then every service role's password
    is re-derived. With `resume`, the key file's current key is kept and only the remaining steps run again.
    Running nodes must be restarted afterwards to read the new key file."""
    key = MasterKey.from_file(key_file)
    if not resume:
        key = key.succeeded_by(MasterKey.generate())
        write_key_file(key_file, key)
    dsn = {k: v for k, v in parse_dsn(admin_url).items() if k not in ("user", "password")}
    with_database = [service for service in services if service.database is not None]
    report = RotationReport(key.key_id, [retired.key_id for retired in key.previous])
    for service in with_database:
        if service.sealed_columns:
            report.rewrapped[service.name] = await _rewrap_service(service, dsn, key)
    await _set_role_passwords(admin_url, with_database, key)
    return report
