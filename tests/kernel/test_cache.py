"""Rate limiting and the token deny-list against the real Valkey, and their per-node fallback without it."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import valkey.asyncio as valkey

from gravity_platform.kernel.denylist import DenyList
from gravity_platform.kernel.ratelimit import EventLog, RateLimiter
from tests.kernel.conftest import key

# --- rate limiter ----------------------------------------------------------------------------------------------


async def test_limit_and_retry_after(client: valkey.Valkey) -> None:
    limiter, name = RateLimiter(client), key()
    decisions = [await limiter.hit(name, 3) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[0].remaining > decisions[2].remaining
    assert decisions[3].remaining == 0
    assert 1 <= decisions[3].retry_after <= 20, "one slot frees after window/limit seconds"
    assert all(d.retry_after == 0 for d in decisions[:3])


async def test_check_does_not_count_and_reset_forgets(client: valkey.Valkey) -> None:
    limiter, name = RateLimiter(client), key()
    for _ in range(5):
        assert (await limiter.check(name, 2)).allowed
    assert (await limiter.hit(name, 2)).allowed
    assert (await limiter.hit(name, 2)).allowed
    assert not (await limiter.check(name, 2)).allowed
    assert not (await limiter.hit(name, 2)).allowed
    await limiter.reset(name)
    assert (await limiter.hit(name, 2)).allowed


async def test_nodes_share_one_budget(client: valkey.Valkey, other_node_client: valkey.Valkey) -> None:
    here, there, name = RateLimiter(client), RateLimiter(other_node_client), key()
    assert (await here.hit(name, 3)).allowed
    assert (await there.hit(name, 3)).allowed
    assert (await here.hit(name, 3)).allowed
    assert not (await there.hit(name, 3)).allowed


async def test_keys_are_independent(client: valkey.Valkey) -> None:
    limiter, first, second = RateLimiter(client), key(), key()
    assert (await limiter.hit(first, 1)).allowed
    assert not (await limiter.hit(first, 1)).allowed
    assert (await limiter.hit(second, 1)).allowed


async def test_a_slot_frees_after_its_interval(client: valkey.Valkey) -> None:
    limiter, name = RateLimiter(client), key()
    assert (await limiter.hit(name, 2, window=1)).allowed
    assert (await limiter.hit(name, 2, window=1)).allowed
    assert not (await limiter.hit(name, 2, window=1)).allowed
    await asyncio.sleep(0.55)
    assert (await limiter.hit(name, 2, window=1)).allowed, "GCRA: one request per window/limit seconds"


async def test_rate_limit_falls_back_per_node(unreachable: valkey.Valkey, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="gravity.cache")
    limiter, other_node, name = RateLimiter(unreachable), RateLimiter(unreachable), key()
    started = time.monotonic()
    assert [(await limiter.hit(name, 3)).allowed for _ in range(4)] == [True, True, True, False]
    assert time.monotonic() - started < 3.0, "a dead Valkey does not stall requests"
    assert (await other_node.hit(name, 3)).allowed, "without Valkey each node counts for itself"
    assert not (await limiter.check(name, 3)).allowed
    await limiter.reset(name)
    assert (await limiter.hit(name, 3)).allowed
    loud = [r for r in caplog.records if "valkey unavailable" in r.getMessage()]
    assert len(loud) == 2, "logged loudly, once per limiter, not on every request"
    assert all(r.levelno == logging.ERROR for r in loud)


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
