"""Valkey: the client every node shares, its loud-but-rare degradation report, and locks.

The rate limiter (`kernel.ratelimit`) and the token deny-list (`kernel.denylist`) keep their per-request
decisions in this node's memory and use Valkey as the durable, shared store behind them."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import valkey.asyncio as valkey

log = logging.getLogger("gravity.cache")

_DOWN_LOG_EVERY = 30.0


def connect(url: str, *, timeout: float) -> valkey.Valkey:
    """A pooled client; it connects lazily, so a node starts even while Valkey is down."""
    client: valkey.Valkey = valkey.Valkey.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                                   health_check_interval=30)
    return client


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
