"""The per-request checks that read only the node's memory: the deny-list (fed by resync from Valkey), the
rate limiter's local decisions with their background sync, and the users service's profile cache."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import valkey.asyncio as valkey

from gravity_platform.kernel.denylist import DenyList
from gravity_platform.kernel.ratelimit import RateLimiter
from gravity_platform.services.users.cache import ProfileCache
from tests.kernel.conftest import key


async def shared_arrival(client: valkey.Valkey, name: str) -> float:
    """The key's theoretical arrival time (ms) in the rate limiter's shared GCRA state."""
    return float(await client.get(f"rl:{name}") or 0)


async def test_deny_list_check_is_local_and_resync_fills_it(client: valkey.Valkey) -> None:
    here, there = DenyList(client), DenyList(client)
    jti, sid, sub = key(), key(), key()
    now = int(time.time())
    await here.deny("jti", jti, 60)
    await here.deny("sid", sid, 60)
    await here.deny("sub", sub, 60, cutoff=now)
    foreign = f"deny:jti:{key()}"
    await client.set(foreign, now + 1)  # no TTL: not written by `deny`, ignored
    assert here.denies(jti, None, key(), now), "the node that denied knows at once"
    assert not there.denies(jti, None, key(), now), "another node only by broadcast or resync"

    assert await there.resync() >= 3
    assert there.denies(jti, None, key(), now)
    assert there.denies(key(), sid, key(), now)
    assert there.denies(key(), None, sub, now - 1), "issued before the cutoff"
    assert not there.denies(key(), None, sub, now), "issued from the cutoff on"
    assert not there.denies(key(), None, key(), now)
    await client.delete(foreign)


async def test_resynced_entries_keep_their_ttl(client: valkey.Valkey) -> None:
    here, there, jti = DenyList(client), DenyList(client), key()
    now = int(time.time())
    await here.deny("jti", jti, 1)
    await there.resync()
    assert there.denies(jti, None, key(), now)
    there._local[f"jti:{jti}"] = (time.monotonic() - 1, now + 1)  # as if its TTL had run out
    assert not there.denies(jti, None, key(), now)


async def test_remember_keeps_the_wider_denial(unreachable: valkey.Valkey) -> None:
    denials, sub = DenyList(unreachable), key()
    now = int(time.time())
    denials.remember("sub", sub, 60, now + 10)
    denials.remember("sub", sub, 60, now)  # an older cutoff arriving late (e.g. from a resync)
    assert denials.denies(key(), None, sub, now + 5)


async def test_admit_decides_locally_and_sync_shares_the_budget(client: valkey.Valkey) -> None:
    here, there, name = RateLimiter(client), RateLimiter(client), key()
    assert [here.admit(name, 3).allowed for _ in range(4)] == [True, True, True, False]
    refused = here.admit(name, 3)
    assert refused.remaining == 0
    assert 1 <= refused.retry_after <= 20
    started = time.time() * 1000
    await here.sync()
    assert await shared_arrival(client, name) >= started + 3 * 20_000 - 1_000, "the three hits reached Valkey"
    assert there.admit(name, 3).allowed, "bounded lag: a node decides from what it knew at its last sync"
    await there.sync()
    blocked = there.admit(name, 3)
    assert not blocked.allowed, "once synced, a key over its limit globally is refused here too"
    assert blocked.retry_after >= 1


async def test_admit_single_node_matches_hit(client: valkey.Valkey) -> None:
    limiter, name = RateLimiter(client), key()
    decisions = [limiter.admit(name, 5) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert decisions[0].remaining > decisions[4].remaining
    assert all(d.retry_after == 0 for d in decisions[:5])


async def test_admit_without_valkey(unreachable: valkey.Valkey, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="gravity.cache")
    limiter, name = RateLimiter(unreachable), key()
    assert [limiter.admit(name, 2).allowed for _ in range(3)] == [True, True, False]
    started = time.monotonic()
    await limiter.sync()
    await limiter.sync()
    assert time.monotonic() - started < 3.0
    assert not limiter.admit(name, 2).allowed, "still limited locally"
    loud = [r for r in caplog.records if "valkey unavailable" in r.getMessage()]
    assert len(loud) == 1


async def test_background_sync_runs_and_stops(client: valkey.Valkey) -> None:
    limiter, name = RateLimiter(client, sync_interval=0.01), key()
    limiter.start()
    try:
        started = time.time() * 1000
        limiter.admit(name, 2)
        limiter.admit(name, 2)
        for _ in range(100):
            if await client.exists(f"rl:{name}"):
                break
            await asyncio.sleep(0.01)
        assert await shared_arrival(client, name) >= started + 2 * 30_000, "both hits reached Valkey"
    finally:
        await limiter.stop()


def test_profile_cache_refuses_a_read_that_raced_a_write() -> None:
    cache = ProfileCache(size=2)
    before = cache.generation
    cache.invalidate("a")  # a write committed while the read was in flight
    cache.put("a", b"old", before)
    assert cache.get("a") is None
    cache.put("a", b"new", cache.generation)
    assert cache.get("a") == b"new"
    cache.put("b", b"b", cache.generation)
    cache.get("a")
    cache.put("c", b"c", cache.generation)
    assert cache.get("b") is None, "least recently used goes first"
    assert len(cache) == 2
    cache.clear()
    assert cache.get("a") is None


def test_profile_cache_entries_expire() -> None:
    cache = ProfileCache(max_age=0.0)
    cache.put("a", b"x", cache.generation)
    time.sleep(0.001)
    assert cache.get("a") is None
