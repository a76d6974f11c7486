"""DevStack: PostgreSQL, NATS (JetStream), Valkey and the dev mail catcher started concurrently under one
supervisor, plus extra managed processes, all stopped together."""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from .credentials import StackSecrets
from .endpoints import StackEndpoints, StackPorts
from .errors import ServerStartError, StackError
from .locking import FileLock
from .paths import StackPaths
from .pids import reap_leftovers, record_children
from .postgres import PostgresServer
from .process import ManagedProcess, start_process
from .servers import MailCatcherServer, NatsServer, Server, ValkeyServer, wait_ready

logger = logging.getLogger("gravity.devstack")

_RESERVED_NAMES = frozenset({"postgres", "nats", "valkey", "mail", "initdb", "supervisor"})


class DevStack:
    """The embedded PostgreSQL, NATS with JetStream and Valkey of one project folder, and a mail catcher (SMTP
    on 127.0.0.1 keeping every message under ``root/data/mail``, see :mod:`.mailbox`).

    Everything binds 127.0.0.1 with generated credentials kept in ``root/secrets``; data lives in
    ``root/data`` across restarts and each process logs to ``root/logs/<name>.log``. ``durable=False``
    trades crash safety for speed (PostgreSQL fsync off, Valkey AOF without fsync), for throwaway stacks.

    Use it as ``async with DevStack(root) as stack: ...`` or call :meth:`start` and :meth:`stop`. Linux only
    (parent-death signals, ``/proc``, util-linux ``setpriv`` when run as root).
    """

    def __init__(
        self, root: Path, *, ports: StackPorts | None = None, durable: bool = True, start_timeout: float = 30.0
    ) -> None:
        self.paths = StackPaths.at(root)
        self.ports = ports or StackPorts()
        self.durable = durable
        self.start_timeout = start_timeout
        self._lock = FileLock(self.paths.stack_lock)
        self._engines: list[ManagedProcess] = []
        self._extras: list[ManagedProcess] = []
        self._endpoints: StackEndpoints | None = None

    @property
    def endpoints(self) -> StackEndpoints:
        """Where the running stack answers; raises ``RuntimeError`` before :meth:`start`."""
        if self._endpoints is None:
            raise RuntimeError("the dev stack is not started")
        return self._endpoints

    @property
    def processes(self) -> dict[str, ManagedProcess]:
        """Every managed process by name, engines first, in start order."""
        return {process.name: process for process in (*self._engines, *self._extras)}

    async def start(self) -> StackEndpoints:
        """Start the four servers concurrently and return once each answers real requests.

        Raises :class:`PortInUseError` if a port is taken, :class:`StackBusyError` if another stack runs in
        the same folder and :class:`ServerStartError` if a server exits or does not answer in time; no
        process is left running after a failure.
        """
        if self._lock.held:
            raise RuntimeError("the dev stack is already started")
        began = time.perf_counter()
        self.paths.create()
        self._lock.acquire("a dev stack")
        try:
            await reap_leftovers(self.paths.children_file)
            self.ports = self.ports.with_mail_port()
            self.ports.ensure_free()
            secrets = StackSecrets.load_or_create(self.paths.secrets)
            servers: list[Server] = [
                PostgresServer(self.paths, self.ports.postgres, secrets, durable=self.durable),
                NatsServer(self.paths, self.ports.nats, secrets, durable=self.durable),
                ValkeyServer(self.paths, self.ports.valkey, secrets, durable=self.durable),
                MailCatcherServer(self.paths, self.ports.mail, secrets, durable=self.durable),
            ]
            results = await asyncio.gather(*(self._start_server(s) for s in servers), return_exceptions=True)
            failures = [result for result in results if isinstance(result, BaseException)]
            if failures:
                raise failures[0]
        except BaseException:
            await self.stop()
            raise
        self._endpoints = StackEndpoints.build(self.ports, secrets, mail_dir=self.paths.mail_data)
        logger.info("dev stack ready in %.2f s (%s)", time.perf_counter() - began, self._describe_ports())
        return self._endpoints

    async def spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> ManagedProcess:
        """Run ``argv`` as a managed process logging to ``logs/<name>.log``.

        ``env`` is layered over this process's environment. The process gets the parent-death signal and is
        stopped (SIGTERM to its process group, SIGKILL after the timeout) by :meth:`stop`, before the engines
        and in reverse start order.
        """
        if self._endpoints is None:
            raise RuntimeError("start the dev stack before spawning processes in it")
        if name in self.processes or name in _RESERVED_NAMES or not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"process name {name!r} is taken or not a plain name")
        environment = {**os.environ, **(env or {})}
        header = shlex.join(argv).replace("\n", "\\n")
        process = await start_process(name, argv, log_path=self.paths.log(name), env=environment, header=header)
        self._extras.append(process)
        record_children(self.paths.children_file, self.processes.values())
        return process

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop extra processes (newest first), then the servers together; idempotent."""
        for process in reversed(self._extras):
            await process.stop(timeout)
        await asyncio.gather(*(process.stop(timeout) for process in self._engines))
        if self._lock.held:
            self.paths.children_file.unlink(missing_ok=True)
            self._lock.release()
        self._extras.clear()
        self._engines.clear()
        self._endpoints = None

    async def wait_for_exit(self) -> ManagedProcess:
        """Wait until any managed process exits and return it (the supervisor's watch on its children)."""
        processes = list(self.processes.values())
        if not processes:
            raise RuntimeError("the dev stack runs no processes")
        waiters = {asyncio.ensure_future(process.wait()): process for process in processes}
        try:
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return waiters[next(iter(done))]

    async def __aenter__(self) -> DevStack:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.stop()

    async def _start_server(self, server: Server) -> None:
        try:
            await server.prepare()
            process = await start_process(
                server.name,
                server.command(),
                log_path=self.paths.log(server.name),
                stop_signal=server.stop_signal,
                signal_group=server.signal_group,
                header=server.banner(),
            )
            self._engines.append(process)
            record_children(self.paths.children_file, self._engines)
            await wait_ready(server, process, within=self.start_timeout)
            await server.initialize()
        except StackError:
            raise
        except Exception as exc:
            logger.debug("%s failed to start", server.name, exc_info=True)
            raise ServerStartError(server.name, f"{type(exc).__name__}: {exc}") from exc
        logger.info("%s ready on 127.0.0.1:%d", server.name, server.port)

    def _describe_ports(self) -> str:
        return ", ".join(f"{name} 127.0.0.1:{port}" for name, port in self.ports.as_dict().items())
