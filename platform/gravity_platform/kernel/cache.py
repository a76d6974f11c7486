"""Valkey: the client every node shares, its loud-but-rare degradation report, and locks.

The rate limiter (`kernel.ratelimit`) and the token deny-list (`kernel.denylist`) keep their per-request
decisions in this node's memory and use Valkey as the durable, shared store behind them."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import valkey.asyncio as valkey
from valkey.asyncio.connection import parse_url
from valkey.asyncio.sentinel import Sentinel, SentinelConnectionPool

from gravity_platform.kernel.settings import ValkeySettings

log = logging.getLogger("gravity.cache")

_DOWN_LOG_EVERY = 30.0
_HEALTH_CHECK_INTERVAL = 30


def connect(settings: ValkeySettings) -> valkey.Valkey:
    """A pooled client of the Valkey primary: the url's server or, with `sentinels`, the one they name, followed
    across failovers. It connects lazily, so a node starts even while Valkey (and every sentinel) is down."""
    if settings.sentinels:
        return _primary_named_by_sentinels(settings)
    client: valkey.Valkey = valkey.Valkey.from_url(
        settings.url, socket_timeout=settings.timeout, socket_connect_timeout=settings.timeout,
        health_check_interval=_HEALTH_CHECK_INTERVAL,
    )
    return client


def _primary_named_by_sentinels(settings: ValkeySettings) -> valkey.Valkey:
    timeouts: dict[str, Any] = {"socket_timeout": settings.timeout, "socket_connect_timeout": settings.timeout}
    login = _login(settings.url)
    credentials = {name: login[name] for name in ("username", "password") if name in login}
    addresses = settings.sentinel_addresses()
    sentinel = Sentinel(addresses, sentinel_kwargs={**credentials, **timeouts})  # type: ignore[no-untyped-call]
    options = {**timeouts, "health_check_interval": _HEALTH_CHECK_INTERVAL, **login}
    client: valkey.Valkey = sentinel.master_for(settings.sentinel_master, valkey_class=_SentinelClient, **options)
    return client


def _login(url: str) -> dict[str, Any]:
    """What the url says about connections (user, password, database, options) but where the server is."""
    options: dict[str, Any] = parse_url(url)
    options.pop("host", None)
    options.pop("port", None)
    return options


class _SentinelClient(valkey.Valkey):
    """The primary's client that also closes its connections to the sentinels."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        """Close the primary's connections, then the sentinels'."""
        await super().aclose(close_connection_pool)
        if isinstance(self.connection_pool, SentinelConnectionPool):
            for sentinel in self.connection_pool.sentinel_manager.sentinels:
                await sentinel.aclose()


class Degradation:
    """Logs loudly, but not on every request, that a node is working without Valkey."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._last = 0.0

    def report(self, error: Exception) -> None:
        """Record that Valkey failed; logs at most every 30 seconds."""
        now = time.monotonic()
        if now - self._last > _DOWN_LOG_EVERY:
            self._last = now
            log.error("valkey unavailable: %s falls back to this node only", self._what, extra={"error": str(error)})


@asynccontextmanager
async def lock(client: valkey.Valkey, name: str, *, timeout: float = 30.0, wait: float = 10.0) -> AsyncIterator[None]:
    """A Valkey lock for short critical sections shared between nodes."""
    async with client.lock(f"lock:{name}", timeout=timeout, blocking_timeout=wait):
        yield
