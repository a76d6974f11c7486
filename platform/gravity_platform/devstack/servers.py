"""The embedded engines: how each is configured, started and asked whether it really answers."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from abc import ABC, abstractmethod
from typing import ClassVar

import nats
import nats.errors
import valkey.exceptions
from valkey.asyncio import Valkey

from .binaries import nats_server_binary, valkey_server_binary
from .credentials import NATS_USER, StackSecrets
from .endpoints import HOST
from .errors import ServerStartError
from .paths import StackPaths, write_private
from .process import ManagedProcess, last_log_line

PROBE_TIMEOUT = 2.0
_POLL_INTERVAL = 0.01


class NotReadyError(Exception):
    """The server does not answer yet; the probe will be retried."""


class Server(ABC):
    """One embedded engine bound to 127.0.0.1:``port`` with data under the stack's project folder."""

    name: ClassVar[str]
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    signal_group: ClassVar[bool] = True

    def __init__(self, paths: StackPaths, port: int, secrets: StackSecrets, *, durable: bool) -> None:
        self.paths = paths
        self.port = port
        self.secrets = secrets
        self.durable = durable

    @abstractmethod
    async def prepare(self) -> None:
        """Create data and config files before the server starts (idempotent)."""

    @abstractmethod
    def command(self) -> list[str]:
        """The command line of the server process."""

    def banner(self) -> str:
        """Extra words for the log's start line."""
        return f"127.0.0.1:{self.port}"

    @abstractmethod
    async def probe(self) -> None:
        """Return once the server answers a real request; raise :class:`NotReadyError` or ``OSError`` if not."""

    @abstractmethod
    async def initialize(self) -> None:
        """Work done once the server answers (e.g. create the application database)."""


async def wait_ready(server: Server, process: ManagedProcess, *, within: float) -> None:
    """Probe ``server`` every 10 ms until it answers; fail if its process exits or ``within`` seconds pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if not process.running:
            status = await process.wait()
            raise ServerStartError(server.name, f"exited with status {status}", last_log_line(process.log_path))
        try:
            await asyncio.wait_for(server.probe(), PROBE_TIMEOUT)
        except (NotReadyError, OSError, TimeoutError) as exc:
            if loop.time() > deadline:
                reason = f"no answer on 127.0.0.1:{server.port} within {within:.0f} s ({exc or type(exc).__name__})"
                raise ServerStartError(server.name, reason, last_log_line(process.log_path)) from exc
            await asyncio.sleep(_POLL_INTERVAL)
        else:
            return


class NatsServer(Server):
    """nats-server with JetStream; one user ``gravity`` with a generated password."""

    name = "nats"

    @property
    def config_path(self) -> str:
        return str(self.paths.secrets / "nats.conf")

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    async def prepare(self) -> None:
        text = (
            f"listen: {_quote(f'{HOST}:{self.port}')}\n"
            'server_name: "gravity-dev"\n'
            "max_payload: 8MB\n"
            f"jetstream {{\n  store_dir: {_quote(str(self.paths.nats_data))}\n}}\n"
            f"authorization {{\n  user: {_quote(NATS_USER)}\n  password: {_quote(self.secrets.nats_password)}\n}}\n"
        )
        write_private(self.paths.secrets / "nats.conf", text)

    def command(self) -> list[str]:
        return [str(nats_server_binary()), "-c", self.config_path]

    async def initialize(self) -> None:
        """Nothing to create: JetStream streams belong to the services."""

    async def probe(self) -> None:
        # nats.connect() on a refused port sleeps ~2 s before its retry, so wait for the INFO line first.
        reader, writer = await asyncio.open_connection(HOST, self.port)
        try:
            line = await reader.readline()
        finally:
            writer.close()
            await writer.wait_closed()
        if not line.startswith(b"INFO"):
            raise NotReadyError("no INFO line yet")
        try:
            client = await nats.connect(
                self.url,
                user=NATS_USER,
                password=self.secrets.nats_password,
                allow_reconnect=False,
                connect_timeout=PROBE_TIMEOUT,
                error_cb=_ignore_error,
            )
        except nats.errors.Error as exc:
            raise NotReadyError(str(exc)) from exc
        try:
            await client.jetstream().account_info()
        except nats.errors.Error as exc:
            raise NotReadyError(f"JetStream: {exc}") from exc
        finally:
            await client.close()


class ValkeyServer(Server):
    """valkey-server with ``requirepass``; append-only file persistence (fsync'd every second when durable)."""

    name = "valkey"

    @property
    def config_path(self) -> str:
        return str(self.paths.secrets / "valkey.conf")

    async def prepare(self) -> None:
        lines = [
            f"bind {HOST}",
            f"port {self.port}",
            "protected-mode yes",
            "daemonize no",
            'logfile ""',
            f"dir {_quote(str(self.paths.valkey_data))}",
            f"requirepass {_quote(self.secrets.valkey_password)}",
            "appendonly yes",
            f"appendfsync {'everysec' if self.durable else 'no'}",
            'save ""',
        ]
        write_private(self.paths.secrets / "valkey.conf", "\n".join(lines) + "\n")

    def command(self) -> list[str]:
        return [str(valkey_server_binary()), self.config_path]

    async def initialize(self) -> None:
        """Nothing to create."""

    async def probe(self) -> None:
        client = Valkey(
            host=HOST,
            port=self.port,
            password=self.secrets.valkey_password,
            socket_connect_timeout=PROBE_TIMEOUT,
            socket_timeout=PROBE_TIMEOUT,
        )
        try:
            await client.ping()
        except (valkey.exceptions.ConnectionError, valkey.exceptions.TimeoutError) as exc:
            raise NotReadyError(str(exc)) from exc
        finally:
            await client.aclose()


class MailCatcherServer(Server):
    """The catcher as one of the dev stack's servers (started with PostgreSQL, NATS and Valkey)."""

    name = "mail"

    async def prepare(self) -> None:
        self.paths.mail_data.mkdir(mode=0o700, parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gravity_platform.devstack.catcher", "--port", str(self.port),
                "--dir", str(self.paths.mail_data)]

    async def probe(self) -> None:
        reader, writer = await asyncio.open_connection(HOST, self.port)
        try:
            greeting = await reader.readline()
            writer.write(b"QUIT\r\n")
            await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()
        if not greeting.startswith(b"220"):
            raise NotReadyError("no SMTP greeting yet")

    async def initialize(self) -> None:
        """Nothing to create."""


def _quote(value: str) -> str:
    """A double-quoted string understood by both the NATS and the Valkey config parsers."""
    return json.dumps(value, ensure_ascii=False)


async def _ignore_error(exc: Exception) -> None:
    """Probe connections report failures by raising; nats-py's default callback would also log them."""
