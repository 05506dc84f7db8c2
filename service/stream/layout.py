"""The partitioned layout at run time: a recorded partition count, population-wide reads.

Each partition has its own events stream, consumer group, dirty and accounts sets, clock,
counters and dead letters (:class:`service.redis_keys.PartitionKeys`). The functions here
read them as one: the stream clock is the maximum of the partitions' clocks, the
counters and lags are sums, the population is the union of the accounts sets.
"""

from __future__ import annotations

from typing import Any

import orjson

from service.redis_keys import Keys
from service.redis_values import text

__all__ = [
    "LayoutMismatch",
    "active_accounts",
    "check_layout",
    "group_lag_total",
    "pipeline_stats",
    "stream_clock",
    "stream_lengths",
]


class LayoutMismatch(RuntimeError):
    """The data in Redis was written with another partition count."""


def check_layout(client: Any, keys: Keys) -> None:
    """Record the partition count on first use; refuse another one afterwards.

    Raises
    ------
    LayoutMismatch
        When ``dw:layout`` records a different ``partitions`` (events would be read from
        the wrong streams and accounts looked up in the wrong partition).
    """
    mine = orjson.dumps({"partitions": keys.partitions})
    client.set(keys.layout, mine, nx=True)
    raw = client.get(keys.layout)
    if raw is None:
        return
    theirs = orjson.loads(raw).get("partitions")
    if theirs != keys.partitions:
        raise LayoutMismatch(
            f"Redis holds data written with {theirs} partition(s) under prefix "
            f"{keys.prefix!r}, this process uses {keys.partitions}: set "
            f"DISTILLWATCH_PARTITIONS={theirs} (changing it needs a new prefix and a replay)"
        )


def stream_clock(client: Any, keys: Keys) -> float | None:
    """The largest event time the workers processed (the window's end), or None."""
    pipe = client.pipeline(transaction=False)
    for part in keys.parts():
        pipe.get(part.clock)
    got = [float(v) for v in pipe.execute() if v is not None]
    return max(got) if got else None


def active_accounts(client: Any, keys: Keys, limit: int | None = None) -> list[str]:
    """Accounts with window state, most recently active first (every partition)."""
    end = -1 if limit is None else limit - 1
    pipe = client.pipeline(transaction=False)
    for part in keys.parts():
        pipe.zrevrange(part.accounts, 0, end, withscores=True)
    rows = [(text(a), float(t)) for got in pipe.execute() for a, t in got]
    rows.sort(key=lambda r: r[1], reverse=True)
    if limit is not None:
        rows = rows[:limit]
    return [a for a, _ in rows]


def pipeline_stats(client: Any, keys: Keys) -> dict[str, str]:
    """The pipeline counters: ingest's (``dw:stats``) plus every partition's workers'
    (``processed``, ``deadlettered``), summed; other fields as stored."""
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.stats)
    for part in keys.parts():
        pipe.hgetall(part.stats)
    out: dict[str, str] = {}
    for got in pipe.execute():
        for k, v in got.items():
            name, value = text(k), text(v)
            if name in out and name in _SUMMED:
                out[name] = str(int(out[name]) + int(value))
            else:
                out[name] = value
    return out


#: counters that several partitions (or ingest and a partition) both hold
_SUMMED = frozenset({"processed", "deadlettered"})


def stream_lengths(client: Any, keys: Keys) -> dict[str, int]:
    """``XLEN`` of the events and dead-letter streams, summed over partitions."""
    pipe = client.pipeline(transaction=False)
    for part in keys.parts():
        pipe.xlen(part.events)
        pipe.xlen(part.deadletter)
    got = pipe.execute()
    return {"events": sum(got[0::2]), "deadletter": sum(got[1::2])}


def group_lag_total(client: Any, keys: Keys, group: str) -> tuple[int, int] | None:
    """``(lag, pending)`` of the workers' group summed over partitions; None while no
    partition has its stream and group yet (:func:`service.store.common.group_lag`)."""
    from service.store.common import group_lag

    got = [g for g in (group_lag(client, p.events, group) for p in keys.parts()) if g]
    if not got:
        return None
    return sum(g[0] for g in got), sum(g[1] for g in got)
