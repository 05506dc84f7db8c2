"""SharedRateLimiter against a real Redis: exact buckets, gateway shares, Redis down."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as aredis

from service import metrics
from service.api.auth import Principal
from service.api.ratelimit import SharedRateLimiter
from service.redis_keys import Keys
from service.stream.local_redis import free_port

pytestmark = pytest.mark.redis


@pytest.fixture
def rc(redis_server) -> Iterator[Any]:
    """A client on the session's Redis (no FLUSHALL: other modules' state lives there)."""
    client = redis_server.client()
    yield client
    client.close()


ANALYST = Principal("an-1", "analyst")
GATEWAY = Principal("gw-1", "gateway")


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _limiter(url: str, prefix: str, **kw: Any) -> tuple[SharedRateLimiter, Any]:
    client = aredis.Redis.from_url(url)
    rates = kw.pop("rates", {"gateway": 20.0, "analyst": 5.0, "admin": 5.0})
    lim = SharedRateLimiter(rates, burst_s=2.0, keys=Keys(prefix), **kw)
    lim.attach(client)
    return lim, client


def test_share_rate_splits_the_limit() -> None:
    # room left: grow into it
    assert SharedRateLimiter.share_rate(100.0, 10.0, 30.0) == 70.0
    assert SharedRateLimiter.share_rate(100.0, 0.0, 0.0) == 100.0
    # over the limit: in proportion to demand, and the shares add up to the limit
    a = SharedRateLimiter.share_rate(100.0, 300.0, 100.0)
    b = SharedRateLimiter.share_rate(100.0, 100.0, 300.0)
    assert a == pytest.approx(75.0) and b == pytest.approx(25.0)
    assert a + b == pytest.approx(100.0)
    # a process without demand gets a sliver, not nothing
    assert 0 < SharedRateLimiter.share_rate(100.0, 0.0, 400.0) < 1.0


def test_analyst_bucket_is_exact_across_processes(redis_server, fresh_prefix) -> None:
    async def run() -> tuple[list[float], float]:
        a, ca = _limiter(redis_server.url, fresh_prefix)
        b, cb = _limiter(redis_server.url, fresh_prefix)
        try:
            # capacity 2 s x 5/s = 10 requests in all, whichever process they reach
            waits = [await (a if i % 2 else b).acquire(ANALYST) for i in range(12)]
            await asyncio.sleep(0.45)  # ~2 tokens back
            later = [await a.acquire(ANALYST), await b.acquire(ANALYST)]
            return waits + later, await a.acquire(Principal("an-2", "analyst"))
        finally:
            await ca.aclose()
            await cb.aclose()

    waits, other = asyncio.run(run())
    assert waits[:10] == [0.0] * 10
    assert waits[10] > 0 and waits[11] > 0
    assert waits[10] <= 0.2 + 1e-6  # one token at 5/s
    assert waits[12] == 0.0 and waits[13] == 0.0
    assert other == 0.0  # buckets are per token name


def test_bucket_key_expires(redis_server, fresh_prefix, rc) -> None:
    async def run() -> None:
        a, ca = _limiter(redis_server.url, fresh_prefix)
        await a.acquire(ANALYST)
        await ca.aclose()

    asyncio.run(run())
    key = Keys(fresh_prefix).rate_bucket(ANALYST.name)
    ttl = rc.pttl(key)
    assert 0 < ttl <= 3_000  # full again after 2 s (+1 s margin): no key left behind


def test_gateway_shares_follow_the_other_processes(redis_server, fresh_prefix) -> None:
    async def run() -> dict[str, Any]:
        clock_a, clock_b = Clock(), Clock()
        a, ca = _limiter(redis_server.url, fresh_prefix, clock=clock_a)
        b, cb = _limiter(redis_server.url, fresh_prefix, clock=clock_b)
        b.watch([GATEWAY, Principal("gw-2", "gateway"), ANALYST])
        try:
            # A floods: 100 attempts, 40 admitted (its 2 s burst); B has not served gw-1
            admitted_a = sum(a.allow(GATEWAY) == 0.0 for _ in range(100))
            assert await a.sync() and await b.sync()
            # B watched gw-1: it already holds a sliver of a share, not a full burst
            admitted_b = sum(b.allow(GATEWAY) == 0.0 for _ in range(20))
            out = {
                "admitted_a": admitted_a,
                "admitted_b": admitted_b,
                "rate_a": a._shares[GATEWAY.name].rate,
                "rate_b": b._shares[GATEWAY.name].rate,
                # another gateway token is not affected by gw-1's flood
                "other": [b.allow(Principal("gw-2", "gateway")) for _ in range(20)],
                "watched": sorted(b._watched),
            }
            # the flood stops; two seconds later the shares are whole again
            clock_a.now += 2.0
            clock_b.now += 2.0
            await asyncio.sleep(2.1)
            assert await a.sync() and await b.sync()
            out["rate_b_after"] = b._shares[GATEWAY.name].rate
            return out
        finally:
            await ca.aclose()
            await cb.aclose()

    out = asyncio.run(run())
    assert out["admitted_a"] == 40
    assert out["rate_a"] == pytest.approx(20.0)
    assert out["rate_b"] < 1.0
    assert out["admitted_b"] <= 1  # never below one request
    assert out["other"] == [0.0] * 20
    assert out["watched"] == ["gw-1", "gw-2"]  # analyst tokens use the exact bucket
    assert out["rate_b_after"] == pytest.approx(20.0)


def test_redis_down_keeps_limits_local(fresh_prefix) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    before = metrics.REDIS_ERRORS.labels("rate_limit")._value.get()

    async def run() -> tuple[list[float], bool, list[float]]:
        clock = Clock()
        lim, client = _limiter(dead, fresh_prefix, clock=clock)
        try:
            analyst = [await lim.acquire(ANALYST) for _ in range(12)]
            synced = await lim.sync() if lim.allow(GATEWAY) == 0.0 else True
            clock.now += 5.0
            gateway = [lim.allow(GATEWAY) for _ in range(45)]
            return analyst, synced, gateway
        finally:
            await client.aclose()

    analyst, synced, gateway = asyncio.run(run())
    # nobody is blocked because Redis is down: the local bucket (10 = 2 s x 5/s) answers
    assert analyst[:10] == [0.0] * 10 and analyst[10] > 0
    assert synced is False
    # the gateway share falls back to the full rate of this process (2 s burst = 40)
    assert gateway[:40] == [0.0] * 40 and gateway[-1] > 0
    assert metrics.REDIS_ERRORS.labels("rate_limit")._value.get() >= before + 2


def test_a_token_with_its_own_rate_is_held_to_it(redis_server, fresh_prefix) -> None:
    """A token's ``rate`` replaces its role's: a partner's small quota runs out while the
    other gateway and analyst tokens keep theirs (exact bucket for analysts, too)."""
    partner = Principal("gw-partner", "gateway", rate=2.0)  # capacity 4
    slow_analyst = Principal("an-slow", "analyst", rate=1.0)  # capacity 2

    async def run() -> tuple[list[float], list[float], list[float]]:
        lim, client = _limiter(redis_server.url, fresh_prefix)
        try:
            partner_waits = [lim.allow(partner) for _ in range(6)]
            others = [lim.allow(GATEWAY) for _ in range(6)]
            analyst_waits = [await lim.acquire(slow_analyst) for _ in range(3)]
            return partner_waits, others, analyst_waits
        finally:
            await client.aclose()

    partner_waits, others, analyst_waits = asyncio.run(run())
    assert partner_waits[:4] == [0.0] * 4 and partner_waits[4] > 0 and partner_waits[5] > 0
    assert others == [0.0] * 6  # the role's 20/s: untouched by the partner's flood
    assert analyst_waits[:2] == [0.0, 0.0] and analyst_waits[2] > 0


def test_token_rate_is_read_from_the_token_list() -> None:
    from service.api.auth import TokenTable, principal_of
    from service.settings import TokenSpec

    spec = TokenSpec.model_validate({"name": "p", "role": "gateway", "token": "s3", "rate": 7})
    assert principal_of(spec) == Principal("p", "gateway", 7.0)
    assert TokenTable([spec]).lookup("s3") == Principal("p", "gateway", 7.0)
    with pytest.raises(ValueError):
        TokenSpec.model_validate({"name": "p", "role": "gateway", "token": "s3", "rate": 0})
