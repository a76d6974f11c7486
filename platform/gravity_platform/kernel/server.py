"""Running a node: uvicorn serving the node app, with draining on SIGTERM as the contract describes.

On SIGTERM (or SIGINT) `/readyz` turns 503 at once; after `drain_delay` seconds — long enough for a load
balancer's health check to notice — the listener closes, in-flight requests finish (bounded by
`drain_timeout`), services and consumers stop, and the process exits."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
from collections.abc import Callable, Sequence
from types import FrameType

import uvicorn

from gravity_platform.kernel.app import create_app
from gravity_platform.kernel.crypto import MasterKey
from gravity_platform.kernel.migrations import migrate
from gravity_platform.kernel.node import Node, build_node
from gravity_platform.kernel.observability import configure_logging
from gravity_platform.kernel.settings import GravitySettings

log = logging.getLogger("gravity.server")


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (uvicorn's `standard` extra brings it), else None for asyncio's
    own: a node serving HTTP spends a good part of its time in the loop, and uvloop's is markedly cheaper."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def listen_port(node: Node, override: int | None) -> int:
    """The gateway's port when the node hosts it, else the first service's own port."""
    if override:
        return override
    if node.hosts("gateway"):
        return node.settings.gateway.port
    return node.services[0].port if node.services else node.settings.gateway.port


def advertised_host(host: str) -> str:
    """The name other nodes reach a listener on `host` by: this host's name when it listens everywhere."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - a wildcard address, not a bind
        return socket.getfqdn()
    return f"[{host}]" if ":" in host else host


class _DrainingServer(uvicorn.Server):
    """uvicorn, but a stop signal first turns the node not-ready and closes the listener only later."""

    def __init__(self, config: uvicorn.Config, node: Node, drain_delay: float) -> None:
        super().__init__(config)
        self.node = node
        self.drain_delay = drain_delay
        self._drain_started: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain_started is not None:
            self.force_exit = sig == signal.SIGINT
            self.should_exit = True
            return
        self.node.draining = True
        self._drain_started = time.monotonic()
        log.info("draining", extra={"signal": signal.Signals(sig).name, "delay": self.drain_delay})

    async def on_tick(self, counter: int) -> bool:
        if self._drain_started is not None and time.monotonic() - self._drain_started >= self.drain_delay:
            return True
        return await super().on_tick(counter)


async def serve(settings: GravitySettings, services: Sequence[str] = (), *, host: str | None = None,
                port: int | None = None, drain_delay: float = 2.0, master_key: MasterKey | None = None,
                auto_migrate: bool = False) -> None:
    """Host `services` (all installed when empty) until told to stop."""
    configure_logging(settings.log_level, json_output=settings.log_json)
    node = build_node(settings, services, master_key=master_key)
    if auto_migrate:
        await migrate(settings.database.url, node.services, node.master_key)
    app = create_app(node)
    host, port = host or settings.gateway.host, listen_port(node, port)
    node.http_url = f"http://{advertised_host(host)}:{port}"
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False,
        timeout_graceful_shutdown=int(settings.drain_timeout), lifespan="on", server_header=False,
        proxy_headers=False,
    )
    server = _DrainingServer(config, node, drain_delay)
    await server.serve()
