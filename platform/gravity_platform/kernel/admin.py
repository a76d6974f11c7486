"""Administrative sessions: the CLI hosting services in-process (not serving) to act on their data directly."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from gravity_platform.kernel.crypto import MasterKey
from gravity_platform.kernel.node import Node, build_node
from gravity_platform.kernel.settings import GravitySettings


@asynccontextmanager
async def admin_node(settings: GravitySettings, services: Sequence[str],
                     master_key: MasterKey | None = None) -> AsyncIterator[Node]:
    """A started node hosting `services` that takes no traffic from the bus; stopped on exit."""
    node = build_node(settings, services, master_key=master_key)
    await node.start(serve=False)
    try:
        yield node
    finally:
        await node.stop()
