"""What ``gravity status`` asks: service instances over the NATS micro services API, a node's readiness,
and PostgreSQL's connection budget."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from gravity_cli.config import redact
from gravity_cli.errors import CLIError, reason

SERVICE_PREFIX = "gravity-"


@dataclass
class Instance:
    """One running instance of a service, as it answered ``$SRV.INFO`` (and ``$SRV.STATS``)."""

    service: str
    id: str
    version: str
    node: str
    port: str
    endpoints: list[str]
    started: str | None = None
    requests: int = 0
    errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return dict(vars(self))


@dataclass
class Budget:
    """PostgreSQL connections: the server's limit against what the service roles may take."""

    max_connections: int
    reserved: int
    admin_reserve: int
    roles: list[dict[str, Any]] = field(default_factory=list)

    @property
    def available(self) -> int:
        """Connections left for service roles after the reserved and administrative ones."""
        return self.max_connections - self.reserved - self.admin_reserve

    @property
    def allocated(self) -> int | None:
        """The sum of the service roles' connection limits (None if one is unlimited)."""
        limits = [role["limit"] for role in self.roles]
        return None if any(limit < 0 for limit in limits) else sum(limits)

    @property
    def ok(self) -> bool:
        """Whether the roles' limits, and what the running pools may open, fit in what is available."""
        demand = sum(role["demand"] for role in self.roles)
        allocated = self.allocated
        return demand <= self.available and (allocated is None or allocated <= self.available)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {"max_connections": self.max_connections, "reserved": self.reserved,
                "admin_reserve": self.admin_reserve, "available": self.available, "allocated": self.allocated,
                "ok": self.ok, "roles": self.roles}


async def _connect_nats(url: str, timeout: float) -> Any:
    import nats

    problems: list[Exception] = []

    async def remember(error: Exception) -> None:
        problems.append(error)

    try:
        return await asyncio.wait_for(nats.connect(
            url, name="gravity-cli", connect_timeout=timeout, max_reconnect_attempts=1, reconnect_time_wait=0.1,
            error_cb=remember, allow_reconnect=True,
        ), timeout=timeout * 3)
    except Exception as exc:
        cause = problems[-1] if problems else exc
        raise CLIError(f"cannot reach NATS at {redact(url)}: {reason(cause)}") from exc


async def _gather(nc: Any, subject: str, wait: float) -> list[dict[str, Any]]:
    inbox = nc.new_inbox()
    subscription = await nc.subscribe(inbox)
    await nc.publish(subject, b"", reply=inbox)
    await nc.flush()
    replies: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            message = await subscription.next_msg(timeout=remaining)
        except Exception:  # nats.errors.TimeoutError: nobody else answered in time
            break
        try:
            replies.append(json.loads(message.data))
        except ValueError:
            continue
    await subscription.unsubscribe()
    return replies


async def instances(url: str, *, wait: float = 0.5, timeout: float = 2.0) -> list[Instance]:
    """Every Gravity service instance answering ``$SRV.INFO`` within ``wait`` seconds, by service."""
    nc = await _connect_nats(url, timeout)
    try:
        infos, stats = await asyncio.gather(_gather(nc, "$SRV.INFO", wait), _gather(nc, "$SRV.STATS", wait))
    finally:
        await nc.close()
    by_id = {entry.get("id"): entry for entry in stats}
    found = []
    for info in infos:
        name = str(info.get("name", ""))
        if not name.startswith(SERVICE_PREFIX):
            continue
        metadata = info.get("metadata") or {}
        stat = by_id.get(info.get("id"), {})
        endpoint_stats = stat.get("endpoints") or []
        found.append(Instance(
            service=name.removeprefix(SERVICE_PREFIX), id=str(info.get("id")), version=str(info.get("version")),
            node=str(metadata.get("node", "")), port=str(metadata.get("port", "")),
            endpoints=[str(e.get("name")) for e in info.get("endpoints") or []], started=stat.get("started"),
            requests=sum(int(e.get("num_requests", 0)) for e in endpoint_stats),
            errors=sum(int(e.get("num_errors", 0)) for e in endpoint_stats),
        ))
    return sorted(found, key=lambda instance: (instance.service, instance.node, instance.id))


def node_health(url: str, timeout: float = 3.0) -> dict[str, Any]:
    """``GET url/readyz``: whether the node answers and is ready, with its checks."""
    import httpx2

    try:
        response = httpx2.get(f"{url.rstrip('/')}/readyz", timeout=timeout)
    except httpx2.HTTPError as exc:
        return {"url": url, "reachable": False, "ready": False, "error": str(exc) or type(exc).__name__}
    try:
        checks = response.json().get("checks", {})
    except ValueError:
        checks = {}
    return {"url": url, "reachable": True, "ready": response.status_code == 200, "status": response.status_code,
            "checks": checks}


_BUDGET_SQL = """
SELECT current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int
         + coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0) AS reserved
"""
_ROLES_SQL = r"""
SELECT r.rolname AS role, r.rolconnlimit AS "limit",
       (SELECT count(*) FROM pg_stat_activity a WHERE a.usename = r.rolname)::int AS in_use
FROM pg_roles r WHERE r.rolname LIKE 'gravity\_%' ORDER BY r.rolname
"""


async def connection_budget(admin_url: str, *, admin_reserve: int, pool_max: int,
                            running: dict[str, int], timeout: float = 5.0) -> Budget:
    """The connection budget; ``running`` counts instances per service (each may open ``pool_max``)."""
    import asyncpg

    from gravity_platform.kernel.db import parse_dsn

    connection = await asyncpg.connect(**parse_dsn(admin_url), timeout=timeout)
    try:
        limits = await connection.fetchrow(_BUDGET_SQL)
        rows = await connection.fetch(_ROLES_SQL)
    finally:
        await connection.close()
    roles = [{"role": row["role"], "limit": row["limit"], "in_use": row["in_use"],
              "demand": running.get(row["role"].removeprefix("gravity_"), 0) * pool_max} for row in rows]
    return Budget(limits["max_connections"], limits["reserved"], admin_reserve, roles)
