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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import orjson
import pandas as pd

from detector.aggregates import (
    ADDITIVE,
    GAP_BINS,
    HOUR_S,
    MINHASH_PERM,
    SKETCHES,
    TOPS,
    AccountState,
    aggregate_tables,
    gap_bins,
)
from detector.sketches import TopK, hash_ints
from service.redis_keys import Keys
from service.stream.redis_hll import merge_redis_hlls
from service.stream.scripts import BUCKET_FIELDS

__all__ = [
    "BatchDeltas",
    "CountedSketch",
    "fold_batch",
    "queue_deltas",
    "read_states",
    "window_hours",
]

_IDX = {name: i for i, name in enumerate(ADDITIVE)}
_U64_MAX = np.iinfo(np.uint64).max
# Sketch name -> (column whose distinct values it counts, column that must also be true).
# Fingerprint columns (uint64) count non-zero values; text columns count non-None ones.
SKETCH_INPUTS: dict[str, tuple[str, str | None]] = {
    "prompt": ("exact_fp", None),
    "skeleton": ("skeleton_fp", None),
    "near_dup": ("nd_key", None),
    "system": ("system_fp", None),
    "ip": ("ip", None),
    "ip_prefix": ("ip_prefix", None),
    "user_agent": ("user_agent", None),
    "api_key": ("api_key", None),
    "end_user": ("end_user", None),
    "cot_end_user": ("end_user", "is_cot"),
    "model": ("model", None),
}
if set(SKETCH_INPUTS) != set(SKETCHES):  # a sketch added to detector.aggregates
    raise ImportError(
        f"service.stream.state_store.SKETCH_INPUTS {sorted(SKETCH_INPUTS)} does not match "
        f"detector.aggregates.SKETCHES {sorted(SKETCHES)}: map the new sketch's input column"
    )
#: Sketches :mod:`detector.linking` merges across a cluster's members: read as registers.
LINK_SKETCHES: tuple[str, ...] = ("prompt", "skeleton")
_TOP_COLUMNS = {
    "ip_prefix": "ip_prefix",
    "user_agent": "user_agent",
    "skeleton": "skeleton_fp",
    "system": "system_fp",
    "model": "model",
}


@dataclass(slots=True)
class BatchDeltas:
    """What one batch adds to each account-hour bucket it touches.

    Attributes
    ----------
    accounts : list of str
        Account of each bucket delta.
    hours : list of int
        Epoch hour (event time) of each bucket delta.
    payloads : list of bytes
        The ``bucket`` script's JSON payload of each delta (see
        :mod:`service.stream.scripts`): link time, first/last time, non-zero increments
        of :data:`~service.stream.scripts.BUCKET_FIELDS`, minute MinHash, distinct values
        for the HyperLogLogs, heavy-hitter counts.
    """

    accounts: list[str]
    hours: list[int]
    payloads: list[bytes]

    def __len__(self) -> int:
        return len(self.payloads)


class _Grouped(NamedTuple):
    """Values of one column split by group: group g owns ``values[bounds[g]:bounds[g+1]]``."""

    bounds: list[int]
    values: list[str]
    counts: list[float]


def _grouped(
    codes: np.ndarray, values: np.ndarray, mask: np.ndarray, n_groups: int, *, tally: bool
) -> _Grouped:
    """Distinct values per group (``tally``: with their counts), as strings, vectorised."""
    sel = np.flatnonzero(mask)
    frame = pd.DataFrame({"g": codes[sel], "v": values[sel]})
    if tally:
        sizes = frame.groupby(["g", "v"], sort=True).size()
        g = sizes.index.get_level_values(0).to_numpy()
        v = sizes.index.get_level_values(1).to_numpy()
        counts = sizes.to_numpy(dtype=np.float64).tolist()
    else:
        frame = frame.drop_duplicates().sort_values("g", kind="stable")
        g = frame["g"].to_numpy()
        v = frame["v"].to_numpy()
        counts = []
    strs = v.astype(str).tolist() if v.dtype != object else [str(x) for x in v.tolist()]
    bounds = np.searchsorted(g, np.arange(n_groups + 1)).tolist()
    return _Grouped(bounds, strs, counts)


def _not_none(values: np.ndarray) -> np.ndarray:
    return np.fromiter((v is not None for v in values), dtype=bool, count=values.size)


def fold_batch(columns: dict[str, np.ndarray]) -> BatchDeltas:
    """Aggregate a batch of events into per account-hour deltas.

    The counters and histograms come from the audit's vectorised
    :func:`detector.aggregates.aggregate_tables`, grouped by (account, event hour)
    instead of account; gaps between an account's consecutive events that fall in
    different hours are added to the later hour; the minute MinHash uses the same
    hash family as :class:`detector.sketches.MinHashSignature`.

    Parameters
    ----------
    columns : dict of numpy.ndarray
        Output of :func:`service.stream.codec.columns_from_rows` (or
        :func:`detector.aggregates.event_columns`).

    Returns
    -------
    BatchDeltas
        One delta per (account, hour) present in the batch.
    """
    ts = columns["ts"]
    if ts.size == 0:
        return BatchDeltas([], [], [])
    acct_codes, accounts = pd.factorize(columns["account_id"], sort=False)
    hours = (ts // HOUR_S).astype(np.int64)
    h0 = int(hours.min())
    span = int(hours.max()) - h0 + 1
    group = acct_codes.astype(np.int64) * span + (hours - h0)
    tab = aggregate_tables({**columns, "account_id": group})
    codes = tab.codes
    n_groups = len(tab.uniques)
    counts = tab.counts
    gap_hist = tab.gap_hist

    # gaps between consecutive events of an account that fall in different hours
    order = np.lexsort((ts, acct_codes))
    a_s, h_s, t_s, c_s = acct_codes[order], hours[order], ts[order], codes[order]
    cross = np.flatnonzero((a_s[1:] == a_s[:-1]) & (h_s[1:] != h_s[:-1]))
    if cross.size:
        gaps = t_s[cross + 1] - t_s[cross]
        gc = c_s[cross + 1]
        np.add.at(counts[:, _IDX["gap_n"]], gc, 1.0)
        np.add.at(counts[:, _IDX["gap_sum"]], gc, gaps)
        np.add.at(counts[:, _IDX["gap_sumsq"]], gc, gaps * gaps)
        np.add.at(gap_hist, (gc, gap_bins(gaps)), 1)
    # each account's first event in the batch links its earliest bucket to the stored last
    first_pos = np.flatnonzero(np.r_[True, a_s[1:] != a_s[:-1]])
    link = dict(zip(c_s[first_pos].tolist(), t_s[first_pos].tolist(), strict=True))

    # minute MinHash per group, vectorised over the batch
    minute_ids = (ts // 60).astype(np.int64)
    sig = np.full((n_groups, MINHASH_PERM), _U64_MAX, dtype=np.uint64)
    for i in range(MINHASH_PERM):
        np.minimum.at(sig[:, i], codes, hash_ints(minute_ids, seed=i))

    hll = []
    for name in SKETCHES:
        col, also = SKETCH_INPUTS[name]
        values = columns[col]
        mask = _not_none(values) if values.dtype == object else values != 0
        if also is not None:
            mask &= columns[also].astype(bool)
        hll.append(_grouped(codes, values, mask, n_groups, tally=False))
    tops = []
    for name in TOPS:
        values = columns[_TOP_COLUMNS[name]]
        mask = _not_none(values) if values.dtype == object else values != 0
        tops.append(_grouped(codes, values, mask, n_groups, tally=True))

    cells = np.hstack([counts, tab.hour_of_day, gap_hist, tab.topic_hist])
    nz_rows, nz_cols = np.nonzero(cells)
    nz_vals = cells[nz_rows, nz_cols].tolist()
    nz_cols_l = nz_cols.tolist()
    bounds = np.searchsorted(nz_rows, np.arange(n_groups + 1)).tolist()
    firsts = tab.first.tolist()
    lasts = tab.last.tolist()
    uniques = tab.uniques.tolist()
    mh_hex = sig.astype(">u8").tobytes().hex()
    mh_len = 16 * MINHASH_PERM
    dumps = orjson.dumps
    out = BatchDeltas([], [], [])
    for g in range(n_groups):
        u = int(uniques[g])
        lf = link.get(g)
        payload = [
            None if lf is None else repr(lf),
            repr(firsts[g]),
            repr(lasts[g]),
            nz_cols_l[bounds[g] : bounds[g + 1]],
            nz_vals[bounds[g] : bounds[g + 1]],
            mh_hex[g * mh_len : (g + 1) * mh_len],
            [h.values[h.bounds[g] : h.bounds[g + 1]] for h in hll],
            [
                [t.values[t.bounds[g] : t.bounds[g + 1]], t.counts[t.bounds[g] : t.bounds[g + 1]]]
                for t in tops
            ],
        ]
        out.accounts.append(str(accounts[u // span]))
        out.hours.append(h0 + u % span)
        out.payloads.append(dumps(payload))
    return out


def queue_deltas(
    pipe: Any, keys: Keys, sha: str, deltas: BatchDeltas, ttl: int, top_keep: int
) -> int:
    """Queue one ``EVALSHA bucket`` per account-hour delta on ``pipe``; returns the count."""
    n_keys = 2 + len(SKETCHES) + len(TOPS)
    for acct, hour, payload in zip(deltas.accounts, deltas.hours, deltas.payloads, strict=True):
        pipe.evalsha(sha, n_keys, *keys.bucket_keys(acct, hour), ttl, top_keep, payload)
    return len(deltas)


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


_CELLS = {name: i for i, name in enumerate(BUCKET_FIELDS)}
_N_ADD = len(ADDITIVE)
_H0 = _N_ADD
_G0 = _H0 + 24
_T0 = _G0 + GAP_BINS


def _state_from(
    buckets: Sequence[tuple[int, dict[bytes, bytes]]],
    counts: Sequence[int],
    tops: Sequence[Sequence[list[tuple[bytes, float]]]] | None,
) -> AccountState:
    st = AccountState()
    n_i, c_i, k_i = _IDX["n"], _IDX["sum_completion_tokens"], _IDX["n_cot"]
    total = np.zeros(len(BUCKET_FIELDS))
    sig = np.full(MINHASH_PERM, _U64_MAX, dtype=np.uint64)
    for hour, fields in buckets:
        if not fields:
            continue
        row = np.zeros(len(BUCKET_FIELDS))
        for raw_name, raw_value in fields.items():
            name = raw_name.decode()
            i = _CELLS.get(name)
            if i is not None:
                row[i] = float(raw_value)
            elif name == "first":
                st.first_ts = min(st.first_ts, float(raw_value))
            elif name == "last":
                st.last_ts = max(st.last_ts, float(raw_value))
            elif name == "mh":
                text = raw_value.decode()
                slots = [int(text[j : j + 16], 16) for j in range(0, 16 * MINHASH_PERM, 16)]
                np.minimum(sig, np.array(slots, dtype=np.uint64), out=sig)
        total += row
        if row[n_i] > 0:
            st.hourly[hour] = np.array([row[n_i], row[c_i], row[k_i]], dtype=np.float64)
    st.counts = total[:_N_ADD].copy()
    st.hour_of_day = np.rint(total[_H0:_G0]).astype(np.int64)
    st.gap_hist = np.rint(total[_G0:_T0]).astype(np.int64)
    st.topic_hist = np.rint(total[_T0:]).astype(np.int64)
    st.minutes.values = sig
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
        Also read the heavy hitters, and the registers of the sketches account linking
        merges across accounts (:data:`LINK_SKETCHES`), for :mod:`detector.linking`.
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
                for name in LINK_SKETCHES:
                    for h in hours:
                        pipe.get(keys.hll(acct, h, name))
        res = pipe.execute()
        pos = 0
        nh = len(hours)
        for acct in part:
            buckets = list(zip(hours, res[pos : pos + nh], strict=True))
            pos += nh
            counts = res[pos : pos + len(SKETCHES)]
            pos += len(SKETCHES)
            tops = None
            blobs: list[list[bytes | None]] = []
            if with_links:
                tops = [res[pos + t * nh : pos + (t + 1) * nh] for t in range(len(TOPS))]
                pos += len(TOPS) * nh
                blobs = [res[pos + t * nh : pos + (t + 1) * nh] for t in range(len(LINK_SKETCHES))]
                pos += len(LINK_SKETCHES) * nh
            if not any(fields for _, fields in buckets):
                continue
            st = _state_from(buckets, counts, tops)
            for name, per_hour in zip(LINK_SKETCHES, blobs, strict=False):
                st.sketches[name] = merge_redis_hlls(per_hour)
            if st.get("n") > 0 and math.isfinite(st.first_ts):
                out[acct] = st
    return out
