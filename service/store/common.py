"""Helpers shared by the store modules: errors, decoding, chunked pipelines, time."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import orjson

from detector.alerts import rfc3339
from service.redis_values import decode_hash, text

__all__ = [
    "CHUNK",
    "Conflict",
    "NotFound",
    "StoreError",
    "chunked",
    "dec",
    "decode_hash",
    "json_or",
    "now_rfc3339",
    "pipelined",
    "split_ids",
    "to_float",
    "to_int",
]

T = TypeVar("T")

#: commands per pipeline round trip when reading many keys
CHUNK = 2_000


class StoreError(Exception):
    """Base class of the errors the store raises for the API to map."""


class NotFound(StoreError, KeyError):
    """The alert, account or cluster does not exist (HTTP 404)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class Conflict(StoreError, ValueError):
    """The change is not allowed in the object's current state (HTTP 409)."""


dec = text


def split_ids(text: str | None) -> list[str]:
    """A comma-separated field (``rule_ids``, ``families``) as a list, empty parts dropped."""
    return [p for p in (text or "").split(",") if p]


def to_float(v: Any, default: float | None = None) -> float | None:
    """``v`` as a finite float, or ``default`` when missing or unparsable."""
    if v is None or v == "" or v == b"":
        return default
    try:
        out = float(dec(v))
    except ValueError:
        return default
    return out if math.isfinite(out) else default


def to_int(v: Any, default: int = 0) -> int:
    """``v`` as an int, or ``default``."""
    f = to_float(v)
    return int(f) if f is not None else default


def json_or(raw: Any, default: T) -> Any | T:
    """Decoded JSON of ``raw``, or ``default`` when missing or invalid."""
    if raw is None:
        return default
    try:
        return orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError):
        return default


def now_rfc3339(now: float | None = None) -> str:
    """Wall time as RFC 3339 UTC (``...Z``)."""
    return rfc3339(time.time() if now is None else now)


def chunked(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def pipelined(
    client: Any, items: Sequence[T], queue: Callable[[Any, T], None], size: int = CHUNK
) -> Iterable[Any]:
    """Replies of ``queue(pipe, item)`` for each item, one round trip per ``size`` items.

    Parameters
    ----------
    client : redis.Redis
        Connection.
    items : sequence
        What to read.
    queue : callable
        Queues exactly one command per item on the pipeline.
    size : int
        Items per round trip (keeps each round trip short for other clients).

    Returns
    -------
    list
        One reply per item, in order.
    """
    out: list[Any] = []
    for part in chunked(items, size):
        pipe = client.pipeline(transaction=False)
        for item in part:
            queue(pipe, item)
        out.extend(pipe.execute())
    return out


def group_lag(client: Any, stream: str, group: str) -> tuple[int, int] | None:
    """``(lag, pending)`` of a consumer group, or None when the stream or group is absent.

    Redis' own ``lag`` can be wrong after a restart from the AOF (it stayed at thousands
    with the stream fully read, seen in the soak) or missing (``nil``) after trimming or
    deletions; when the group has delivered the stream's last entry, nothing waits. When
    Redis cannot say, the entries after the last delivered one are counted (bounded).
    """
    try:
        groups = client.xinfo_groups(stream)
    except Exception:  # no stream yet
        return None
    for g in groups:
        if dec(g.get("name", "")) != group:
            continue
        pending = int(g.get("pending") or 0)
        raw = g.get("lag")
        lag = None if raw is None else int(raw)
        if lag != 0:
            delivered = dec(g.get("last-delivered-id") or b"0-0")
            last = dec(client.xinfo_stream(stream).get("last-generated-id") or b"0-0")
            if delivered == last:
                lag = 0
            elif lag is None:
                lag = len(client.xrange(stream, f"({delivered}", "+", count=100_000))
        return lag, pending
    return None
