"""Rate limiting and the token deny-list against the real Valkey, and their per-node fallback without it."""

from __future__ import annotations

import asyncio
import time

import valkey.asyncio as valkey

from gravity_platform.kernel.denylist import DenyList
from gravity_platform.kernel.ratelimit import EventLog, RateLimiter
from tests.kernel.conftest import key

# --- rate limiter ----------------------------------------------------------------------------------------------


async def test_keys_are_independent(client: valkey.Valkey) -> None:
    limiter, first, second = RateLimiter(client), key(), key()
    assert limiter.admit(first, 1).allowed
    assert not limiter.admit(first, 1).allowed
    assert limiter.admit(second, 1).allowed


async def test_a_slot_frees_after_its_interval(client: valkey.Valkey) -> None:
    limiter, name = RateLimiter(client), key()
    assert limiter.admit(name, 2, window=1).allowed
    assert limiter.admit(name, 2, window=1).allowed
    assert not limiter.admit(name, 2, window=1).allowed
    await asyncio.sleep(0.55)
    assert limiter.admit(name, 2, window=1).allowed, "GCRA: one request per window/limit seconds"


# --- deny-list -------------------------------------------------------------------------------------------------


async def test_deny_list_by_token_session_and_subject(client: valkey.Valkey,
                                                      other_node_client: valkey.Valkey) -> None:
    here, there = DenyList(client), DenyList(other_node_client)
    jti, sid, sub = key(), key(), key()
    now = int(time.time())
    assert not await there.is_denied(jti, sid, sub, now)

    await here.deny("jti", jti, 60)
    assert await there.is_denied(jti, None, key(), now), "every node sees it through Valkey"
    assert not await there.is_denied(key(), sid, sub, now)

    await here.deny("sid", sid, 60)
    assert await there.is_denied(key(), sid, key(), now)
    assert not await there.is_denied(key(), None, sub, now)

    await here.deny("sub", sub, 60, cutoff=now)
    assert await there.is_denied(key(), None, sub, now - 1), "tokens issued before the cutoff are refused"
    assert not await there.is_denied(key(), None, sub, now), "tokens issued from the cutoff on are fine"


async def test_deny_list_entries_expire(client: valkey.Valkey) -> None:
    denials, jti = DenyList(client), key()
    await denials.deny("jti", jti, 1)
    ttl = await client.ttl(f"deny:jti:{jti}")
    assert 0 < ttl <= 1


async def test_deny_list_falls_back_per_node(unreachable: valkey.Valkey) -> None:
    here, there = DenyList(unreachable), DenyList(unreachable)
    jti, sub = key(), key()
    now = int(time.time())
    await here.deny("jti", jti, 60)
    assert await here.is_denied(jti, None, sub, now), "still enforced on the node that revoked it"
    assert not await there.is_denied(jti, None, sub, now)
    there.remember("jti", jti, 60, now + 1)
    assert await there.is_denied(jti, None, sub, now), "and on nodes told over the bus"
    there.remember("sub", sub, 0, now + 1)
    assert not await there.is_denied(key(), None, sub, now), "expired local entries are ignored"


async def test_event_log_counts_exactly(client: valkey.Valkey, other_node_client: valkey.Valkey) -> None:
    here, there, name = EventLog(client), EventLog(other_node_client), key()
    for _ in range(3):
        await here.record(name, 60)
    count, retry_after = await there.count(name, 60)
    assert count == 3
    assert 1 <= retry_after <= 60
    await there.clear(name)
    assert (await here.count(name, 60))[0] == 0


async def test_event_log_without_valkey(unreachable: valkey.Valkey) -> None:
    log, name = EventLog(unreachable), key()
    await log.record(name, 60)
    await log.record(name, 60)
    assert (await log.count(name, 60))[0] == 2
    assert (await EventLog(unreachable).count(name, 60))[0] == 0, "per node without Valkey"
