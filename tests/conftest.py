"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gravity_platform.devstack import DevStack, StackEndpoints, StackPorts


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
