"""Operator actions that work on the database directly, through an administrative node session.

They need what a node needs (the settings, the master key) but no running node: ``gravity users create-admin``
on a fresh install, ``gravity auth rotate-keys``, and the first admin of ``gravity dev up``.
"""

from __future__ import annotations

import re
import secrets
import sys
from typing import TYPE_CHECKING, Any, cast

from gravity_cli.errors import CLIError, reason

if TYPE_CHECKING:
    from gravity_platform.kernel.settings import GravitySettings
    from gravity_platform.services.auth.plugin import AuthService

ADMIN_ROLES = ["admin", "user"]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def check_email(email: str) -> str:
    """``email`` trimmed and lower-cased; a :class:`CLIError` (exit 2) if it is not an address."""
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise CLIError(f"{email!r} is not an email address", code=2)
    return email


def generate_password() -> str:
    """A random password (about 144 bits) for an account whose owner did not choose one."""
    return secrets.token_urlsafe(18)


def read_secret_line(what: str = "password") -> str:
    """One line from stdin (``--password-stdin``), without its line break; empty input is an error."""
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise CLIError(f"no {what} on standard input", code=2)
    return line


async def check_database(admin_url: str, timeout: float = 5.0) -> None:
    """Connect once with the administrative URL; a :class:`CLIError` naming the server if that fails."""
    import asyncpg

    from gravity_platform.kernel.db import parse_dsn

    target = parse_dsn(admin_url)
    where = f"{target['host']}:{target['port']}/{target['database']}"
    try:
        connection = await asyncpg.connect(**target, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise CLIError(f"cannot connect to PostgreSQL at {where}: {reason(exc)}") from exc
    await connection.close()


async def register_account(settings: GravitySettings, email: str, password: str, *, roles: list[str],
                           display_name: str | None = None) -> dict[str, Any]:
    """Create an account and its profile directly in the database; returns the profile.

    Raises the platform's ``ConflictError`` (409) when the email is taken and ``UnprocessableError`` (422)
    when the password is refused.
    """
    from gravity_platform.kernel.admin import admin_node

    await check_database(settings.database.url)
    async with admin_node(settings, ["auth", "users"]) as node:
        auth = cast("AuthService", node.service("auth"))
        return await auth.accounts.register(email, password, display_name, address="cli", roles=roles, actor="cli")


async def rotate_signing_keys(settings: GravitySettings) -> tuple[str, bool]:
    """Rotate the JWT signing keys; returns the new key ID and whether running nodes were told over NATS."""
    from gravity_platform.kernel.admin import admin_node

    await check_database(settings.database.url)
    async with admin_node(settings, ["auth", "users"]) as node:
        auth = cast("AuthService", node.service("auth"))
        kid = await auth.rotate_keys("cli")
        return kid, node.bus.connected
