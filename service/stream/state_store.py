"""Per-account window state in Redis: fold a batch into hour-bucket deltas, read it back.

Writing: :func:`fold_batch` runs the audit's vectorised
:func:`detector.aggregates.aggregate_events` on a batch of stream rows grouped by
(account, event hour), adds the inter-arrival gaps that cross hour buckets inside the
batch, and collects the distinct values for Redis' HyperLogLogs and the heavy-hitter
counts; :func:`queue_deltas` turns that into one ``EVALSHA`` per account-hour (the
``bucket`` script in :mod:`service.stream.scripts`).

Reading: :func:`read_states` merges the last W hour buckets of each account back into a
:class:`detector.aggregates.AccountState`: counters and histograms are summed, the
distinct counts are Redis' own ``PFCOUNT`` over the bucket HLLs (which merges them), so
:func:`detector.features.features_from_state` stays the single feature function.

Gap semantics match :meth:`AccountState.merge`: gaps between consecutive events of an
account, the one that links a batch to the previous one counted only when the batch
starts after the stored last event time (the script does that atomically).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from detector.aggregates import (
    ADDITIVE,
    GAP_BINS,
    HOUR_S,
    MINHASH_PERM,
    N_TOPICS,
    SKETCHES,
    TOPS,
    AccountState,
    _add_gaps,
    aggregate_events,
)
from detector.sketches import MinHashSignature, TopK
from service.redis_keys import Keys

__all__ = [
    "BucketDelta",
    "CountedSketch",
    "fold_batch",
    "queue_deltas",
    "read_states",
    "window_hours",
]

_ADD_NAMES = list(ADDITIVE)
_U64_MAX = np.iinfo(np.uint64).max
_FP_SKETCHES = {"prompt": "exact_fp", "skeleton": "skeleton_fp", "near_dup": "nd_key"}
_FP_SKETCHES["system"] = "system_fp"
_STR_SKETCHES = ("ip", "ip_prefix", "user_agent", "api_key", "end_user", "model")
_TOP_COLUMNS = {
    "ip_prefix": "ip_prefix",
    "user_agent": "user_agent",
    "skeleton": "skeleton_fp",
    "system": "system_fp",
    "model": "model",
}


@dataclass(slots=True)
class BucketDelta:
    """What one batch adds to one account-hour bucket.

    Attributes
    ----------
    account_id : str
        The account.
    hour : int
        Epoch hour of the bucket (event time).
    fields : list of (str, float)
        Non-zero increments of the bucket hash (counters, ``h*`` hour-of-day, ``g*`` gap,
        ``t*`` topic histogram cells).
    first_ts, last_ts : float
        Time of the first and last event of the batch in this bucket.
    link_first_ts : float or None
        Set on the account's earliest bucket of the batch: its first event time, to link
        it to the previous batch with one more gap.
    minhash : list of str
        Minute MinHash slots as 16 hex digits (empty when nothing was added).
    hll : dict
        Sketch name -> distinct values (strings) to ``PFADD``.
    tops : dict
        Heavy-hitter name -> {value: count}.
    """

    account_id: str
    hour: int
    fields: list[tuple[str, float]]
    first_ts: float
    last_ts: float
    link_first_ts: float | None
    minhash: list[str]
    hll: dict[str, list[str]]
    tops: dict[str, dict[str, float]]


def _state_fields(st: AccountState) -> list[tuple[str, float]]:
    out = [(_ADD_NAMES[i], float(v)) for i in np.flatnonzero(st.counts) for v in (st.counts[i],)]
    out += [(f"h{i}", float(st.hour_of_day[i])) for i in np.flatnonzero(st.hour_of_day)]
    out += [(f"g{i}", float(st.gap_hist[i])) for i in np.flatnonzero(st.gap_hist)]
    out += [(f"t{i}", float(st.topic_hist[i])) for i in np.flatnonzero(st.topic_hist)]
    return out


def _distinct_by_group(
    codes: np.ndarray, values: np.ndarray, mask: np.ndarray, as_int: bool
) -> dict[int, list[str]]:
    if not mask.any():
        return {}
    frame = pd.DataFrame({"g": codes[mask], "v": values[mask]}).drop_duplicates()
    out: dict[int, list[str]] = {}
    vals = frame["v"].to_numpy()
    for g, v in zip(frame["g"].to_numpy().tolist(), vals.tolist(), strict=True):
        out.setdefault(g, []).append(str(int(v)) if as_int else v)
    return out


def _counts_by_group(
    codes: np.ndarray, values: np.ndarray, mask: np.ndarray, as_int: bool
) -> dict[int, dict[str, float]]:
    if not mask.any():
        return {}
    frame = pd.DataFrame({"g": codes[mask], "v": values[mask]})
    counts = frame.groupby(["g", "v"], sort=False).size()
    out: dict[int, dict[str, float]] = {}
    for (g, v), c in counts.items():
        out.setdefault(int(g), {})[str(int(v)) if as_int else str(v)] = float(c)
    return out


def fold_batch(columns: dict[str, np.ndarray]) -> list[BucketDelta]:
    """Aggregate a batch of events into per account-hour deltas.

    Parameters
    ----------
    columns : dict of numpy.ndarray
        Output of :func:`service.stream.codec.columns_from_rows` (or
        :func:`detector.aggregates.event_columns`).

    Returns
    -------
    list of BucketDelta
        One per (account, hour) present in the batch, accounts' buckets in time order.
    """
    ts = columns["ts"]
    if ts.size == 0:
        return []
    acct_codes, accounts = pd.factorize(columns["account_id"], sort=False)
    hours = (ts // HOUR_S).astype(np.int64)
    h0 = int(hours.min())
    span = int(hours.max()) - h0 + 1
    group = acct_codes.astype(np.int64) * span + (hours - h0)
    # the audit's aggregator, keyed by (account, hour) instead of account
    states = aggregate_events(columns={**columns, "account_id": group})
    # uniques of pd.factorize on ints come back keyed by str(int)
    codes, uniques = pd.factorize(group, sort=False)
    g_state = [states[str(int(u))] for u in uniques]

    # gaps between consecutive events of an account that fall in different hours
    order = np.lexsort((ts, acct_codes))
    a_s, h_s, t_s, c_s = acct_codes[order], hours[order], ts[order], codes[order]
    cross = np.flatnonzero((a_s[1:] == a_s[:-1]) & (h_s[1:] != h_s[:-1]))
    for j in cross:
        _add_gaps(g_state[c_s[j + 1]], np.array([t_s[j + 1] - t_s[j]]))
    # the account's first event of the batch (its earliest bucket links to the stored last)
    first_pos = np.flatnonzero(np.r_[True, a_s[1:] != a_s[:-1]])
    link = {int(c_s[p]): float(t_s[p]) for p in first_pos}

    hll: dict[str, dict[int, list[str]]] = {}
    for name, col in _FP_SKETCHES.items():
        values = columns[col]
        hll[name] = _distinct_by_group(codes, values, values != 0, as_int=True)
    for name in _STR_SKETCHES:
        values = columns[name]
        mask = np.fromiter((v is not None for v in values), dtype=bool, count=values.size)
        hll[name] = _distinct_by_group(codes, values, mask, as_int=False)
    tops: dict[str, dict[int, dict[str, float]]] = {}
    for name, col in _TOP_COLUMNS.items():
        values = columns[col]
        if values.dtype == object:
            mask = np.fromiter((v is not None for v in values), dtype=bool, count=values.size)
            tops[name] = _counts_by_group(codes, values, mask, as_int=False)
        else:
            tops[name] = _counts_by_group(codes, values, values != 0, as_int=True)

    deltas = []
    for g in np.argsort(uniques, kind="stable"):  # account-major, hours ascending
        g = int(g)
        st = g_state[g]
        u = int(uniques[g])
        mh = st.minutes.values
        deltas.append(
            BucketDelta(
                account_id=str(accounts[u // span]),
                hour=h0 + u % span,
                fields=_state_fields(st),
                first_ts=float(st.first_ts),
                last_ts=float(st.last_ts),
                link_first_ts=link.get(g),
                minhash=[] if (mh == _U64_MAX).all() else [f"{int(v):016x}" for v in mh],
                hll={name: per.get(g, []) for name, per in hll.items()},
                tops={name: per.get(g, {}) for name, per in tops.items()},
            )
        )
    return deltas


def _fmt(x: float) -> str:
    return repr(float(x))


def delta_args(delta: BucketDelta, ttl: int, top_keep: int) -> list[Any]:
    """ARGV of the ``bucket`` script for one delta (see :mod:`service.stream.scripts`)."""
    args: list[Any] = [
        ttl,
        "" if delta.link_first_ts is None else _fmt(delta.link_first_ts),
        _fmt(delta.first_ts),
        _fmt(delta.last_ts),
        top_keep,
        len(delta.fields),
    ]
    for name, value in delta.fields:
        args.append(name)
        args.append(_fmt(value))
    args.append(len(delta.minhash))
    args.extend(delta.minhash)
    for name in SKETCHES:
        items = delta.hll.get(name, [])
        args.append(len(items))
        args.extend(items)
    for name in TOPS:
        counts = delta.tops.get(name, {})
        args.append(len(counts))
        for value, count in counts.items():
            args.append(value)
            args.append(_fmt(count))
    return args


def queue_deltas(
    pipe: Any, keys: Keys, sha: str, deltas: Iterable[BucketDelta], ttl: int, top_keep: int
) -> int:
    """Queue one ``EVALSHA bucket`` per delta on ``pipe``; returns how many were queued."""
    n = 0
    for d in deltas:
        pipe.evalsha(
            sha,
            3 + len(SKETCHES) + len(TOPS),
            *keys.bucket_keys(d.account_id, d.hour),
            *delta_args(d, ttl, top_keep),
        )
        n += 1
    return n


# ------------------------------------------------------------------------------- reading


class CountedSketch:
    """A distinct count read from Redis (``PFCOUNT``), standing in for a HyperLogLog.

    :func:`detector.features.features_from_state` only asks sketches for ``count()``.

    Parameters
    ----------
    value : float
        The estimate.
    """

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = float(value)

    def count(self) -> float:
        """The distinct-count estimate."""
        return self.value

    @property
    def is_exact(self) -> bool:
        """Redis' HLL is always an estimate."""
        return False

    def nbytes(self) -> int:
        """Nothing held locally."""
        return 0

    def merge(self, other: Any) -> CountedSketch:
        """Counts read from Redis cannot be merged locally: merge the buckets in Redis."""
        raise TypeError("merge Redis HyperLogLogs with PFCOUNT / PFMERGE, not locally")


def window_hours(as_of: float, window: int) -> list[int]:
    """Epoch hours of the window of ``window`` hours ending with the hour of ``as_of``."""
    end = int(as_of // HOUR_S)
    return list(range(end - window + 1, end + 1))


def _state_from(
    buckets: Sequence[tuple[int, dict[bytes, bytes]]],
    counts: Sequence[int],
    tops: Sequence[Sequence[list[tuple[bytes, float]]]] | None,
    minutes: Sequence[dict[bytes, bytes]] | None,
) -> AccountState:
    st = AccountState()
    idx = {name: i for i, name in enumerate(ADDITIVE)}
    n_i, c_i, k_i = idx["n"], idx["sum_completion_tokens"], idx["n_cot"]
    for hour, fields in buckets:
        if not fields:
            continue
        row = np.zeros(len(ADDITIVE))
        for raw_name, raw_value in fields.items():
            name = raw_name.decode()
            value = float(raw_value)
            i = idx.get(name)
            if i is not None:
                row[i] += value
            elif name == "first":
                st.first_ts = min(st.first_ts, value)
            elif name == "last":
                st.last_ts = max(st.last_ts, value)
            elif name[0] == "h":
                st.hour_of_day[int(name[1:])] += round(value)
            elif name[0] == "g" and name[1:].isdigit() and int(name[1:]) < GAP_BINS:
                st.gap_hist[int(name[1:])] += round(value)
            elif name[0] == "t" and name[1:].isdigit() and int(name[1:]) < N_TOPICS:
                st.topic_hist[int(name[1:])] += round(value)
        st.counts += row
        if row[n_i] > 0:
            st.hourly[hour] = np.array([row[n_i], row[c_i], row[k_i]], dtype=np.float64)
    for name, value in zip(SKETCHES, counts, strict=True):
        st.sketches[name] = CountedSketch(value)  # type: ignore[assignment]
    if tops is not None:
        for t, name in enumerate(TOPS):
            merged: dict[object, float] = {}
            for per_hour in tops[t]:
                for member, score in per_hour:
                    key = member.decode()
                    merged[key] = merged.get(key, 0.0) + float(score)
            st.tops[name] = TopK().update(merged)
    if minutes is not None:
        sig = MinHashSignature(MINHASH_PERM)
        for per_hour in minutes:
            for slot, value in per_hour.items():
                s = int(slot)
                v = np.uint64(int(value, 16))
                if s < MINHASH_PERM and v < sig.values[s]:
                    sig.values[s] = v
        st.minutes = sig
    return st


def read_states(
    client: Any,
    keys: Keys,
    accounts: Sequence[str],
    hours: Sequence[int],
    *,
    with_links: bool = False,
    chunk: int = 200,
) -> dict[str, AccountState]:
    """Rebuild accounts' window state from their hour buckets in Redis.

    Parameters
    ----------
    client : redis.Redis
        Connection.
    keys : Keys
        Key names.
    accounts : sequence of str
        Accounts to read.
    hours : sequence of int
        Epoch hours of the window (see :func:`window_hours`).
    with_links : bool
        Also read heavy hitters and the minute MinHash (for account linking).
    chunk : int
        Accounts per pipeline round trip.

    Returns
    -------
    dict
        account id -> state; accounts with no event in the window are left out.
    """
    out: dict[str, AccountState] = {}
    hours = list(hours)
    for start in range(0, len(accounts), chunk):
        part = accounts[start : start + chunk]
        pipe = client.pipeline(transaction=False)
        for acct in part:
            for h in hours:
                pipe.hgetall(keys.bucket(acct, h))
            for name in SKETCHES:
                pipe.pfcount(*(keys.hll(acct, h, name) for h in hours))
            if with_links:
                for name in TOPS:
                    for h in hours:
                        pipe.zrange(keys.top(acct, h, name), 0, -1, withscores=True)
                for h in hours:
                    pipe.hgetall(keys.minhash(acct, h))
        res = pipe.execute()
        pos = 0
        nh = len(hours)
        for acct in part:
            buckets = list(zip(hours, res[pos : pos + nh], strict=True))
            pos += nh
            counts = res[pos : pos + len(SKETCHES)]
            pos += len(SKETCHES)
            tops = minutes = None
            if with_links:
                tops = [res[pos + t * nh : pos + (t + 1) * nh] for t in range(len(TOPS))]
                pos += len(TOPS) * nh
                minutes = res[pos : pos + nh]
                pos += nh
            if not any(fields for _, fields in buckets):
                continue
            st = _state_from(buckets, counts, tops, minutes)
            if st.get("n") > 0 and math.isfinite(st.first_ts):
                out[acct] = st
    return out
