"""A node: one process hosting some services, with its connections to PostgreSQL, NATS and Valkey."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from litestar.types import ASGIApp

from gravity_platform.kernel.bus import Bus, micro_handler
from gravity_platform.kernel.cache import connect
from gravity_platform.kernel.crypto import MasterKey
from gravity_platform.kernel.db import service_password
from gravity_platform.kernel.denylist import DenyList
from gravity_platform.kernel.observability import Metrics
from gravity_platform.kernel.outbox import OutboxRelay
from gravity_platform.kernel.plugins import Service, discover, hook_manager, resolve_order
from gravity_platform.kernel.ratelimit import EventLog, RateLimiter
from gravity_platform.kernel.security import DEFAULT_ROLE_PERMISSIONS, JwksCache, TokenVerifier
from gravity_platform.kernel.settings import GravitySettings

log = logging.getLogger("gravity.node")

STOP_STEP_TIMEOUT = 5.0
"""Seconds one shutdown step may take before the node gives up on it and moves on."""
JWKS_TOPIC = "auth.jwks"
DENY_TOPIC = "auth.deny"


class Node:
    """Everything the hosted services share. Built by `build_node`, started and stopped by the app lifecycle."""

    def __init__(self, settings: GravitySettings, installed: dict[str, Service], hosted: Sequence[Service],
                 hook_plugins: Sequence[object], master_key: MasterKey) -> None:
        self.settings = settings
        self.installed = installed
        self.services = list(hosted)
        self.master_key = master_key
        self.metrics = Metrics()
        self.hooks = hook_manager(hook_plugins, self.services)
        self.bus = Bus(settings.nats.url, name=f"gravity-{settings.node_name}",
                       request_timeout=settings.nats.request_timeout, stream_replicas=settings.nats.stream_replicas)
        self.valkey = connect(settings.valkey)
        self.rate_limiter = RateLimiter(self.valkey)
        self.event_log = EventLog(self.valkey)
        self.deny_list = DenyList(self.valkey)
        self.role_permissions = self._role_permissions()
        self.verifier = TokenVerifier(
            JwksCache(self._fetch_jwks), issuer=settings.public_url, audience="gravity",
            role_permissions=self.role_permissions,
        )
        self.relays: list[OutboxRelay] = []
        self._background: set[asyncio.Task[None]] = set()
        self.bus.add_reconnect_hook(self.resync_deny_list)
        self.app: ASGIApp | None = None
        self.draining = False
        self.http_url: str | None = None
        """Where this node serves HTTP, as other nodes reach it (set by whoever serves the app)."""
        self.started_at = time.time()
        for service in self.services:
            service.attach(self)

    def hosts(self, name: str) -> bool:
        """Whether the service `name` runs in this process."""
        return any(service.name == name for service in self.services)

    def service(self, name: str) -> Service:
        """A hosted service by name."""
        return next(service for service in self.services if service.name == name)

    def _role_permissions(self) -> dict[str, frozenset[str]]:
        merged = {role: set(perms) for role, perms in DEFAULT_ROLE_PERMISSIONS.items()}
        for extra in self.hooks.hook.gravity_role_permissions():
            for role, perms in extra.items():
                merged.setdefault(role, set()).update(perms)
        return {role: frozenset(perms) for role, perms in merged.items()}

    async def _fetch_jwks(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(await self.bus.request("auth", "jwks", b""))
        return document

    async def start(self, *, serve: bool = True) -> None:
        """Open connections, register endpoints, start each service and its outbox relay.

        With `serve=False` (administrative commands) the services are usable in-process but do not join
        their queue groups on the bus, so no other node's traffic reaches this process."""
        for service in self.services:
            if service.database is not None:
                service.database.configure(
                    self.settings.database.url, service_password(self.master_key, service.name),
                    pool_min=self.settings.database.pool_min, pool_max=self.settings.database.pool_max,
                    command_timeout=self.settings.database.command_timeout,
                )
                await service.database.start()
                self.relays.append(OutboxRelay(service.name, service.database, self.bus, self.metrics))
        await self.bus.start()
        await self.bus.subscribe(JWKS_TOPIC, self._on_jwks_rotated)
        await self.bus.subscribe(DENY_TOPIC, self._on_denied)
        if serve:
            await self._first_deny_list_resync()
            self.rate_limiter.start()
        for service in self.services:
            if serve:
                await self._serve_on_bus(service)
            else:
                self.bus.register_local(service.name, service.bus_endpoints())
            await service.start()
        if serve:
            for relay in self.relays:
                relay.start()
        log.info("node started", extra={"services": [s.name for s in self.services]})

    async def _serve_on_bus(self, service: Service) -> None:
        local = dict(service.bus_endpoints())
        from gravity_platform.kernel.forwarding import http_endpoint

        endpoints = {name: micro_handler(service.name, name, handler) for name, handler in local.items()}
        endpoints["http"] = http_endpoint(self, service.name)
        metadata = {"node": self.settings.node_name, "port": str(service.port)}
        await self.bus.serve(service.name, service.version, metadata, endpoints, local)

    async def _on_jwks_rotated(self, _: bytes) -> None:
        self.verifier.jwks.invalidate()
        self.verifier.forget()

    async def _first_deny_list_resync(self) -> None:
        """Load the deny-list from Valkey before serving (after subscribing to its broadcasts, so nothing falls
        in between); if Valkey does not answer in time, the node starts anyway and keeps trying."""
        task = asyncio.create_task(self.resync_deny_list(), name="deny-list-resync")
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        await asyncio.wait({task}, timeout=self.settings.valkey.timeout * 2 + 0.5)

    async def resync_deny_list(self) -> None:
        """Read every deny-list entry from Valkey into this node's memory, retrying until Valkey answers: at start
        and after every NATS reconnect (broadcasts sent while this node was cut off never reached it)."""
        delay = 0.5
        while True:
            try:
                count = await self.deny_list.resync()
            except Exception as error:
                log.error("valkey unavailable: the deny-list could not be resynced; retrying",
                          extra={"error": str(error), "retry_in": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            log.debug("deny-list resynced", extra={"entries": count})
            return

    async def _on_denied(self, payload: bytes) -> None:
        entry = json.loads(payload)
        self.deny_list.remember(entry["kind"], entry["value"], int(entry["ttl"]), int(entry["marker"]))

    async def deny(self, kind: str, value: str, ttl: int, *, cutoff: int | None = None) -> None:
        """Revoke tokens by `jti`, `sid` or `sub` on every node until they expire."""
        marker = cutoff if cutoff is not None else int(time.time()) + 1
        await self.deny_list.deny(kind, value, ttl, cutoff=marker)
        message = {"kind": kind, "value": value, "ttl": ttl, "marker": marker}
        await self.bus.broadcast(DENY_TOPIC, json.dumps(message).encode())

    async def stop(self) -> None:
        """Stop services, relays and connections (after in-flight work finished).

        Each step is bounded, so a stuck dependency (a connection never handed back, a drain that never
        ends) cannot keep the process from exiting; the step that overran is logged."""
        for task in list(self._background):
            task.cancel()
        steps: list[tuple[str, Callable[[], Awaitable[object]]]] = [("rate limiter", self.rate_limiter.stop)]
        steps += [(f"outbox relay {relay.service}", relay.stop) for relay in self.relays]
        steps += [(f"service {service.name}", service.stop) for service in reversed(self.services)]
        steps.append(("bus", self.bus.stop))
        steps += [(f"database {service.name}", service.database.stop) for service in self.services
                  if service.database is not None]
        steps.append(("valkey", self.valkey.aclose))
        for name, step in steps:
            try:
                await asyncio.wait_for(step(), timeout=STOP_STEP_TIMEOUT)
            except TimeoutError:
                log.error("shutdown step overran; moving on", extra={"step": name, "timeout": STOP_STEP_TIMEOUT})
            except Exception:
                log.exception("shutdown step failed", extra={"step": name})

    async def readiness(self) -> dict[str, bool]:
        """What this node needs, and whether each answers now."""
        checks: dict[str, bool] = {"accepting": not self.draining}
        databases = [s.database for s in self.services if s.database is not None]
        if databases:
            results = await asyncio.gather(*(db.healthy() for db in databases))
            checks["postgresql"] = all(results)
        remote_needed = any(dep not in {s.name for s in self.services} for s in self.services for dep in s.requires)
        if remote_needed:
            checks["nats"] = self.bus.connected
        return checks


def build_node(settings: GravitySettings, wanted: Sequence[str] = (), *,
               master_key: MasterKey | None = None) -> Node:
    """Assemble a node hosting `wanted` (all installed services when empty)."""
    classes, hook_plugins = discover(settings_allow(settings))
    installed = {name: cls() for name, cls in classes.items()}
    hosted = resolve_order(installed, list(wanted))
    key = master_key or MasterKey.from_file(settings.resolved_master_key_file())
    return Node(settings, installed, hosted, hook_plugins, key)


def settings_allow(settings: GravitySettings) -> list[str] | None:
    """The plugin allow-list from settings (`[service._plugins] allow = [...]`), or None for all."""
    allow = settings.service.get("_plugins", {}).get("allow")
    return list(allow) if allow else None
