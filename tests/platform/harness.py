"""Running real nodes inside the test process: settings for the session stack and an in-process uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx2
import uvicorn

from gravity_platform.devstack import StackEndpoints
from gravity_platform.kernel.app import create_app
from gravity_platform.kernel.node import Node, build_node
from gravity_platform.kernel.settings import GravitySettings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_settings(stack: StackEndpoints, key_file: Path, **overrides: Any) -> GravitySettings:
    """Settings for a node on the test stack; generous rate limits unless a test asks otherwise."""
    gateway = {"anonymous_rate_limit_per_minute": 100_000, "rate_limit_per_minute": 100_000,
               "trusted_proxies": ["127.0.0.1/32"], **overrides.pop("gateway", {})}
    base: dict[str, Any] = {
        "database": {"url": stack.postgres_dsn}, "nats": {"url": stack.nats_url},
        "valkey": {"url": stack.valkey_url}, "master_key_file": key_file, "project_dir": key_file.parent,
        "log_json": False, "gateway": gateway, "public_url": "http://gravity.test",
    }
    services = overrides.pop("service", {})
    base["service"] = {**services, "email": {**stack.email_settings(), **services.get("email", {})}}
    base.update(overrides)
    return GravitySettings(**base)


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class RunningNode:
    """A node serving HTTP on a free loopback port in this event loop."""

    def __init__(self, node: Node, port: int) -> None:
        self.node = node
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def client(self, **kwargs: Any) -> httpx2.AsyncClient:
        """An HTTP client pointed at this node."""
        return httpx2.AsyncClient(base_url=self.url, timeout=10.0, **kwargs)


@contextlib.asynccontextmanager
async def running_node(settings: GravitySettings, services: Sequence[str] = ()) -> AsyncIterator[RunningNode]:
    """Start a node hosting `services` (all when empty) and stop it afterwards."""
    node = build_node(settings, services)
    app = create_app(node)
    port = free_port()
    node.http_url = f"http://127.0.0.1:{port}"
    server = _QuietServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on",
                                         access_log=False, proxy_headers=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield RunningNode(node, port)
    finally:
        server.should_exit = True
        await task
