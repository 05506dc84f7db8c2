"""Redis on the gateway path: a time budget per call and a breaker while Redis is down.

Gateways must get an answer within tens of milliseconds whether or not Redis answers.
:class:`RedisGuard` runs each call under ``redis_timeout_s``; after a failure it answers
:class:`RedisUnavailable` at once for ``redis_retry_s`` (no connection attempt), then lets
the next call probe Redis again, so the service recovers by itself when Redis returns.

The budget is spent on *Redis*, not on the service's own queueing. Under saturation the
event loop runs every callback late, a Redis reply that arrived in time waits behind
other requests, and a plain ``asyncio.timeout`` would turn that wait into a fail-mode
answer: with ``fail_mode=open`` an account under block would be let through whenever the
service is busy, and anyone could get through by adding load. So when the budget runs
out the guard asks :class:`LoopLagMonitor` how late the loop is running, and whether
another call has succeeded while this one waited; if the lag is the service's own (above
``lag_tolerance_s``) or Redis is answering others (busy, not down: on a saturated host
Redis slows down with everything else) it grants Redis another budget, up to
``overload_wait_s`` in all. Past that, a call that is still waiting on a congested loop
raises :class:`ServiceOverloaded` (the endpoints answer 503 with ``Retry-After``, see
``docs/service.md``), never the fail mode.

A Redis starved of CPU (on a saturated host) can be late for every call at once, so
neither the loop's lag nor another call's success shows it is alive. :class:`RedisProbe`
settles it: a ``PING`` every ``interval_s`` on its own, with a generous timeout. While the
probe heard from Redis recently, a call that overruns its budget is *overload* (extended,
then shed), never the fail mode; so is any other failure but a refused connection (a
connect timeout, a reset connection: the host is overloaded). Only when the probe too
has gone unanswered (Redis frozen, partitioned away) or a connection is refused does a
call answer from the fail mode and open the breaker. The first second of a frozen Redis
is therefore answered 503/429 (shed), then the fail mode at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.exceptions import TimeoutError as RedisTimeoutError

from service import metrics

__all__ = ["LoopLagMonitor", "RedisGuard", "RedisProbe", "RedisUnavailable", "ServiceOverloaded"]

T = TypeVar("T")


class ServiceOverloaded(RuntimeError):
    """The service itself is too busy to answer in time (Redis is not to blame)."""


class LoopLagMonitor:
    """How late the event loop runs its timers: the service's own queueing delay.

    A task sleeps ``interval_s`` again and again and records how late it wakes up; the
    lag is the largest lateness seen in the current and the previous window of
    ``window_s``, so it falls back to ~0 within two windows once the loop catches up.
    Costs one timer every ``interval_s`` (200 wake-ups a second by default).

    Parameters
    ----------
    interval_s : float
        Sleep between probes.
    window_s : float
        Length of one window of the running maximum.
    """

    def __init__(self, interval_s: float = 0.005, window_s: float = 0.25) -> None:
        self.interval_s = interval_s
        self.window_s = window_s
        self._cur = 0.0
        self._prev = 0.0
        self._window_start = 0.0

    @property
    def lag_s(self) -> float:
        """Largest timer lateness of the last one to two windows, seconds."""
        return max(self._cur, self._prev)

    def record(self, late_s: float, now: float) -> None:
        """Account one probe that woke ``late_s`` late at loop time ``now``."""
        if now - self._window_start >= self.window_s:
            self._prev = self._cur if now - self._window_start < 2 * self.window_s else 0.0
            self._cur = 0.0
            self._window_start = now
            metrics.EVENT_LOOP_LAG.set(self._prev)
        if late_s > self._cur:
            self._cur = late_s

    async def run(self) -> None:
        """Probe until cancelled (run it as a task of the service's lifespan)."""
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(self.interval_s)
            now = loop.time()
            self.record(max(now - t0 - self.interval_s, 0.0), now)


class RedisProbe:
    """Is Redis alive, however slow? A ``PING`` every ``interval_s`` with ``timeout_s``.

    Parameters
    ----------
    interval_s : float
        Pause between pings.
    timeout_s : float
        How long one ping may take (long: a CPU-starved Redis still answers).
    """

    def __init__(self, interval_s: float = 0.2, timeout_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        #: loop time of the last answered ping (0: never)
        self.last_ok = 0.0

    def alive(self, now: float) -> bool:
        """Whether a ping was answered within the last ``timeout_s + interval_s``."""
        return self.last_ok > 0.0 and now - self.last_ok <= self.timeout_s + self.interval_s

    async def run(self, client: Any) -> None:
        """Ping until cancelled (a task of the service's lifespan)."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                await asyncio.wait_for(client.ping(), self.timeout_s)
                self.last_ok = loop.time()
            except asyncio.CancelledError:
                raise
            except Exception:
                pass
            await asyncio.sleep(self.interval_s)


class _Deadline:
    """The budget of one guarded call, extended while the loop (not Redis) is late.

    Like ``asyncio.timeout`` it cancels the waiting task from a timer (so a call that
    overran its budget ends on the very loop iteration the timer runs in), but before
    cancelling it asks whether the loop was late.
    """

    __slots__ = ("fired", "guard", "handle", "loop", "overloaded", "start", "task", "when")

    def __init__(
        self, guard: RedisGuard, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]
    ) -> None:
        self.guard = guard
        self.loop = loop
        self.task = task
        self.start = loop.time()
        self.when = self.start + guard.timeout_s
        self.fired = False
        self.overloaded = False
        self.handle: asyncio.TimerHandle | None = loop.call_at(self.when, self.expire)

    def disarm(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def expire(self) -> None:
        now = self.loop.time()
        guard = self.guard
        lag = max(now - self.when, guard.monitor.lag_s if guard.monitor else 0.0)
        # Redis is answering when another call succeeded while this one waited, or the
        # probe heard from it lately: it is slow because the host is busy (often with our
        # own load), not down. A hung or dead Redis answers no one, the probe included:
        # its calls fail at the budget (the fail mode).
        answering = guard.last_ok > self.start or (
            guard.probe is not None and guard.probe.alive(now)
        )
        if lag >= guard.lag_tolerance_s or answering:
            if now - self.start < guard.overload_wait_s:
                # the reply may be in and waiting for the loop: one more budget of Redis time
                self.when = now + guard.timeout_s
                self.handle = self.loop.call_at(self.when, self.expire)
                metrics.REDIS_BUDGET_EXTENSIONS.inc()
                return
            # still waiting after overload_wait_s on a late loop or a busy Redis: shed
            self.overloaded = True
        self.handle = None
        self.fired = True
        self.task.cancel()


class RedisUnavailable(RuntimeError):
    """Redis could not be read in time (or is known to be down)."""


class RedisGuard:
    """Time-boxed Redis calls with a simple open/half-open breaker.

    A refused or broken connection opens the breaker at once; timeouts open it only after
    ``trip_after`` in a row, so one slow moment (a busy event loop, a cold connection)
    costs one fail-mode answer, not a second of them.

    Parameters
    ----------
    timeout_s : float
        Budget of one call.
    retry_s : float
        How long to skip Redis after the breaker opened.
    trip_after : int
        Consecutive timeouts that open the breaker.
    monitor : LoopLagMonitor, optional
        The service's loop-lag probe; without one only the lateness of the budget's own
        timer tells the loop's lag.
    lag_tolerance_s : float
        Loop lag above which an overrun is blamed on the service, not on Redis.
    overload_wait_s : float
        Longest a call waits on a congested loop before :class:`ServiceOverloaded`.
    probe : RedisProbe, optional
        Tells a slow Redis (shed on overrun) from a frozen or gone one (fail mode).
    """

    def __init__(
        self,
        timeout_s: float,
        retry_s: float,
        trip_after: int = 3,
        *,
        monitor: LoopLagMonitor | None = None,
        lag_tolerance_s: float = 0.005,
        overload_wait_s: float = 0.5,
        probe: RedisProbe | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.trip_after = trip_after
        self.monitor = monitor
        self.probe = probe
        self.lag_tolerance_s = lag_tolerance_s
        #: loop time of the last call that succeeded (tells a busy Redis from a hung one)
        self.last_ok = 0.0
        self.overload_wait_s = max(overload_wait_s, timeout_s)
        self._down_until = 0.0
        self._timeouts = 0
        self._up = True
        self.last_error: str | None = None

    @property
    def is_down(self) -> bool:
        """Whether calls are being skipped right now."""
        return time.monotonic() < self._down_until

    async def call(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn()`` under the budget.

        Raises
        ------
        RedisUnavailable
            Redis failed, or overran the budget while the loop was on time.
        ServiceOverloaded
            The loop itself stayed congested for ``overload_wait_s``.
        """
        if self._down_until and self.is_down:
            raise RedisUnavailable(self.last_error or "redis unavailable")
        task = asyncio.current_task()
        assert task is not None, "RedisGuard.call runs inside a task"
        deadline = _Deadline(self, asyncio.get_running_loop(), task)
        try:
            try:
                result = await fn()
            except asyncio.CancelledError as exc:
                if deadline.fired and task.uncancel() == 0:  # our own cancel: the budget
                    raise TimeoutError(f"{operation} overran its budget") from exc
                raise
            finally:
                deadline.disarm()
        except (TimeoutError, RedisTimeoutError) as exc:
            if deadline.overloaded:
                raise ServiceOverloaded(
                    f"{operation}: event loop lagging for {self.overload_wait_s:g}s"
                ) from exc
            if self._probe_alive():  # e.g. a new connection timed out on a busy host
                raise ServiceOverloaded(f"{operation}: timed out while Redis answers") from exc
            self._timeouts += 1
            self.last_error = f"{operation}: TimeoutError"
            metrics.REDIS_ERRORS.labels(operation).inc()
            if self._timeouts >= self.trip_after:
                # slow, not gone: probe again soon (a refused connection waits retry_s)
                self.trip(operation, exc, count=False, for_s=min(self.retry_s, 0.2))
            raise RedisUnavailable(self.last_error) from exc
        except Exception as exc:  # refused connections, protocol errors
            if self._probe_alive() and not _refused(exc):
                # a connection reset or dropped under load while Redis answers its probe:
                # overload, shed; the breaker would turn it into a second of fail mode
                raise ServiceOverloaded(f"{operation}: {type(exc).__name__}") from exc
            self.trip(operation, exc)
            raise RedisUnavailable(self.last_error or "redis unavailable") from exc
        self._timeouts = 0
        self.last_ok = deadline.loop.time()
        if not self._up:
            self._up = True
            self._down_until = 0.0
            metrics.REDIS_UP.set(1)
        return result

    def _probe_alive(self) -> bool:
        if self.probe is None:
            return False
        return self.probe.alive(asyncio.get_running_loop().time())

    def trip(
        self,
        operation: str,
        exc: BaseException | None = None,
        count: bool = True,
        for_s: float | None = None,
    ) -> None:
        """Record a failure and skip Redis for ``for_s`` (default ``retry_s``)."""
        self._down_until = time.monotonic() + (self.retry_s if for_s is None else for_s)
        self._up = False
        self.last_error = f"{operation}: {type(exc).__name__}" if exc else operation
        if count:
            metrics.REDIS_ERRORS.labels(operation).inc()
        metrics.REDIS_UP.set(0)

    def reset(self) -> None:
        """Forget a failure (tests, or after an explicit successful ping)."""
        self._down_until = 0.0
        self._timeouts = 0


def _refused(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a refused connection: Redis is not there."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return True
        text = str(seen)
        if "Connection refused" in text or "Error 111 " in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False
