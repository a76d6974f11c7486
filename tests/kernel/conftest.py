"""Fixtures for kernel tests that need PostgreSQL and NATS of their own.

Service roles are cluster-wide and their passwords derive from the master key, so migrating the session
stack with another key would lock the session node out; these tests get a fresh stack (and key) instead."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import valkey.asyncio as valkey

from gravity_platform.devstack import DevStack, StackEndpoints
from gravity_platform.kernel.cache import connect
from gravity_platform.kernel.crypto import MasterKey, generate_master_key_file
from gravity_platform.kernel.migrations import MigrationReport, migrate
from gravity_platform.kernel.plugins import Service, discover_services, resolve_order
from gravity_platform.kernel.settings import ValkeySettings
from tests.platform.harness import free_port
from tests.platform.support import extra_stack


@pytest.fixture(scope="session")
async def kernel_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevStack]:
    """A second embedded stack, empty at first."""
    async with extra_stack(tmp_path_factory.mktemp("kernel-stack")) as devstack:
        yield devstack


@pytest.fixture(scope="session")
def kernel_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kernel-secrets") / "master.key"
    generate_master_key_file(path)
    return path


@pytest.fixture(scope="session")
def kernel_key(kernel_key_file: Path) -> MasterKey:
    return MasterKey.from_file(kernel_key_file)


@pytest.fixture(scope="session")
def all_services() -> list[Service]:
    """Every installed service, dependencies first."""
    return resolve_order(discover_services(), [])


@pytest.fixture(scope="session")
async def first_migration(kernel_stack: DevStack, kernel_key: MasterKey,
                          all_services: list[Service]) -> list[MigrationReport]:
    """The kernel stack migrated once (the reports of that first run)."""
    return await migrate(kernel_stack.endpoints.postgres_dsn, all_services, kernel_key)


@asynccontextmanager
async def _valkey(url: str, timeout: float) -> AsyncIterator[valkey.Valkey]:
    connection = connect(ValkeySettings(url=url, timeout=timeout))
    try:
        yield connection
    finally:
        await connection.aclose()


@pytest.fixture
async def client(stack: StackEndpoints) -> AsyncIterator[valkey.Valkey]:
    """A Valkey client on the session stack."""
    async with _valkey(stack.valkey_url, 1.0) as connection:
        yield connection


@pytest.fixture
async def other_node_client(stack: StackEndpoints) -> AsyncIterator[valkey.Valkey]:
    """A second client on the same Valkey, as another node would have."""
    async with _valkey(stack.valkey_url, 1.0) as connection:
        yield connection


@pytest.fixture
async def unreachable() -> AsyncIterator[valkey.Valkey]:
    """A client for a Valkey that is not there (a closed local port)."""
    async with _valkey(f"redis://127.0.0.1:{free_port()}/0", 0.2) as connection:
        yield connection


def key() -> str:
    """A fresh key name no other test uses."""
    return f"test:{uuid.uuid4().hex}"
