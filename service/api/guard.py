"""Redis on the gateway path: a time budget per call and a breaker while Redis is down.

Gateways must get an answer within tens of milliseconds whether or not Redis answers.
:class:`RedisGuard` runs each call under ``redis_timeout_s``; after a failure it answers
:class:`RedisUnavailable` at once for ``redis_retry_s`` (no connection attempt), then lets
the next call probe Redis again, so the service recovers by itself when Redis returns.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import TimeoutError as RedisTimeoutError

from service import metrics

__all__ = ["RedisGuard", "RedisUnavailable"]

T = TypeVar("T")


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
    """

    def __init__(self, timeout_s: float, retry_s: float, trip_after: int = 3) -> None:
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.trip_after = trip_after
        self._down_until = 0.0
        self._timeouts = 0
        self._up = True
        self.last_error: str | None = None

    @property
    def is_down(self) -> bool:
        """Whether calls are being skipped right now."""
        return time.monotonic() < self._down_until

    async def call(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn()`` under the budget; raise :class:`RedisUnavailable` on any failure."""
        if self._down_until and self.is_down:
            raise RedisUnavailable(self.last_error or "redis unavailable")
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await fn()
        except (TimeoutError, RedisTimeoutError) as exc:
            self._timeouts += 1
            self.last_error = f"{operation}: TimeoutError"
            metrics.REDIS_ERRORS.labels(operation).inc()
            if self._timeouts >= self.trip_after:
                # slow, not gone: probe again soon (a refused connection waits retry_s)
                self.trip(operation, exc, count=False, for_s=min(self.retry_s, 0.2))
            raise RedisUnavailable(self.last_error) from exc
        except Exception as exc:  # refused connections, protocol errors
            self.trip(operation, exc)
            raise RedisUnavailable(self.last_error or "redis unavailable") from exc
        self._timeouts = 0
        if not self._up:
            self._up = True
            self._down_until = 0.0
            metrics.REDIS_UP.set(1)
        return result

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
