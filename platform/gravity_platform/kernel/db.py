"""PostgreSQL: one schema, one least-privilege role and one small pool per service."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Generator
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg
from piccolo.engine.postgres import PostgresEngine

from gravity_platform.kernel.crypto import MasterKey
from gravity_platform.kernel.errors import ServiceUnavailableError

log = logging.getLogger("gravity.db")

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.TargetServerAttributeNotMatched,  # no primary among the hosts (a failover under way)
    TimeoutError,
)
"""Errors that mean the database is unreachable rather than that the request was wrong."""


class FairPool:
    """An asyncpg pool that serves waiting acquirers first come, first served.

    asyncpg parks acquirers in an `asyncio.Queue`: a connection released while the longest waiter is being
    woken is taken by whichever task asks next, and the waiter that lost it queues again at the back, so
    under load a few requests wait for a very long time (p95 many times p50). A FIFO semaphore sized to the
    pool lets at most that many acquirers through, so none of them ever waits inside asyncpg. Everything
    else is the wrapped pool's (pool-level `fetch`/`execute` shortcuts acquire past the gate)."""

    def __init__(self, pool: Any, size: int) -> None:
        self.pool = pool
        self._gate = asyncio.Semaphore(size)

    def acquire(self, *, timeout: float | None = None) -> _FairAcquire:
        """Like `asyncpg.Pool.acquire`: await it, or use it as an async context manager."""
        return _FairAcquire(self, timeout)

    async def _acquire(self, timeout: float | None) -> Any:
        async with asyncio.timeout(timeout):
            await self._gate.acquire()
            try:
                return await self.pool.acquire()
            except BaseException:
                self._gate.release()
                raise

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:
        """Give a connection back (as `asyncpg.Pool.release`) and admit the next waiter."""
        try:
            await self.pool.release(connection, timeout=timeout)
        finally:
            self._gate.release()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)


class _FairAcquire:
    def __init__(self, pool: FairPool, timeout: float | None) -> None:
        self._pool = pool
        self._timeout = timeout
        self._connection: Any = None

    def __await__(self) -> Generator[Any, None, Any]:
        return self._pool._acquire(self._timeout).__await__()

    async def __aenter__(self) -> Any:
        self._connection = await self._pool._acquire(self._timeout)
        return self._connection

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        connection, self._connection = self._connection, None
        await self._pool.release(connection)


class Engine(PostgresEngine):
    """Piccolo's engine without its connect-at-construction version probe (Gravity needs PostgreSQL 15+,
    checked by `gravity migrate`), so building one never blocks or touches the network; its pool serves
    waiters in order (see `FairPool`)."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config=config, extensions=())

    async def start_connection_pool(self, **kwargs: Any) -> None:
        """Open the pool as Piccolo does, behind a `FairPool` gate of the same size."""
        await super().start_connection_pool(**kwargs)
        if self.pool is not None and not isinstance(self.pool, FairPool):
            self.pool = FairPool(self.pool, self.pool.get_max_size())

    async def check_version(self) -> None:
        """Skipped: see the class docstring."""

    async def prep_database(self) -> None:
        """Skipped: Gravity creates no extensions."""


def parse_dsn(url: str) -> dict[str, Any]:
    """Split a postgresql:// URL into asyncpg connection keywords.

    Several hosts (``postgresql://u@h1:5432,h2:5432/db``) give lists of hosts and ports; the query may carry
    ``sslmode`` (``require``, ``verify-ca``, ``verify-full``) with ``sslrootcert``, and ``target_session_attrs``
    (``read-write`` follows the primary of a replicated cluster)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {parts.scheme}://")
    hosts, ports = _host_list(parts.netloc.rpartition("@")[2])
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    dsn: dict[str, Any] = {
        "host": hosts[0] if len(hosts) == 1 else hosts,
        "port": ports[0] if len(ports) == 1 else ports,
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password) if parts.password else None,
        "database": (parts.path or "/gravity").lstrip("/") or "gravity",
    }
    if query.get("sslmode", "disable") not in ("disable", "allow", "prefer"):
        dsn["ssl"] = _ssl_context(query["sslmode"], query.get("sslrootcert"))
    if "target_session_attrs" in query:
        dsn["target_session_attrs"] = query["target_session_attrs"]
    return dsn


def _host_list(netloc: str) -> tuple[list[str], list[int]]:
    hosts, ports = [], []
    for item in (netloc or "127.0.0.1").split(","):
        if item.startswith("["):  # [IPv6]:port
            host, _, port = item[1:].partition("]")
            port = port.removeprefix(":")
        else:
            host, _, port = item.partition(":")
        hosts.append(unquote(host) or "127.0.0.1")
        ports.append(int(port or 5432))
    return hosts, ports


def _ssl_context(mode: str, root_cert: str | None) -> ssl.SSLContext:
    if mode not in ("require", "verify-ca", "verify-full"):
        raise ValueError(f"unknown sslmode {mode!r}")
    context = ssl.create_default_context(cafile=root_cert)
    context.check_hostname = mode == "verify-full"
    if mode == "require":
        context.verify_mode = ssl.CERT_NONE
    return context


def connection_target(dsn: dict[str, Any]) -> dict[str, Any]:
    """The server part of a parsed DSN (hosts, ports, database, TLS, session attributes), without the login."""
    return {key: value for key, value in dsn.items() if key not in ("user", "password")}


def service_password(master_key: MasterKey, service: str) -> str:
    """The database password of a service's role, derived from the master key (never stored)."""
    return master_key.derive_password(f"db-role:{service}")


def role_name(service: str) -> str:
    """The PostgreSQL role a service connects as."""
    return f"gravity_{service}"


class ServiceDatabase:
    """A service's database handle. Tables bind to `engine` at import; `configure` points it at the
    service's own role once settings are known, and `start` opens the pool.

    The handle is one per process: nodes sharing a process (tests, an admin session next to a node) share
    its pool, which closes when the last of them stops; pointing it at another server while open is an error."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.schema = service
        self.role = role_name(service)
        self.engine = Engine(config={"database": f"gravity_{service}"})
        self._pool_size = (1, 4)
        self._users = 0

    def configure(self, admin_url: str, password: str, *, pool_min: int = 1, pool_max: int = 4,
                  command_timeout: float = 10.0) -> None:
        """Connect as the service's role to the host and database named by the admin URL."""
        target = parse_dsn(admin_url)
        config = {
            **connection_target(target),
            "user": self.role, "password": password, "command_timeout": command_timeout,
            "server_settings": {"search_path": self.schema, "application_name": f"gravity-{self.service}"},
        }
        if self._users:
            if _target(self.engine.config) != _target(config):
                raise RuntimeError(f"the {self.service} database is already open on another server in this "
                                   "process; one process serves one database per service")
            return
        self.engine.config = config
        self._pool_size = (pool_min, pool_max)

    async def start(self) -> None:
        """Open the pool (lazily: a node starts even while PostgreSQL is down)."""
        if not self._users:
            await self.engine.start_connection_pool(min_size=0, max_size=self._pool_size[1], init=detect_lost_server)
        self._users += 1

    async def stop(self) -> None:
        """Close the pool once nothing in this process uses it any more."""
        if not self._users:
            return
        self._users -= 1
        if not self._users and self.engine.pool is not None:
            await self.engine.close_connection_pool()

    async def healthy(self) -> bool:
        """Whether the service's role can run a query now."""
        try:
            await self.engine._run_in_pool("SELECT 1") if self.engine.pool else await self.engine.get_version()
        except CONNECTION_ERRORS:
            return False
        except asyncpg.PostgresError:
            return False
        return True


async def detect_lost_server(connection: Any) -> None:
    """Make a connection to a server that vanished (a powered-off primary) fail within seconds, not after TCP's
    retransmissions give up many minutes later: keepalives probe idle connections, and unacknowledged data times
    out. The pool then replaces the connection, and the replacement goes to whichever host is the primary."""
    sock = connection._transport.get_extra_info("socket") if connection._transport else None
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (("TCP_KEEPIDLE", 2), ("TCP_KEEPINTVL", 1), ("TCP_KEEPCNT", 3), ("TCP_USER_TIMEOUT", 5000)):
        if hasattr(socket, option):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def _target(config: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(config.get(key) for key in ("host", "port", "database", "user", "password"))


def unavailable(error: BaseException) -> ServiceUnavailableError:
    """The 503 a request gets while the database cannot be reached (nothing was written)."""
    log.error("database unavailable", extra={"error": repr(error)})
    return ServiceUnavailableError("The database is unavailable; nothing was changed. Try again shortly.",
                                   headers={"Retry-After": "5"})
