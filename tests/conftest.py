"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gravity_platform.devstack import DevStack, StackEndpoints, StackPorts
from gravity_platform.kernel.crypto import generate_master_key_file


@pytest.fixture(scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[StackEndpoints]:
    """One embedded PostgreSQL + NATS + Valkey for the session, on free ports in a pytest temp folder.

    Never the developer's own ``.gravity/``; fsync is off since the data is thrown away.
    """
    devstack = DevStack(tmp_path_factory.mktemp("devstack"), ports=StackPorts.free(), durable=False)
    endpoints = await devstack.start()
    try:
        yield endpoints
    finally:
        await devstack.stop()


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The master key of every node on the session stack (service role passwords derive from it)."""
    path = tmp_path_factory.mktemp("secrets") / "master.key"
    generate_master_key_file(path)
    return path
