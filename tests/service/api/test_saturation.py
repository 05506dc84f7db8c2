"""Saturation: the Redis budget is spent on Redis, never on the service's own queueing.

A congested event loop (simulated by a callback that holds the loop 40 ms at a time, the
way a flood of requests does) must not turn a healthy Redis' answers into fail-open
decisions; a paused Redis still answers from the fail mode within its budget; load that
outlasts ``overload_wait_s`` is shed with 503 + ``Retry-After``, never allowed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import redis.asyncio as aredis

from service import metrics
from service.api.app import create_app
from service.api.guard import LoopLagMonitor, RedisGuard, RedisUnavailable, ServiceOverloaded
from service.api.middleware import AdmissionMiddleware
from service.redis_keys import Keys
from service.store.score_record import ScoreRecord, write_score
from tests.service.api.conftest import auth, service_settings
from tests.service.conftest import RedisServer

pytestmark = pytest.mark.redis


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        os.kill(server.proc.pid, signal.SIGCONT)
    server.stop()


@contextmanager
def congested_loop(loop: asyncio.AbstractEventLoop, hold_s: float = 0.04) -> Iterator[None]:
    """Hold the loop ``hold_s`` at a time, over and over (a request flood's effect)."""
    running = True

    def hog() -> None:
        time.sleep(hold_s)
        if running:
            loop.call_soon(hog)

    loop.call_soon(hog)
    try:
        yield
    finally:
        running = False


def _sample(name: str, **labels: str) -> float:
    value = metrics.REGISTRY.get_sample_value(name, labels)
    return value or 0.0


async def _guarded(guard: RedisGuard, fn: Any, n: int) -> list[Any]:
    async def one() -> Any:
        try:
            return await guard.call("test", fn)
        except (RedisUnavailable, ServiceOverloaded) as exc:
            return exc

    return await asyncio.gather(*(one() for _ in range(n)))


async def _quick_reply() -> str:
    """A call whose server answers in 1 ms: only the loop can make it late."""
    await asyncio.sleep(0.001)
    return "v"


def test_congested_loop_is_not_blamed_on_the_backend() -> None:
    async def main() -> tuple[list[Any], list[Any]]:
        monitor = LoopLagMonitor()
        probe = asyncio.create_task(monitor.run())
        aware = RedisGuard(0.025, 1.0, monitor=monitor, overload_wait_s=5.0)
        # the same budget without lag awareness: what a plain asyncio.timeout does
        naive = RedisGuard(0.025, 1.0, lag_tolerance_s=float("inf"))
        try:
            with congested_loop(asyncio.get_running_loop()):
                await asyncio.sleep(0.1)
                got = await _guarded(aware, _quick_reply, 30)
                naive_got = await _guarded(naive, _quick_reply, 30)
        finally:
            probe.cancel()
        return got, naive_got

    before = _sample("distillwatch_redis_budget_extensions_total")
    got, naive_got = asyncio.run(main())
    assert got == ["v"] * 30
    assert _sample("distillwatch_redis_budget_extensions_total") > before
    # the control: without lag awareness the same load fails every call
    assert all(isinstance(r, RedisUnavailable) for r in naive_got), naive_got


def test_congestion_past_overload_wait_is_overload_not_backend_failure() -> None:
    async def main() -> list[Any]:
        monitor = LoopLagMonitor()
        probe = asyncio.create_task(monitor.run())
        guard = RedisGuard(0.025, 1.0, monitor=monitor, overload_wait_s=0.03)
        try:
            with congested_loop(asyncio.get_running_loop(), hold_s=0.06):
                await asyncio.sleep(0.1)
                return await _guarded(guard, lambda: asyncio.sleep(1.0), 10)
        finally:
            probe.cancel()

    got = asyncio.run(main())
    assert all(isinstance(r, ServiceOverloaded) for r in got), got


def test_congested_loop_with_healthy_redis_answers(own_redis) -> None:
    async def main() -> list[Any]:
        client = aredis.Redis.from_url(own_redis.url)
        await client.set("k", "v")
        monitor = LoopLagMonitor()
        probe = asyncio.create_task(monitor.run())
        guard = RedisGuard(0.025, 1.0, monitor=monitor, overload_wait_s=5.0)
        try:
            with congested_loop(asyncio.get_running_loop()):
                await asyncio.sleep(0.1)
                return await _guarded(guard, lambda: client.get("k"), 30)
        finally:
            probe.cancel()
            await client.aclose()

    assert asyncio.run(main()) == [b"v"] * 30


def test_paused_redis_still_fails_within_the_budget_when_the_loop_is_on_time(
    own_redis,
) -> None:
    async def main() -> tuple[Any, float]:
        client = aredis.Redis.from_url(own_redis.url)
        await client.set("k", "v")
        monitor = LoopLagMonitor()
        probe = asyncio.create_task(monitor.run())
        guard = RedisGuard(0.025, 1.0, monitor=monitor, overload_wait_s=5.0)
        await asyncio.sleep(0.05)
        os.kill(own_redis.proc.pid, signal.SIGSTOP)
        try:
            t0 = time.perf_counter()
            (res,) = await _guarded(guard, lambda: client.get("k"), 1)
            took = time.perf_counter() - t0
        finally:
            os.kill(own_redis.proc.pid, signal.SIGCONT)
            probe.cancel()
            await client.aclose()
        return res, took

    res, took = asyncio.run(main())
    assert isinstance(res, RedisUnavailable)
    assert took < 0.5, took  # the budget (plus CI slack), far below overload_wait_s


def _block(server: RedisServer, prefix: str, account: str) -> None:
    write_score(server.client(), Keys(prefix), account, ScoreRecord(0.9, "block"))


@pytest.mark.parametrize("overload_wait_s", [5.0, 0.03])
def test_blocked_account_never_allowed_under_load_with_redis_healthy(
    own_redis, overload_wait_s
) -> None:
    """fail_mode=open, a flood on a congested loop: every answer is block or 503."""
    _block(own_redis, "sat", "bad")
    settings = service_settings(
        own_redis.url,
        "sat",
        fail_mode="open",
        redis_timeout_s=0.025,
        overload_wait_s=overload_wait_s,
    )
    app = create_app(settings)

    async def main() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

                async def score() -> httpx.Response:
                    return await client.post(
                        "/v1/score", json={"account_id": "bad"}, headers=auth("gateway")
                    )

                def check() -> Any:
                    return client.get(
                        "/v1/check", headers={**auth("gateway"), "x-distillwatch-account": "bad"}
                    )

                await score()  # warm the connection
                with congested_loop(asyncio.get_running_loop(), hold_s=0.06):
                    await asyncio.sleep(0.1)
                    return list(
                        await asyncio.gather(
                            *[score() for _ in range(20)], *[check() for _ in range(20)]
                        )
                    )

    answers = asyncio.run(main())
    scores, checks = answers[:20], answers[20:]
    for r in scores:
        assert r.status_code in (200, 503), r.text
        if r.status_code == 200:
            assert r.json()["action"] == "block", r.json()
        else:
            assert r.headers["retry-after"] == "1"
    for r in checks:  # 429, not 5xx: a gateway must not read shedding as "unreachable"
        assert r.status_code in (403, 429), r.status_code
    if overload_wait_s < 0.05:  # the loop stays congested past the wait: shed, counted
        assert any(r.status_code == 503 for r in answers)
        assert _sample("distillwatch_shed_requests_total", endpoint="score", reason="overload") > 0


def test_admission_limit_sheds_the_excess_with_retry_after() -> None:
    release = asyncio.Event()
    entered = 0

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal entered
        entered += 1
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    mw = AdmissionMiddleware(slow_app, limit=2, endpoints={"/v1/score": "score"})

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=mw)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            held = [asyncio.create_task(client.post("/v1/score", json={})) for _ in range(2)]
            while entered < 2:
                await asyncio.sleep(0.001)
            shed = await client.post("/v1/score", json={})
            other = asyncio.create_task(client.get("/v1/alerts"))  # not a gateway path
            while entered < 3:
                await asyncio.sleep(0.001)
            release.set()
            return [shed, *(await asyncio.gather(*held)), await other]

    before = _sample("distillwatch_shed_requests_total", endpoint="score", reason="inflight")
    shed, *rest = asyncio.run(main())
    assert shed.status_code == 503
    assert shed.headers["retry-after"] == "1"
    assert "overloaded" in shed.json()["detail"]
    assert [r.status_code for r in rest] == [200, 200, 200]
    assert mw.inflight == 0
    after = _sample("distillwatch_shed_requests_total", endpoint="score", reason="inflight")
    assert after == before + 1


def test_busy_but_answering_backend_is_waited_for_not_failed() -> None:
    """A host saturated by our own load slows Redis too: while other calls keep
    succeeding the guard waits (then sheds), it never answers from the fail mode."""

    async def slow_reply(i: int) -> str:
        # a busy server: some answers in time, every other one past the 25 ms budget
        await asyncio.sleep(0.01 if i % 2 == 0 else 0.04)
        return "v"

    async def main() -> list[Any]:
        guard = RedisGuard(0.025, 1.0, overload_wait_s=2.0)  # no loop lag at all

        async def later(i: int) -> Any:
            await asyncio.sleep(0.01 * i)
            try:
                return await guard.call("test", lambda: slow_reply(i))
            except (RedisUnavailable, ServiceOverloaded) as exc:
                return exc

        return await asyncio.gather(*(later(i) for i in range(40)))

    got = asyncio.run(main())
    # the late answers are waited for (another call succeeded meanwhile), never failed
    assert got == ["v"] * 40, got
