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
from typing import Any, TypeVar

from service import metrics

__all__ = ["RedisGuard", "RedisUnavailable", "decode_hash"]

T = TypeVar("T")


class RedisUnavailable(RuntimeError):
    """Redis could not be read in time (or is known to be down)."""


class RedisGuard:
    """Time-boxed Redis calls with a simple open/half-open breaker.

    Parameters
    ----------
    timeout_s : float
        Budget of one call.
    retry_s : float
        How long to skip Redis after a failure.
    """

    def __init__(self, timeout_s: float, retry_s: float) -> None:
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self._down_until = 0.0
        self.last_error: str | None = None

    @property
    def is_down(self) -> bool:
        """Whether calls are being skipped right now."""
        return time.monotonic() < self._down_until

    async def call(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn()`` under the budget; raise :class:`RedisUnavailable` on any failure."""
        if self.is_down:
            raise RedisUnavailable(self.last_error or "redis unavailable")
        try:
            result = await asyncio.wait_for(fn(), self.timeout_s)
        except Exception as exc:  # timeouts, refused connections, protocol errors
            self.trip(operation, exc)
            raise RedisUnavailable(self.last_error or "redis unavailable") from exc
        metrics.REDIS_UP.set(1)
        return result

    def trip(self, operation: str, exc: BaseException | None = None) -> None:
        """Record a failure and skip Redis for ``retry_s``."""
        self._down_until = time.monotonic() + self.retry_s
        self.last_error = f"{operation}: {type(exc).__name__}" if exc else operation
        metrics.REDIS_ERRORS.labels(operation).inc()
        metrics.REDIS_UP.set(0)

    def reset(self) -> None:
        """Forget a failure (tests, or after an explicit successful ping)."""
        self._down_until = 0.0


def decode_hash(raw: dict[Any, Any] | None) -> dict[str, str]:
    """A Redis hash reply with bytes keys and values as a ``str`` dict."""
    if not raw:
        return {}
    return {
        (k.decode() if isinstance(k, bytes) else str(k)): (
            v.decode() if isinstance(v, bytes) else str(v)
        )
        for k, v in raw.items()
    }
