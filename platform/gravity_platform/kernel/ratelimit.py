"""Rate limiting (GCRA) shared by every node through Valkey, and an exact sliding log for failed sign-ins.

Per-request decisions (`RateLimiter.admit`) read only this node's memory; the counted hits are synchronised
with Valkey in the background (see the class)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from dataclasses import dataclass

import valkey.asyncio as valkey
from valkey.exceptions import ValkeyError

from gravity_platform.kernel.cache import Degradation

log = logging.getLogger("gravity.ratelimit")


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of one rate-limit check."""

    allowed: bool
    remaining: int
    retry_after: int


_GCRA_BATCH = """
local now = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  local interval, cost = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  tat = tat + interval * cost
  redis.call('SET', KEYS[i], tat, 'PX', math.ceil(tat - now) + 1)
  out[i] = tostring(tat)
end
return out
"""
"""GCRA with cost for a batch of keys (ARGV: now, then interval and cost per key): the hits a node already
admitted are charged unconditionally, and each key's global theoretical arrival time (ms) comes back."""


class _Bucket:
    """A key's local GCRA state: theoretical arrival time (ms), hits not yet synced, the key's interval."""

    __slots__ = ("interval", "pending", "tat")

    def __init__(self, tat: float, interval: float) -> None:
        self.tat = tat
        self.interval = interval
        self.pending = 0


class RateLimiter:
    """GCRA rate limiting (`limit` per `window`, bursts up to `limit`) shared by every node through Valkey.

    `admit` (the per-request limit of the edge) decides from this node's own GCRA state, with no round trip. A
    background task (`start`) sends the hits counted here every `sync_interval` (50 ms) to Valkey in one call,
    charging each key's shared GCRA (`<prefix>:<key>`, its theoretical arrival time in ms) with that many hits,
    and adopts the shared state it reads back, so a key over its limit across the cluster is refused on this
    node too until its retry time. The limit is therefore shared with a bounded lag: within one sync interval a
    node decides from what it knew at the last sync, so the cluster can admit, per key, at most what each node
    admits locally in one interval above the limit (one node alone never exceeds it) — and that excess is
    charged back, delaying the key's next slots.

    While Valkey is down, `admit` keeps deciding locally (per node) and the hits it cannot sync are dropped;
    that is logged loudly, not on every request. Exact counts for low-volume decisions such as sign-in
    throttling are `EventLog`'s."""

    def __init__(self, client: valkey.Valkey, prefix: str = "rl", *, sync_interval: float = 0.05) -> None:
        self._client = client
        self._prefix = prefix
        self._batch_script = client.register_script(_GCRA_BATCH)
        self._buckets: dict[str, _Bucket] = {}
        self._dirty: dict[str, _Bucket] = {}
        self._sync_interval = sync_interval
        self._syncer: asyncio.Task[None] | None = None
        self._degraded = Degradation("rate limiting")

    def admit(self, key: str, limit: int, window: int = 60) -> RateDecision:
        """Count one event for `key` against `limit` per `window` seconds, deciding locally (see the class)."""
        now = time.time() * 1000
        interval = window * 1000 / limit
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(now, interval)
        tat = bucket.tat if bucket.tat > now else now
        allow_at = tat + interval - limit * interval
        if allow_at > now:
            return RateDecision(False, 0, max(1, math.ceil((allow_at - now) / 1000)))
        bucket.tat = tat + interval
        bucket.interval = interval
        bucket.pending += 1
        self._dirty[key] = bucket
        return RateDecision(True, int((now - allow_at) // interval), 0)

    async def sync(self) -> None:
        """Send the hits `admit` counted since the last sync to Valkey and adopt the shared state read back."""
        if not self._dirty:
            return
        batch, self._dirty = self._dirty, {}
        keys, args = [], [time.time() * 1000]
        sent: list[tuple[_Bucket, int]] = []
        for key, bucket in batch.items():
            keys.append(f"{self._prefix}:{key}")
            args += [bucket.interval, bucket.pending]
            sent.append((bucket, bucket.pending))
            bucket.pending = 0
        try:
            shared = await self._batch_script(keys=keys, args=args)
        except (ValkeyError, OSError) as error:
            self._degraded.report(error)  # the hits were counted here; without Valkey they stay per node
            return
        for (bucket, _), tat in zip(sent, shared, strict=True):
            bucket.tat = max(bucket.tat, float(tat))

    def start(self) -> None:
        """Begin syncing `admit`'s counts to Valkey in the background."""
        if self._syncer is None:
            self._syncer = asyncio.create_task(self._sync_forever(), name="rate-limit-sync")

    async def stop(self) -> None:
        """Stop the background sync after one last one."""
        if self._syncer is not None:
            self._syncer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._syncer
            self._syncer = None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sync(), timeout=1.0)

    async def _sync_forever(self) -> None:
        rounds = 0
        while True:
            await asyncio.sleep(self._sync_interval)
            try:
                await self.sync()
            except Exception:
                log.exception("rate-limit sync failed")
            rounds += 1
            if rounds % 200 == 0 or len(self._buckets) > 50_000:
                self._prune()

    def _prune(self) -> None:
        now = time.time() * 1000
        self._buckets = {k: b for k, b in self._buckets.items() if b.tat > now or b.pending}


class EventLog:
    """Exact counts of events in the last `window` seconds (a sliding log), for low-volume events such as
    failed sign-ins where "N in the last minute" must mean exactly that. Per node when Valkey is down."""

    def __init__(self, client: valkey.Valkey, prefix: str = "log") -> None:
        self._client = client
        self._prefix = prefix
        self._local: dict[str, list[float]] = {}
        self._degraded = Degradation("sign-in throttling")

    async def record(self, key: str, window: int) -> None:
        """Log one event now."""
        now = time.time()
        self._local.setdefault(key, []).append(now)
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.zadd(f"{self._prefix}:{key}", {f"{now}:{uuid.uuid4().hex[:8]}": now})
            pipe.zremrangebyscore(f"{self._prefix}:{key}", 0, now - window)
            pipe.expire(f"{self._prefix}:{key}", window + 1)
            await pipe.execute()
        except (ValkeyError, OSError) as error:
            self._degraded.report(error)

    async def count(self, key: str, window: int) -> tuple[int, int]:
        """How many events `key` had in the last `window` seconds, and the seconds until the oldest expires."""
        now = time.time()
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.zremrangebyscore(f"{self._prefix}:{key}", 0, now - window)
            pipe.zrange(f"{self._prefix}:{key}", 0, -1, withscores=True)
            entries = [score for _, score in (await pipe.execute())[1]]
        except (ValkeyError, OSError) as error:
            self._degraded.report(error)
            entries = [t for t in self._local.get(key, []) if t > now - window]
            self._local[key] = entries
        oldest = min(entries, default=now)
        return len(entries), max(1, math.ceil(oldest + window - now))

    async def clear(self, key: str) -> None:
        """Forget every event of `key`."""
        self._local.pop(key, None)
        try:
            await self._client.delete(f"{self._prefix}:{key}")
        except (ValkeyError, OSError) as error:
            self._degraded.report(error)
