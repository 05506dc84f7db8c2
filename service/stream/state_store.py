"""Per-account window state in Redis: fold a batch into hour-bucket records, read it back.

Layout: one Redis string per account and event hour, ``dw:{pN}:a:<acct>:r:<hour>``
(:meth:`service.redis_keys.Keys.bucket`), holding a concatenation of binary *records*.
A worker never reads a bucket to update it: each batch ``APPEND`` s one record per
account-hour it touches (the ``append`` script of :mod:`service.stream.scripts`, one
call per batch, inside the batch's MULTI/EXEC), so there is nothing to retry or to
conflict on between workers, and Redis does two cheap commands per account-hour.
Buckets that grow past a few KB (dense accounts touched by many batches) are
*compacted*: read, merged into one record and written back under ``WATCH``
(:func:`compact_buckets`; merging is what the reader does anyway, so a compaction that
loses a race is simply skipped).

A record (little-endian) is::

    u32 length   u16 n_cells   u8 version   u8 flags   f64 first   f64 last
    u64 active minutes of the hour (bit m = minute m)
    u8[n_cells] cell index    f64[n_cells] value        (non-zero cells of CELLS)
    u16[len(SKETCHES)] sketch codes, then each sketch's data:
        code < 0x8000   that many sorted distinct uint64 hashes (exact set)
        0x8000 | k      k HyperLogLog registers: u16[k] index, u8[k] value
        0xFFFF          all 2**p registers, u8 each
    rest: orjson [[top family index], [value], [count], {model: first ts}] (heavy
        hitters, then each model's first event time in the record; absent if none; the
        model map is optional, records written before it have three lists)

The sketches hold exactly what :class:`detector.sketches.HyperLogLog` holds for the same
values (the audit's hash functions, exact up to ``sparse_max`` distinct items, then
p=12 registers), so a window read back from Redis has the *same* sketches as the batch
audit over the same events, and account linking gets its exact small sets and register
arrays. ``CELLS`` are the additive counters of :data:`detector.aggregates.ADDITIVE` plus
the gap and topic histograms; the hour-of-day histogram and the hourly activity rows
follow from the bucket's hour and are not stored. The minute MinHash is computed at
read time from the union of active minutes (exactly the audit's signature).

Reading: :func:`read_states` merges the records of the last W hour buckets of each
account into a :class:`detector.aggregates.AccountState` (one ``MGET`` per account),
so :func:`detector.features.features_from_state` stays the single feature function.

Gap semantics match :meth:`AccountState.merge`: a record stores the gaps between its own
events; the gap between two records (different batches or different hours) is added
when the records are merged, in time order, if the later one starts after everything
before it ended. So the inter-arrival gaps of a window are those between its own events,
whatever order batches were committed in; records that overlap in time (events of one
account interleaved across concurrently committed batches) drop the gaps at their edges,
as the audit does for overlapping file chunks.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import orjson
import pandas as pd
import redis

from detector.aggregates import (
    ADDITIVE,
    GAP_BINS,
    HOUR_S,
    N_TOPICS,
    SKETCHES,
    TOPS,
    AccountState,
    aggregate_tables,
    gap_bins,
)
from detector.sketches import HyperLogLog, TopK, hash_unique_strings
from service.redis_keys import Keys
from service.stream.scripts import BUCKET_APPEND, run_script

__all__ = [
    "CELLS",
    "BatchDeltas",
    "compact_buckets",
    "fold_batch",
    "merge_records",
    "parse_records",
    "queue_deltas",
    "read_states",
    "window_hours",
]

#: Additive cells of a record: the counters of ADDITIVE, then the gap and topic histograms.
CELLS: tuple[str, ...] = (
    *ADDITIVE,
    *(f"g{i}" for i in range(GAP_BINS)),
    *(f"t{i}" for i in range(N_TOPICS)),
)
_IDX = {name: i for i, name in enumerate(ADDITIVE)}
_N_ADD = len(ADDITIVE)
_G0 = _N_ADD
_T0 = _G0 + GAP_BINS
_N_CELLS = len(CELLS)
_GAP_N, _GAP_SUM, _GAP_SQ = _IDX["gap_n"], _IDX["gap_sum"], _IDX["gap_sumsq"]
_HOURLY = np.array([_IDX["n"], _IDX["sum_completion_tokens"], _IDX["n_cot"]])

RECORD_VERSION = 1
_HDR = struct.Struct("<IHBBddQ")
_SKETCH_NAMES: tuple[str, ...] = tuple(SKETCHES)
_TOP_NAMES: tuple[str, ...] = tuple(TOPS)
_NSK = len(_SKETCH_NAMES)
_SKC = struct.Struct(f"<{_NSK}H")
_EXACT_MAX = 0x7FFF
_REGS = 0x8000
_RAW = 0xFFFF
_U8 = np.dtype(np.uint8)
_U16 = np.dtype("<u2")
_U64 = np.dtype("<u8")
_F64 = np.dtype("<f8")
_ONE = np.uint64(1)

# The sketches must be the ones AccountState holds, so streaming and batch agree exactly.
_PROTO = AccountState().sketches[_SKETCH_NAMES[0]]
HLL_P: int = _PROTO.p
HLL_SPARSE_MAX: int = _PROTO.sparse_max
_M = 1 << HLL_P
if _M >= _REGS:  # register indexes must fit the 15 bits of a sketch code
    raise ImportError(f"HyperLogLog precision {HLL_P} is too large for the record format")

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
_TOP_COLUMNS = {
    "ip_prefix": "ip_prefix",
    "user_agent": "user_agent",
    "skeleton": "skeleton_fp",
    "system": "system_fp",
    "model": "model",
}
if set(_TOP_COLUMNS) != set(TOPS):
    raise ImportError("service.stream.state_store._TOP_COLUMNS does not match TOPS")


@dataclass(slots=True)
class BatchDeltas:
    """What one batch appends to each account-hour bucket it touches.

    Attributes
    ----------
    accounts : list of str
        Account of each bucket record.
    hours : list of int
        Epoch hour (event time) of each bucket record.
    payloads : list of bytes
        The binary record of each bucket (see the module docstring).
    """

    accounts: list[str]
    hours: list[int]
    payloads: list[bytes]

    def __len__(self) -> int:
        return len(self.payloads)


class _Hashed(NamedTuple):
    """A sketch input column hashed like the audit hashes it."""

    hashes: np.ndarray  # uint64 per event (0 where absent)
    mask: np.ndarray  # value present
    unique_hashes: np.ndarray | None  # text columns: hash of each distinct value...
    uniques: np.ndarray | None  # ...and the values (to name heavy hitters)


def _column_hashes(values: np.ndarray) -> _Hashed:
    """Fingerprint columns (uint64) are their own hashes (0 = absent); text columns are
    hashed as :func:`detector.sketches.hash_strings` hashes them, once per distinct value."""
    if values.dtype != object:
        return _Hashed(values.astype(np.uint64, copy=False), values != 0, None, None)
    codes, uniques = pd.factorize(values, sort=False)  # None -> -1
    mask = codes >= 0
    uniques = np.asarray(uniques, dtype=object)
    unique_hashes = hash_unique_strings(uniques)  # = hash_strings(uniques), minus factorize
    hashes = np.where(mask, unique_hashes[codes] if uniques.size else 0, 0).astype(np.uint64)
    return _Hashed(hashes, mask, unique_hashes, uniques)


def _registers(hashes: np.ndarray) -> np.ndarray:
    """The HyperLogLog registers of ``hashes`` (as the audit's sketch computes them)."""
    hll = HyperLogLog.from_registers(np.zeros(_M, dtype=np.uint8), HLL_P, 0, copy=False)
    return hll.add_hashes(hashes).registers()


def _sketch_part(exact: np.ndarray | None, regs: np.ndarray | None) -> tuple[int, bytes]:
    """Code and bytes of one sketch: an exact sorted hash set, or registers."""
    if regs is None:
        assert exact is not None
        if exact.size <= min(HLL_SPARSE_MAX, _EXACT_MAX):
            return int(exact.size), exact.astype(_U64, copy=False).tobytes()
        regs = _registers(exact)
    nz = np.flatnonzero(regs)
    if 3 * nz.size < _M:
        return _REGS | int(nz.size), nz.astype(_U16).tobytes() + regs[nz].tobytes()
    return _RAW, regs.astype(np.uint8, copy=False).tobytes()


def fold_batch(columns: dict[str, np.ndarray], *, top_keep: int = 32) -> BatchDeltas:
    """Aggregate a batch of events into one record per account-hour.

    The counters and histograms come from the audit's vectorised
    :func:`detector.aggregates.aggregate_tables`, grouped by (account, event hour)
    instead of account; the distinct values of each sketch are hashed with the audit's
    functions and stored exactly (registers past ``HLL_SPARSE_MAX`` are built when
    buckets are compacted or read); heavy hitters are value counts per bucket.

    Parameters
    ----------
    columns : dict of numpy.ndarray
        Output of :func:`service.stream.codec.columns_from_rows` (or
        :func:`detector.aggregates.event_columns`).
    top_keep : int
        Heavy hitters kept per family and bucket once a bucket holds more than twice
        as many distinct values.

    Returns
    -------
    BatchDeltas
        One record per (account, hour) present in the batch.
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
    codes = np.asarray(tab.codes, dtype=np.int64)
    n_groups = len(tab.uniques)

    # active minutes of the hour, as a 60-bit mask per bucket
    minute = ((ts // 60).astype(np.int64) - hours * 60).astype(np.uint64)
    bitmap = np.zeros(n_groups, dtype=np.uint64)
    np.bitwise_or.at(bitmap, codes, np.left_shift(_ONE, minute))

    # distinct (bucket, sketch, hash) triples, sorted: one slice of bytes per bucket
    hashed: dict[str, _Hashed] = {}
    gs, ss, hs = [], [], []
    for si, name in enumerate(_SKETCH_NAMES):
        col, also = SKETCH_INPUTS[name]
        if col not in hashed:
            hashed[col] = _column_hashes(columns[col])
        mask = hashed[col].mask
        if also is not None:
            mask = mask & np.asarray(columns[also], dtype=bool)
        sel = np.flatnonzero(mask)
        gs.append(codes[sel])
        ss.append(np.full(sel.size, si, dtype=np.int64))
        hs.append(hashed[col].hashes[sel])
    g_all, s_all, h_all = np.concatenate(gs), np.concatenate(ss), np.concatenate(hs)
    order = np.lexsort((h_all, s_all, g_all))
    g_all, s_all, h_all = g_all[order], s_all[order], h_all[order]
    new = np.ones(g_all.size, dtype=bool)
    new[1:] = (g_all[1:] != g_all[:-1]) | (s_all[1:] != s_all[:-1]) | (h_all[1:] != h_all[:-1])
    starts = np.flatnonzero(new)
    tally = np.diff(np.r_[starts, g_all.size])  # events per distinct triple
    g_all, s_all, h_all = g_all[starts], s_all[starts], h_all[starts]
    sk_counts = np.bincount(g_all * _NSK + s_all, minlength=n_groups * _NSK)
    sk_counts = sk_counts.reshape(n_groups, _NSK)
    big = set(np.flatnonzero((sk_counts > HLL_SPARSE_MAX).any(axis=1)).tolist())
    sk_code_b = sk_counts.astype(_U16).tobytes()
    sk_hash_b = h_all.astype(_U64).tobytes()
    sk_bounds = np.searchsorted(g_all, np.arange(n_groups + 1)).tolist()

    model_first = _fold_model_first(codes, ts, hashed[_TOP_COLUMNS["model"]], n_groups)
    tops_json = _fold_tops(g_all, s_all, h_all, tally, hashed, n_groups, top_keep, model_first)

    cells = np.hstack([tab.counts, tab.gap_hist, tab.topic_hist])
    nz_rows, nz_cols = np.nonzero(cells)
    cell_idx_b = nz_cols.astype(_U8).tobytes()
    cell_val_b = cells[nz_rows, nz_cols].astype(_F64).tobytes()
    c_bounds = np.searchsorted(nz_rows, np.arange(n_groups + 1)).tolist()
    firsts = tab.first.tolist()
    lasts = tab.last.tolist()
    bits = bitmap.tolist()
    uniques = tab.uniques.tolist()
    acct_names = [str(a) for a in accounts]
    pack = _HDR.pack
    base = _HDR.size + _SKC.size
    csz = 2 * _NSK
    out = BatchDeltas([], [], [])
    for g in range(n_groups):
        a, b = c_bounds[g], c_bounds[g + 1]
        ha, hb = sk_bounds[g], sk_bounds[g + 1]
        tj = tops_json[g]
        if g in big:
            sk = _big_sketches(s_all[ha:hb], h_all[ha:hb])
        else:
            sk = sk_code_b[csz * g : csz * (g + 1)] + sk_hash_b[8 * ha : 8 * hb]
        head = pack(base - _SKC.size + 9 * (b - a) + len(sk) + len(tj), b - a,
                    RECORD_VERSION, 0, firsts[g], lasts[g], bits[g])  # fmt: skip
        out.payloads.append(b"".join((head, cell_idx_b[a:b], cell_val_b[8 * a : 8 * b], sk, tj)))
        u = int(uniques[g])
        out.accounts.append(acct_names[u // span])
        out.hours.append(h0 + u % span)
    return out


def _big_sketches(sketch_ids: np.ndarray, hashes: np.ndarray) -> bytes:
    """Sketch section of a bucket with a set too large to keep exact."""
    codes = []
    parts = []
    for si in range(_NSK):
        code, data = _sketch_part(hashes[sketch_ids == si], None)
        codes.append(code)
        parts.append(data)
    return _SKC.pack(*codes) + b"".join(parts)


def _fold_model_first(
    codes: np.ndarray, ts: np.ndarray, model: _Hashed, n_groups: int
) -> list[dict[str, float] | None]:
    """First event time of each model in each bucket (``None`` where no model is named),
    as :func:`detector.aggregates.aggregate_tables` builds ``model_first``."""
    out: list[dict[str, float] | None] = [None] * n_groups
    sel = np.flatnonzero(model.mask)
    if not sel.size or model.uniques is None:
        return out
    g, h, t = codes[sel], model.hashes[sel], np.asarray(ts, dtype=np.float64)[sel]
    order = np.lexsort((t, h, g))
    g, h, t = g[order], h[order], t[order]
    starts = np.flatnonzero(np.r_[True, (g[1:] != g[:-1]) | (h[1:] != h[:-1])])
    g, h, t = g[starts], h[starts], t[starts]  # earliest event of each (bucket, model)
    by_hash = np.argsort(model.unique_hashes)  # type: ignore[arg-type]
    pos = np.searchsorted(model.unique_hashes, h, sorter=by_hash)  # type: ignore[arg-type]
    names = [str(v) for v in model.uniques[by_hash[pos]].tolist()]
    for grp, name, first in zip(g.tolist(), names, t.tolist(), strict=True):
        d = out[grp]
        if d is None:
            d = out[grp] = {}
        d[name] = first
    return out


def _fold_tops(
    g_all: np.ndarray,
    s_all: np.ndarray,
    h_all: np.ndarray,
    tally: np.ndarray,
    hashed: dict[str, _Hashed],
    n_groups: int,
    top_keep: int,
    model_first: list[dict[str, float] | None],
) -> list[bytes]:
    """Heavy-hitter section of each bucket's record (b"" when it has none).

    A heavy-hitter family counts the same column as the sketch of the same name, so its
    value counts are the tallies of that sketch's (bucket, hash) triples. A bucket's
    ``model_first`` map (all its models, never cut to ``top_keep``) is the fourth item.
    """
    gs, fs, vs, cs = [], [], [], []
    for fi, name in enumerate(_TOP_NAMES):
        sel = np.flatnonzero(s_all == _SKETCH_NAMES.index(name))
        if not sel.size:
            continue
        h = hashed[_TOP_COLUMNS[name]]
        if h.uniques is None:  # fingerprints: the value is the hash
            names = h_all[sel].astype(str).tolist()
        else:
            by_hash = np.argsort(h.unique_hashes)  # type: ignore[arg-type]
            pos = np.searchsorted(h.unique_hashes, h_all[sel], sorter=by_hash)  # type: ignore[arg-type]
            names = h.uniques[by_hash[pos]].tolist()
        gs.append(g_all[sel])
        fs.append(np.full(sel.size, fi, dtype=np.int64))
        vs.extend(names)
        cs.append(tally[sel])
    out = [b""] * n_groups
    dumps = orjson.dumps
    if not gs:
        for grp, mf in enumerate(model_first):
            if mf:
                out[grp] = dumps([[], [], [], mf])
        return out
    g, f, c = np.concatenate(gs), np.concatenate(fs), np.concatenate(cs)
    order = np.lexsort((-c, f, g))
    g, f, c = g[order], f[order], c[order]
    # a bucket keeps the top_keep largest of a family that has more than 2 * top_keep
    pair = g * len(_TOP_NAMES) + f
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    sizes = np.diff(np.r_[starts, pair.size])
    rank = np.arange(pair.size) - np.repeat(starts, sizes)
    keep = (np.repeat(sizes, sizes) <= 2 * top_keep) | (rank < top_keep)
    if not keep.all():
        order, g, f, c = order[keep], g[keep], f[keep], c[keep]
    bounds = np.searchsorted(g, np.arange(n_groups + 1)).tolist()
    f_l, c_l = f.tolist(), c.tolist()
    v_l = [vs[i] for i in order.tolist()]
    for grp in range(n_groups):
        a, b = bounds[grp], bounds[grp + 1]
        mf = model_first[grp]
        if mf:
            out[grp] = dumps([f_l[a:b], v_l[a:b], c_l[a:b], mf])
        elif b > a:
            out[grp] = dumps([f_l[a:b], v_l[a:b], c_l[a:b]])
    return out


def queue_deltas(pipe: Any, keys: Keys, deltas: BatchDeltas, ttl: int) -> int:
    """Queue the batch's records on ``pipe``: one ``EVAL`` of the ``append`` script.

    The script's reply (in the transaction's results) is the length of each bucket
    after the append, in order, for :func:`compact_buckets`. The script travels as
    ``EVAL`` (Redis caches it by SHA1), so a Redis restart needs no reload. Returns the
    number of buckets.
    """
    if not len(deltas):
        return 0
    bucket = keys.bucket
    names = [bucket(a, h) for a, h in zip(deltas.accounts, deltas.hours, strict=True)]
    run_script(pipe, BUCKET_APPEND, names, [ttl, *deltas.payloads])
    return len(names)


# ------------------------------------------------------------------------------- records


class Record(NamedTuple):
    """One parsed record of a bucket (arrays are views of the Redis value)."""

    first: float
    last: float
    minutes: int
    cell_idx: np.ndarray
    cell_val: np.ndarray
    exact: list[np.ndarray | None]
    regs: list[np.ndarray | None]
    tops: list[Any] | None


def parse_records(blob: bytes, *, tops: bool = True) -> list[Record]:
    """The records of one bucket value.

    Parameters
    ----------
    blob : bytes
        A bucket's value (concatenated records).
    tops : bool
        Decode the heavy hitters (skipped, ``None``, otherwise).

    Raises
    ------
    ValueError
        If the value is not a sequence of records of this version.
    """
    out: list[Record] = []
    pos, end = 0, len(blob)
    unpack = _HDR.unpack_from
    frombuffer = np.frombuffer
    while pos < end:
        if end - pos < _HDR.size + _SKC.size:
            raise ValueError("truncated bucket record")
        length, nc, version, _flags, first, last, minutes = unpack(blob, pos)
        if version != RECORD_VERSION or length < _HDR.size + _SKC.size or pos + length > end:
            raise ValueError("not a bucket record of this version")
        p = pos + _HDR.size
        idx = frombuffer(blob, _U8, nc, p)
        vals = frombuffer(blob, _F64, nc, p + nc)
        p += 9 * nc
        sk_codes = _SKC.unpack_from(blob, p)
        p += _SKC.size
        exact: list[np.ndarray | None] = []
        regs: list[np.ndarray | None] = []
        for code in sk_codes:
            if code < _REGS:
                exact.append(frombuffer(blob, _U64, code, p) if code else None)
                regs.append(None)
                p += 8 * code
            elif code == _RAW:
                exact.append(None)
                regs.append(frombuffer(blob, _U8, _M, p))
                p += _M
            else:
                k = code & _EXACT_MAX
                r = np.zeros(_M, dtype=np.uint8)
                r[frombuffer(blob, _U16, k, p)] = frombuffer(blob, _U8, k, p + 2 * k)
                exact.append(None)
                regs.append(r)
                p += 3 * k
        rec_end = pos + length
        if p > rec_end:
            raise ValueError("corrupt bucket record")
        top = orjson.loads(blob[p:rec_end]) if tops and rec_end > p else None
        out.append(Record(first, last, minutes, idx, vals, exact, regs, top))
        pos = rec_end
    return out


@dataclass(slots=True)
class Merged:
    """Records merged in time order (what :func:`merge_records` returns).

    Attributes
    ----------
    cells : numpy.ndarray
        Summed CELLS, including the gaps between records.
    first, last : float
        Time range.
    hours : dict
        Epoch hour -> (summed cells of that hour's records, OR of their minute masks).
    exact, regs : list
        Per sketch: the exact hash arrays and the register arrays to union.
    tops : list of dict
        Per heavy-hitter family: value -> summed count (empty unless read).
    model_first : dict
        Model -> earliest first use over the records (empty unless the heavy hitters
        were read, or for records written before it was kept).
    """

    cells: np.ndarray
    first: float
    last: float
    hours: dict[int, tuple[np.ndarray, int]]
    exact: list[list[np.ndarray]]
    regs: list[list[np.ndarray]]
    tops: list[dict[str, float]]
    model_first: dict[str, float]

    def sketch(self, s: int) -> HyperLogLog:
        """Union of sketch ``s`` as the audit's :class:`HyperLogLog`."""
        exact, regs = self.exact[s], self.regs[s]
        if not regs:
            if not exact:
                return HyperLogLog(HLL_P, HLL_SPARSE_MAX)
            items = exact[0] if len(exact) == 1 else np.unique(np.concatenate(exact))
            return HyperLogLog.from_unique_sorted(items, HLL_P, HLL_SPARSE_MAX)
        merged = regs[0].copy() if len(regs) == 1 else np.maximum.reduce(regs)
        hll = HyperLogLog.from_registers(merged, HLL_P, HLL_SPARSE_MAX, copy=False)
        if exact:
            hll.add_hashes(np.concatenate(exact))
        return hll


def merge_records(recs: Sequence[tuple[int, Record]]) -> Merged:
    """Merge (hour, record) pairs: sums, unions, and the gaps between records.

    Records are taken in order of their first event; the gap to a record that starts
    after every earlier one ended is added (:meth:`AccountState.merge` semantics).
    """
    ordered = sorted(recs, key=lambda hr: hr[1].first)
    cells = np.zeros(_N_CELLS)
    hours: dict[int, tuple[np.ndarray, int]] = {}
    exact: list[list[np.ndarray]] = [[] for _ in range(_NSK)]
    regs: list[list[np.ndarray]] = [[] for _ in range(_NSK)]
    tops: list[dict[str, float]] = [{} for _ in _TOP_NAMES]
    model_first: dict[str, float] = {}
    firsts = np.empty(len(ordered))
    lasts = np.empty(len(ordered))
    for i, (hour, rec) in enumerate(ordered):
        firsts[i], lasts[i] = rec.first, rec.last
        row = np.zeros(_N_CELLS)
        row[rec.cell_idx] = rec.cell_val
        cells += row
        have = hours.get(hour)
        hours[hour] = (row, rec.minutes) if have is None else (have[0] + row, have[1] | rec.minutes)
        for s in range(_NSK):
            if rec.exact[s] is not None:
                exact[s].append(rec.exact[s])  # type: ignore[arg-type]
            if rec.regs[s] is not None:
                regs[s].append(rec.regs[s])  # type: ignore[arg-type]
        if rec.tops:
            fam, vals, counts = rec.tops[:3]
            for f, v, c in zip(fam, vals, counts, strict=True):
                t = tops[f]
                t[v] = t.get(v, 0.0) + c
            if len(rec.tops) > 3:  # per-model first use (absent from older records)
                for model, ts in rec.tops[3].items():
                    mine = model_first.get(model)
                    model_first[model] = ts if mine is None else min(mine, ts)
    if len(ordered) > 1:
        ended = np.maximum.accumulate(lasts)[:-1]
        gaps = firsts[1:] - ended
        gaps = gaps[gaps > 0]
        if gaps.size:
            cells[_GAP_N] += gaps.size
            cells[_GAP_SUM] += float(gaps.sum())
            cells[_GAP_SQ] += float((gaps * gaps).sum())
            cells[_G0 : _G0 + GAP_BINS] += np.bincount(gap_bins(gaps), minlength=GAP_BINS)
    first = float(firsts.min()) if len(ordered) else math.inf
    last = float(lasts.max()) if len(ordered) else -math.inf
    return Merged(cells, first, last, hours, exact, regs, tops, model_first)


def encode_merged(m: Merged, minutes: int, top_keep: int) -> bytes:
    """One record holding everything ``m`` holds (a compacted bucket)."""
    nz = np.flatnonzero(m.cells)
    codes, parts = [], []
    for s in range(_NSK):
        if m.regs[s]:
            hll = m.sketch(s)
            code, data = _sketch_part(None, hll.registers())
        elif m.exact[s]:
            ex = m.exact[s]
            items = ex[0] if len(ex) == 1 else np.unique(np.concatenate(ex))
            code, data = _sketch_part(items, None)
        else:
            code, data = 0, b""
        codes.append(code)
        parts.append(data)
    fam: list[int] = []
    vals: list[str] = []
    counts: list[float] = []
    for f, t in enumerate(m.tops):
        items = sorted(t.items(), key=lambda kv: -kv[1])
        if len(items) > 2 * top_keep:
            items = items[:top_keep]
        for v, c in items:
            fam.append(f)
            vals.append(v)
            counts.append(int(c) if float(c).is_integer() else c)
    if m.model_first:
        tj = orjson.dumps([fam, vals, counts, m.model_first])
    else:
        tj = orjson.dumps([fam, vals, counts]) if fam else b""
    body = b"".join(
        (
            nz.astype(_U8).tobytes(),
            m.cells[nz].astype(_F64).tobytes(),
            _SKC.pack(*codes),
            *parts,
            tj,
        )
    )
    head = _HDR.pack(_HDR.size + len(body), nz.size, RECORD_VERSION, 0, m.first, m.last, minutes)
    return head + body


def compact_buckets(client: Any, names: Sequence[str], top_keep: int) -> int:
    """Rewrite buckets as one record each, under ``WATCH`` (skipped if they change).

    Parameters
    ----------
    client : redis.Redis
        Connection.
    names : sequence of str
        Bucket keys to compact.
    top_keep : int
        Heavy hitters kept per family once a family has more than twice as many.

    Returns
    -------
    int
        Bytes of the compacted values written (0 when skipped).
    """
    if not names:
        return 0
    pipe = client.pipeline(transaction=True)
    try:
        pipe.watch(*names)
        blobs = pipe.execute_command("MGET", *names)  # one slot: pipe.mget is refused on a cluster
        new: dict[str, bytes] = {}
        for name, blob in zip(names, blobs, strict=True):
            if not blob:
                continue
            recs = parse_records(blob)
            if len(recs) < 2:
                continue
            m = merge_records([(0, r) for r in recs])
            minutes = 0
            for r in recs:
                minutes |= r.minutes
            new[name] = encode_merged(m, minutes, top_keep)
        if not new:
            return 0
        pipe.multi()
        for name, value in new.items():
            pipe.set(name, value, keepttl=True)
        pipe.execute()
        return sum(len(v) for v in new.values())
    except redis.WatchError:
        return 0
    finally:
        pipe.reset()


# ------------------------------------------------------------------------------- reading


def window_hours(as_of: float, window: int) -> list[int]:
    """Epoch hours of the window of ``window`` hours ending with the hour of ``as_of``."""
    end = int(as_of // HOUR_S)
    return list(range(end - window + 1, end + 1))


def _state_from(m: Merged, with_tops: bool) -> AccountState:
    st = AccountState()
    st.counts = m.cells[:_N_ADD].copy()
    st.gap_hist = np.rint(m.cells[_G0:_T0]).astype(np.int64)
    st.topic_hist = np.rint(m.cells[_T0:]).astype(np.int64)
    st.first_ts, st.last_ts = m.first, m.last
    minutes: list[np.ndarray] = []
    for hour in sorted(m.hours):
        row, mask = m.hours[hour]
        n = row[0]
        if n > 0:
            st.hourly[hour] = row[_HOURLY].copy()
            st.hour_of_day[hour % 24] += round(n)
        if mask:
            bits = np.unpackbits(np.array([mask], dtype=_U64).view(np.uint8), bitorder="little")
            minutes.append(hour * 60 + np.flatnonzero(bits[:60]))
    if minutes:
        st.minutes.add_ints(np.concatenate(minutes))
    for s, name in enumerate(_SKETCH_NAMES):
        st.sketches[name] = m.sketch(s)
    if with_tops:
        for f, name in enumerate(_TOP_NAMES):
            st.tops[name] = TopK().update(m.tops[f])
        st.model_first = dict(m.model_first)
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
        Also decode the heavy hitters and per-model first use (``model_first``), for
        :mod:`detector.linking` (the sketches, exact sets and registers, the minute
        MinHash and hourly rows are always there).
    chunk : int
        Accounts per pipeline round trip (one ``MGET`` per account).

    Returns
    -------
    dict
        account id -> state; accounts with no event in the window are left out.
    """
    out: dict[str, AccountState] = {}
    hours = list(hours)
    bucket = keys.bucket
    for start in range(0, len(accounts), chunk):
        part = accounts[start : start + chunk]
        pipe = client.pipeline(transaction=False)
        for acct in part:
            pipe.execute_command("MGET", *(bucket(acct, h) for h in hours))  # one slot
        for acct, blobs in zip(part, pipe.execute(), strict=True):
            recs = [
                (h, rec)
                for h, blob in zip(hours, blobs, strict=True)
                if blob
                for rec in parse_records(blob, tops=with_links)
            ]
            if not recs:
                continue
            st = _state_from(merge_records(recs), with_links)
            if st.get("n") > 0 and math.isfinite(st.first_ts):
                out[acct] = st
    return out
