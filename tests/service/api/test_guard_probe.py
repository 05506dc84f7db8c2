"""RedisGuard with its health probe: a slow or flaky Redis that answers PING is overload
(shed), never the fail mode; a refused connection or an unanswered probe is an outage."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.api.guard import RedisGuard, RedisProbe, RedisUnavailable, ServiceOverloaded


def _guard() -> RedisGuard:
    return RedisGuard(0.02, 1.0, probe=RedisProbe(interval_s=0.2, timeout_s=1.0))


async def _call(guard: RedisGuard, exc: BaseException, *, probe_answered: bool) -> None:
    assert guard.probe is not None
    # the probe's last answer, in the loop's clock (0: it never heard from Redis)
    guard.probe.last_ok = asyncio.get_running_loop().time() if probe_answered else 0.0

    async def fail() -> None:
        raise exc

    await guard.call("score", fail)


@pytest.mark.parametrize(
    "exc",
    [
        RedisConnectionError("Connection reset by peer"),
        RedisTimeoutError("Timeout connecting to server"),
    ],
)
def test_errors_while_the_probe_answers_are_overload(exc: BaseException) -> None:
    guard = _guard()
    with pytest.raises(ServiceOverloaded):
        asyncio.run(_call(guard, exc, probe_answered=True))
    assert not guard.is_down  # no breaker: the next call tries Redis again


@pytest.mark.parametrize(
    "exc",
    [
        RedisConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused."),
        RedisConnectionError("Connection reset by peer"),
    ],
)
def test_refused_or_unprobed_failures_are_an_outage(exc: BaseException) -> None:
    answered = "refused" in str(exc)  # refused: an outage even while the probe answered
    guard = _guard()
    with pytest.raises(RedisUnavailable):
        asyncio.run(_call(guard, exc, probe_answered=answered))
    assert guard.is_down  # the breaker: the fail mode answers at once for retry_s


def test_probe_alive_window() -> None:
    probe = RedisProbe(interval_s=0.2, timeout_s=1.0)
    assert not probe.alive(100.0)  # never answered
    probe.last_ok = 100.0
    assert probe.alive(101.1) and not probe.alive(101.3)
