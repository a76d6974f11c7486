"""`gravity keys rotate-master`: sealed values move to the new key, role passwords follow, and a stopped run resumes.

Rotation changes the cluster-wide service roles' passwords, so these tests run on a stack of their own."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from gravity_platform.devstack import DevStack
from gravity_platform.kernel.crypto import MasterKey, generate_master_key_file
from gravity_platform.kernel.db import parse_dsn, role_name, service_password
from gravity_platform.kernel.keyrotation import RotationError, rotate_master_key, write_key_file
from gravity_platform.kernel.migrations import migrate
from gravity_platform.kernel.plugins import Service, discover_services, resolve_order
from tests.platform.support import extra_stack

AAD = b"rotation-test"


@pytest.fixture(scope="module")
async def rotation_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevStack]:
    async with extra_stack(tmp_path_factory.mktemp("rotation-stack")) as devstack:
        yield devstack


@pytest.fixture(scope="module")
def auth_services() -> list[Service]:
    return resolve_order(discover_services(), ["auth"])


@pytest.fixture
async def key_file(rotation_stack: DevStack, auth_services: list[Service], tmp_path: Path) -> Path:
    """A fresh master key for a migrated database (each test re-derives the role passwords from its own key)."""
    path = tmp_path / "master.key"
    generate_master_key_file(path)
    key = MasterKey.from_file(path)
    await migrate(rotation_stack.endpoints.postgres_dsn, auth_services, key)
    connection = await _as_auth(rotation_stack.endpoints.postgres_dsn, key)
    try:
        await connection.execute("TRUNCATE signing_key, credential CASCADE")
    finally:
        await connection.close()
    return path


async def _as_auth(url: str, key: MasterKey) -> asyncpg.Connection:
    dsn = {**parse_dsn(url), "user": role_name("auth"), "password": service_password(key, "auth")}
    return await asyncpg.connect(**dsn)


async def _seal_rows(url: str, key: MasterKey) -> tuple[str, str]:
    """A signing key and an MFA secret sealed under `key`; returns their IDs."""
    connection = await _as_auth(url, key)
    kid, user = uuid.uuid4().hex, uuid.uuid4()
    try:
        await connection.execute(
            "INSERT INTO signing_key (kid, alg, private_sealed, public_jwk, status) VALUES ($1, 'EdDSA', $2, '{}', "
            "'retired')", kid, key.seal(b"private key", AAD))
        await connection.execute(
            "INSERT INTO credential (id, email, password_hash, mfa_secret) VALUES ($1, $2, 'x', $3)",
            user, f"{user}@example.com", key.seal(b"totp secret", AAD))
    finally:
        await connection.close()
    return kid, str(user)


async def _sealed(url: str, key: MasterKey, kid: str, user: str) -> tuple[str, str]:
    connection = await _as_auth(url, key)
    try:
        private = await connection.fetchval("SELECT private_sealed FROM signing_key WHERE kid = $1", kid)
        secret = await connection.fetchval("SELECT mfa_secret FROM credential WHERE id = $1", uuid.UUID(user))
    finally:
        await connection.close()
    return private, secret


async def test_rotation_rewraps_sealed_values_and_role_passwords(
        rotation_stack: DevStack, auth_services: list[Service], key_file: Path) -> None:
    url = rotation_stack.endpoints.postgres_dsn
    old = MasterKey.from_file(key_file)
    kid, user = await _seal_rows(url, old)

    report = await rotate_master_key(url, auth_services, key_file)

    new = MasterKey.from_file(key_file)
    assert new.key_id == report.key_id != old.key_id
    assert [retired.key_id for retired in new.previous] == [old.key_id] == report.retired
    assert report.rewrapped["auth"] >= 2
    private, secret = await _sealed(url, new, kid, user)
    assert new.is_current(private) and new.is_current(secret)
    assert MasterKey(_raw(new)).open(private, AAD) == b"private key", "the new key alone opens it"
    assert new.open(secret, AAD) == b"totp secret"
    with pytest.raises(ValueError, match="another master key"):
        old.open(private, AAD)
    with pytest.raises(asyncpg.InvalidPasswordError):
        await _as_auth(url, old)
    assert _mode(key_file) == 0o600


async def test_a_stopped_rotation_resumes(rotation_stack: DevStack, auth_services: list[Service],
                                          key_file: Path) -> None:
    """The key file was replaced but nothing else happened: --resume re-wraps with the old role password."""
    url = rotation_stack.endpoints.postgres_dsn
    old = MasterKey.from_file(key_file)
    kid, user = await _seal_rows(url, old)
    write_key_file(key_file, old.succeeded_by(MasterKey.generate()))

    report = await rotate_master_key(url, auth_services, key_file, resume=True)
    again = await rotate_master_key(url, auth_services, key_file, resume=True)

    new = MasterKey.from_file(key_file)
    assert report.key_id == again.key_id == new.key_id
    assert report.rewrapped["auth"] >= 2
    assert again.rewrapped["auth"] == 0
    private, secret = await _sealed(url, new, kid, user)
    assert new.is_current(private) and new.open(secret, AAD) == b"totp secret"


async def test_a_value_sealed_under_an_unknown_key_stops_the_rotation_cleanly(
        rotation_stack: DevStack, auth_services: list[Service], key_file: Path) -> None:
    url = rotation_stack.endpoints.postgres_dsn
    old = MasterKey.from_file(key_file)
    kid, user = await _seal_rows(url, old)
    connection = await _as_auth(url, old)
    try:
        await connection.execute("UPDATE credential SET mfa_secret = $1", MasterKey.generate().seal(b"?", AAD))
    finally:
        await connection.close()
    write_key_file(key_file, old.succeeded_by(MasterKey.generate()))

    with pytest.raises(RotationError, match=r"auth\.credential\.mfa_secret .* master key"):
        await rotate_master_key(url, auth_services, key_file, resume=True)

    private, _ = await _sealed(url, old, kid, user)
    assert private.split(".")[1] == old.key_id, "the signing key's re-wrap rolled back with the rest"


def _raw(key: MasterKey) -> bytes:
    """The current key alone (without retired ones), read back through the file format."""
    first_line = key.file_text().splitlines()[0]
    return base64.urlsafe_b64decode(first_line + "=" * (-len(first_line) % 4))


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777
