"""Per-account mergeable aggregates: the state every feature is computed from.

One :class:`AccountState` holds, for one account over some set of events, only
additive counts, small histograms and sketches (never text). States built from
different file chunks, workers or time buckets merge with :meth:`AccountState.merge`;
merging is associative, so batch (group-by over chunks) and streaming (Redis
``HINCRBY`` / ``PFADD`` per bucket) produce the same features.

:func:`aggregate_events` is the vectorised batch builder: one chunk of canonical
events in, one state per account out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from detector.sketches import (
    HyperLogLog,
    MinHashSignature,
    TopK,
    hash_ints_matrix,
    hash_strings,
)

__all__ = [
    "ADDITIVE",
    "GAP_BINS",
    "N_TOPICS",
    "SKETCHES",
    "TOPS",
    "AccountState",
    "ChunkAggregate",
    "GroupTables",
    "aggregate_events",
    "aggregate_tables",
    "chunk_aggregate",
    "columns_from_fields",
    "event_columns",
    "gap_bins",
    "merge_into",
]

# Additive per-account counters. Name -> meaning. Order is the layout of AccountState.counts.
ADDITIVE: dict[str, str] = {
    "n": "events",
    "n_failure": "events whose status is failure",
    "sum_prompt_tokens": "prompt tokens",
    "sum_completion_tokens": "completion tokens",
    "sumsq_completion_tokens": "squared completion tokens",
    "sum_reasoning_tokens": "reasoning tokens",
    "n_logprobs": "events requesting logprobs",
    "sum_top_logprobs": "top_logprobs requested, summed",
    "n_top_logprobs_ge5": "events with top_logprobs >= 5",
    "n_logit_bias": "events with a non-empty logit_bias",
    "sum_logit_bias_size": "logit_bias entries, summed",
    "n_max_tokens_set": "events that set max_tokens",
    "n_max_tokens_tiny": "events with max_tokens <= 2",
    "n_max_tokens_large": "events with max_tokens >= 4000",
    "n_finish_length": "events that stopped on the length limit",
    "n_multi_choice": "events with n > 1",
    "sum_n": "choices requested, summed",
    "n_tools": "events offering tools",
    "n_stream": "streamed events",
    "n_temp0": "events at temperature 0",
    "n_seed": "events with a seed",
    "n_json_format": "events with a JSON response_format",
    "n_has_system": "events with a system prompt",
    "n_has_end_user": "events naming an end user",
    "n_cot": "events whose text elicits chain of thought",
    "n_cot_end_user": "chain-of-thought events naming an end user",
    "sum_cot_score": "chain-of-thought scores, summed",
    "n_mcq": "events with a multiple-choice question",
    "n_short_answer": "events asking for a short answer only",
    "sum_prompt_words": "prompt words, summed",
    "gap_n": "inter-arrival gaps",
    "gap_sum": "inter-arrival gaps, summed (s)",
    "gap_sumsq": "inter-arrival gaps squared, summed (s^2)",
}
_IDX = {name: i for i, name in enumerate(ADDITIVE)}

# Distinct-count sketches: name -> meaning.
SKETCHES: dict[str, str] = {
    "prompt": "distinct exact prompt fingerprints",
    "skeleton": "distinct prompt template skeletons",
    "near_dup": "distinct near-duplicate keys",
    "system": "distinct system prompts",
    "ip": "distinct client IPs",
    "ip_prefix": "distinct /24 (IPv4) or /48 (IPv6) prefixes",
    "user_agent": "distinct user agents",
    "api_key": "distinct API keys",
    "end_user": "distinct end users",
    "cot_end_user": "distinct end users sending chain-of-thought prompts",
    "model": "distinct models",
}
# Heavy-hitter summaries kept for linking accounts: name -> meaning.
TOPS: dict[str, str] = {
    "ip_prefix": "most used /24 prefixes",
    "user_agent": "most used user agents",
    "skeleton": "most used template skeletons",
    "system": "most used system prompts",
    "model": "most used models",
}
N_TOPICS = 16
GAP_BINS = 20  # log2 bins of inter-arrival gap seconds, 1/16 s .. 2^15 s
MINHASH_PERM = 32
HOUR_S = 3600


class AccountState:
    """Mergeable aggregate of one account's events.

    Attributes
    ----------
    counts : numpy.ndarray
        float64 vector laid out as :data:`ADDITIVE`.
    hour_of_day, gap_hist, topic_hist : numpy.ndarray
        Histograms (UTC hour of day; log2 inter-arrival gaps; topic ids).
    first_ts, last_ts : float
        Time of the first and last event.
    sketches : dict[str, HyperLogLog]
        Distinct counters named as in :data:`SKETCHES`.
    tops : dict[str, TopK]
        Heavy hitters named as in :data:`TOPS`.
    hourly : dict[int, numpy.ndarray]
        Hour bucket (epoch hour) -> [events, completion tokens, cot events].
    minutes : MinHashSignature
        Signature of the set of active minutes (for synchronised-timing links).
    model_first : dict[str, float]
        Model name -> first time the account used it (merged by minimum): accounts
        that move together to a newly released model.
    """

    __slots__ = (
        "counts",
        "first_ts",
        "gap_hist",
        "hour_of_day",
        "hourly",
        "last_ts",
        "minutes",
        "model_first",
        "sketches",
        "topic_hist",
        "tops",
    )

    def __init__(self) -> None:
        self.counts = np.zeros(len(ADDITIVE), dtype=np.float64)
        self.hour_of_day = np.zeros(24, dtype=np.int64)
        self.gap_hist = np.zeros(GAP_BINS, dtype=np.int64)
        self.topic_hist = np.zeros(N_TOPICS, dtype=np.int64)
        self.first_ts = np.inf
        self.last_ts = -np.inf
        self.sketches = {name: HyperLogLog() for name in SKETCHES}
        self.tops = {name: TopK() for name in TOPS}
        self.hourly: dict[int, np.ndarray] = {}
        self.minutes = MinHashSignature(MINHASH_PERM)
        self.model_first: dict[str, float] = {}

    def get(self, name: str) -> float:
        """Value of one additive counter."""
        return float(self.counts[_IDX[name]])

    def merge(self, other: AccountState) -> AccountState:
        """Merge ``other`` into self; returns self.

        The gap between the two states' activity (when they do not overlap in time)
        is added as one more inter-arrival gap, so chunked and one-pass results agree.
        """
        if other.first_ts > self.last_ts and np.isfinite(self.last_ts):
            _add_gaps(self, np.array([other.first_ts - self.last_ts]))
        elif self.first_ts > other.last_ts and np.isfinite(other.last_ts):
            _add_gaps(self, np.array([self.first_ts - other.last_ts]))
        self.counts += other.counts
        self.hour_of_day += other.hour_of_day
        self.gap_hist += other.gap_hist
        self.topic_hist += other.topic_hist
        self.first_ts = min(self.first_ts, other.first_ts)
        self.last_ts = max(self.last_ts, other.last_ts)
        for name, sketch in other.sketches.items():
            self.sketches[name].merge(sketch)
        for name, top in other.tops.items():
            self.tops[name].merge(top)
        for hour, row in other.hourly.items():
            mine = self.hourly.get(hour)
            self.hourly[hour] = row.copy() if mine is None else mine + row
        self.minutes.merge(other.minutes)
        for model, ts in other.model_first.items():
            seen = self.model_first.get(model)
            self.model_first[model] = ts if seen is None else min(seen, ts)
        return self

    def nbytes(self) -> int:
        """Approximate memory held, bytes."""
        return int(
            self.counts.nbytes
            + self.hour_of_day.nbytes
            + self.gap_hist.nbytes
            + self.topic_hist.nbytes
            + sum(s.nbytes() for s in self.sketches.values())
            + 24 * len(self.hourly)
            + self.minutes.values.nbytes
        )


def gap_bins(gaps: np.ndarray) -> np.ndarray:
    """Log2 bin of each inter-arrival gap (seconds): bin b holds [2^(b-4), 2^(b-3)) s."""
    with np.errstate(divide="ignore"):
        b = np.floor(np.log2(np.maximum(gaps, 1e-6))) + 4
    return np.clip(b, 0, GAP_BINS - 1).astype(np.int64)


def _add_gaps(state: AccountState, gaps: np.ndarray) -> None:
    state.counts[_IDX["gap_n"]] += gaps.size
    state.counts[_IDX["gap_sum"]] += float(gaps.sum())
    state.counts[_IDX["gap_sumsq"]] += float((gaps * gaps).sum())
    state.gap_hist += np.bincount(gap_bins(gaps), minlength=GAP_BINS)


def ip_prefix(ip: str | None) -> str | None:
    """The /24 prefix of an IPv4 address or the /48 of an IPv6 one (as text)."""
    if not ip:
        return None
    if "." in ip and ":" not in ip:
        head, _, _ = ip.rpartition(".")
        return head + ".0/24" if head else None
    parts = ip.split(":")
    return ":".join(parts[:3]) + "::/48" if len(parts) >= 3 else None


_COLUMN_FIELDS: tuple[str, ...] = (
    "ts",
    "account_id",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "top_logprobs",
    "logit_bias_size",
    "n",
    "max_tokens",
    "temperature",
    "tools_count",
    "logprobs",
    "seed",
    "stream",
    "status",
    "finish_reason",
    "response_format",
    "system_prompt",
    "user_prompt",
    "ip",
    "user_agent",
    "api_key",
    "end_user",
    "model",
)


def event_columns(events: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Turn canonical events into the column arrays the aggregator needs.

    Parameters
    ----------
    events : sequence of dict
        Validated canonical events (see :mod:`detector.events`).

    Returns
    -------
    dict of numpy.ndarray
        One array per column, including derived text signals.
    """
    from detector.text import text_signals_batch

    getter = itemgetter(*_COLUMN_FIELDS)
    try:
        rows = [getter(e) for e in events]
    except KeyError:
        rows = [tuple(e.get(name) for name in _COLUMN_FIELDS) for e in events]
    raw = dict(zip(_COLUMN_FIELDS, zip(*rows, strict=True), strict=True)) if rows else {}

    systems = raw.get("system_prompt", ())
    users = raw.get("user_prompt", ())
    has_system = [bool(v) for v in systems]
    return columns_from_fields(raw, has_system, text_signals_batch(systems, users))


def columns_from_fields(
    raw: Mapping[str, Sequence[Any]],
    has_system: Sequence[bool],
    signals: Mapping[str, Any],
) -> dict[str, np.ndarray]:
    """Column arrays from per-field value sequences and precomputed text signals.

    Shared by :func:`event_columns` (signals computed from the text) and the streaming
    workers (signals stored in the stream instead of the text).

    Parameters
    ----------
    raw : mapping of sequences
        Canonical field name -> values (one per event).
    has_system : sequence of bool
        Whether each event had a system prompt.
    signals : mapping
        Text-signal name -> values (see :data:`detector.text.SIGNAL_DTYPES`).
    """
    from detector.text import SIGNAL_DTYPES

    def col(name: str) -> Sequence[Any]:
        return raw.get(name, ())

    def num(name: str, default: float = 0.0) -> np.ndarray:
        return np.array([default if v is None else v for v in col(name)], dtype=np.float64)

    cols: dict[str, np.ndarray] = {
        "ts": num("ts"),
        "account_id": np.array(col("account_id"), dtype=object),
        "prompt_tokens": num("prompt_tokens"),
        "completion_tokens": num("completion_tokens"),
        "reasoning_tokens": num("reasoning_tokens"),
        "top_logprobs": num("top_logprobs"),
        "logit_bias_size": num("logit_bias_size"),
        "n": num("n", 1.0),
        "max_tokens": num("max_tokens", np.nan),
        "temperature": num("temperature", np.nan),
        "tools_count": num("tools_count"),
    }
    cols["logprobs"] = np.array([bool(v) for v in col("logprobs")], dtype=bool)
    cols["seed"] = np.array([bool(v) for v in col("seed")], dtype=bool)
    cols["stream"] = np.array([bool(v) for v in col("stream")], dtype=bool)
    cols["failure"] = np.array([v == "failure" for v in col("status")], dtype=bool)
    cols["finish_length"] = np.array([v == "length" for v in col("finish_reason")], dtype=bool)
    cols["json_format"] = np.array(
        [v in ("json_object", "json_schema") for v in col("response_format")], dtype=bool
    )
    cols["has_system"] = np.array(has_system, dtype=bool)
    for name in ("ip", "user_agent", "api_key", "end_user", "model"):
        cols[name] = np.array(col(name), dtype=object)
    cols["has_end_user"] = np.array([v is not None for v in cols["end_user"]], dtype=bool)
    cols["ip_prefix"] = np.array([ip_prefix(v) for v in cols["ip"]], dtype=object)
    for name, dtype in SIGNAL_DTYPES.items():
        cols[name] = np.asarray(signals[name], dtype=dtype)
    return cols


@dataclass(slots=True)
class GroupTables:
    """The additive part of a chunk's aggregates, per account group, as arrays.

    ``codes`` maps each event to its group; ``uniques`` names the groups. The streaming
    workers write these tables to Redis; :func:`chunk_aggregate` adds the sketches.
    """

    codes: np.ndarray
    uniques: np.ndarray
    counts: np.ndarray
    hour_of_day: np.ndarray
    gap_hist: np.ndarray
    topic_hist: np.ndarray
    first: np.ndarray
    last: np.ndarray


def aggregate_tables(columns: Mapping[str, np.ndarray]) -> GroupTables:
    """Additive counters, histograms and time range per ``account_id`` group.

    Parameters
    ----------
    columns : mapping of arrays
        Output of :func:`event_columns` (the ``account_id`` column may be any group key).

    Returns
    -------
    GroupTables
    """
    ts = columns["ts"]
    codes, uniques = pd.factorize(columns["account_id"], sort=False)
    uniques = np.asarray(uniques, dtype=object)
    n_groups = len(uniques)
    order = np.lexsort((ts, codes))
    codes_s = codes[order]
    ts_s = ts[order]

    def by_group(weights: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=weights.astype(np.float64), minlength=n_groups)

    max_tokens = columns["max_tokens"]
    temperature = columns["temperature"]
    completion = columns["completion_tokens"]
    top_lp = columns["top_logprobs"]
    lb = columns["logit_bias_size"]
    is_cot = np.asarray(columns["is_cot"], dtype=bool)
    table = np.zeros((n_groups, len(ADDITIVE)))
    add = {
        "n": np.ones(ts.size),
        "n_failure": columns["failure"],
        "sum_prompt_tokens": columns["prompt_tokens"],
        "sum_completion_tokens": completion,
        "sumsq_completion_tokens": completion * completion,
        "sum_reasoning_tokens": columns["reasoning_tokens"],
        "n_logprobs": columns["logprobs"],
        "sum_top_logprobs": top_lp,
        "n_top_logprobs_ge5": top_lp >= 5,
        "n_logit_bias": lb > 0,
        "sum_logit_bias_size": lb,
        "n_max_tokens_set": ~np.isnan(max_tokens),
        "n_max_tokens_tiny": np.nan_to_num(max_tokens, nan=1e9) <= 2,
        "n_max_tokens_large": np.nan_to_num(max_tokens, nan=0) >= 4000,
        "n_finish_length": columns["finish_length"],
        "n_multi_choice": columns["n"] > 1,
        "sum_n": columns["n"],
        "n_tools": columns["tools_count"] > 0,
        "n_stream": columns["stream"],
        "n_temp0": np.nan_to_num(temperature, nan=1.0) == 0,
        "n_seed": columns["seed"],
        "n_json_format": columns["json_format"],
        "n_has_system": columns["has_system"],
        "n_has_end_user": columns["has_end_user"],
        "n_cot": is_cot,
        "n_cot_end_user": is_cot & np.asarray(columns["has_end_user"], dtype=bool),
        "sum_cot_score": columns["cot_score"],
        "n_mcq": columns["is_mcq"],
        "n_short_answer": columns["answer_format_short"],
        "sum_prompt_words": columns["prompt_words"],
    }
    for name, weights in add.items():
        table[:, _IDX[name]] = by_group(np.asarray(weights))

    # inter-arrival gaps within the chunk, per group (sorted by time)
    same = codes_s[1:] == codes_s[:-1]
    gaps = np.diff(ts_s)[same]
    gap_codes = codes_s[1:][same]
    table[:, _IDX["gap_n"]] = np.bincount(gap_codes, minlength=n_groups)
    table[:, _IDX["gap_sum"]] = np.bincount(gap_codes, weights=gaps, minlength=n_groups)
    table[:, _IDX["gap_sumsq"]] = np.bincount(gap_codes, weights=gaps * gaps, minlength=n_groups)
    gap_hist = np.zeros((n_groups, GAP_BINS), dtype=np.int64)
    np.add.at(gap_hist, (gap_codes, gap_bins(gaps)), 1)

    hod = ((ts // HOUR_S) % 24).astype(np.int64)
    hour_hist = np.zeros((n_groups, 24), dtype=np.int64)
    np.add.at(hour_hist, (codes, hod), 1)
    topics = np.clip(np.asarray(columns["topic"]).astype(np.int64), 0, N_TOPICS - 1)
    topic_hist = np.zeros((n_groups, N_TOPICS), dtype=np.int64)
    np.add.at(topic_hist, (codes, topics), 1)

    first = np.full(n_groups, np.inf)
    last = np.full(n_groups, -np.inf)
    np.minimum.at(first, codes, ts)
    np.maximum.at(last, codes, ts)
    return GroupTables(codes, uniques, table, hour_hist, gap_hist, topic_hist, first, last)


def aggregate_events(
    events: Sequence[Mapping[str, Any]] | None = None,
    *,
    columns: Mapping[str, np.ndarray] | None = None,
) -> dict[str, AccountState]:
    """Build one :class:`AccountState` per account from a chunk of events.

    Same parameters as :func:`chunk_aggregate`; returns account id -> state for this
    chunk (merge with :func:`merge_into`).
    """
    return chunk_aggregate(events, columns=columns).to_states()


def chunk_aggregate(
    events: Sequence[Mapping[str, Any]] | None = None,
    *,
    columns: Mapping[str, np.ndarray] | None = None,
) -> ChunkAggregate:
    """Vectorised per-account aggregates of a chunk of events, as flat arrays.

    Parameters
    ----------
    events : sequence of dict, optional
        Validated canonical events.
    columns : mapping of arrays, optional
        Precomputed output of :func:`event_columns` (instead of ``events``).

    Returns
    -------
    ChunkAggregate
        Arrays per account group; :meth:`ChunkAggregate.to_states` builds the states.
    """
    if columns is None:
        columns = event_columns(events or [])
    ts = columns.get("ts", np.empty(0))
    if ts.size == 0:
        return ChunkAggregate.empty()
    tab = aggregate_tables(columns)
    codes, uniques = tab.codes, tab.uniques
    n_groups = len(uniques)
    table, hour_hist, gap_hist = tab.counts, tab.hour_of_day, tab.gap_hist
    topic_hist, first, last = tab.topic_hist, tab.first, tab.last
    completion = columns["completion_tokens"]
    ones = np.ones(ts.size)

    # hourly buckets: events, completion tokens, cot events
    hour_bucket = (ts // HOUR_S).astype(np.int64)
    hb = pd.DataFrame(
        {"g": codes, "h": hour_bucket, "n": ones, "c": completion, "k": columns["is_cot"]}
    )
    hourly = hb.groupby(["g", "h"], sort=False)[["n", "c", "k"]].sum()

    # sketch inputs: (name, hashes, mask)
    def str_hashes(name: str) -> tuple[np.ndarray, np.ndarray]:
        values = columns[name]
        mask = np.array([v is not None for v in values])
        hashes = np.zeros(values.size, dtype=np.uint64)
        if mask.any():
            hashes[mask] = hash_strings(values[mask])
        return hashes, mask

    sketch_inputs: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "prompt": (columns["exact_fp"].astype(np.uint64), columns["exact_fp"] != 0),
        "skeleton": (columns["skeleton_fp"].astype(np.uint64), columns["skeleton_fp"] != 0),
        "near_dup": (columns["nd_key"].astype(np.uint64), columns["nd_key"] != 0),
        "system": (columns["system_fp"].astype(np.uint64), columns["system_fp"] != 0),
    }
    for name in ("ip", "ip_prefix", "user_agent", "api_key", "end_user", "model"):
        sketch_inputs[name] = str_hashes(name)
    eu_hashes, eu_mask = sketch_inputs["end_user"]
    sketch_inputs["cot_end_user"] = (eu_hashes, eu_mask & columns["is_cot"].astype(bool))

    top_inputs = {
        "ip_prefix": (
            columns["ip_prefix"],
            np.array([v is not None for v in columns["ip_prefix"]]),
        ),
        "user_agent": (
            columns["user_agent"],
            np.array([v is not None for v in columns["user_agent"]]),
        ),
        "skeleton": (columns["skeleton_fp"].astype(np.uint64), columns["skeleton_fp"] != 0),
        "system": (columns["system_fp"].astype(np.uint64), columns["system_fp"] != 0),
        "model": (columns["model"], np.array([v is not None for v in columns["model"]])),
    }
    tops = {
        name: _value_counts_arrays(codes, values, mask)
        for name, (values, mask) in top_inputs.items()
    }
    sketches = {
        name: _unique_pairs(codes[mask], hashes[mask])
        for name, (hashes, mask) in sketch_inputs.items()
    }
    minute_ids = (ts // 60).astype(np.int64)
    hourly_index = hourly.index
    model_mask = np.array([v is not None for v in columns["model"]], dtype=bool)
    mf = (
        pd.DataFrame(
            {"g": codes[model_mask], "m": columns["model"][model_mask], "t": ts[model_mask]}
        )
        .groupby(["g", "m"], sort=True)["t"]
        .min()
    )
    return ChunkAggregate(
        accounts=np.asarray(uniques, dtype=object),
        table=table,
        hour_hist=hour_hist,
        gap_hist=gap_hist,
        topic_hist=topic_hist,
        first=first,
        last=last,
        minute_sigs=minute_signatures(codes, minute_ids, n_groups),
        sketches=sketches,
        tops=tops,
        model_first=(
            mf.index.get_level_values(0).to_numpy(np.int64),
            np.asarray(mf.index.get_level_values(1), dtype=object),
            mf.to_numpy(np.float64),
        ),
        hourly=(
            hourly_index.get_level_values(0).to_numpy(np.int64),
            hourly_index.get_level_values(1).to_numpy(np.int64),
            hourly.to_numpy(np.float64),
        ),
    )


def _unique_pairs(groups: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (group, hash) pairs sorted by group then hash."""
    if groups.size == 0:
        return groups.astype(np.int64), hashes.astype(np.uint64)
    order = np.lexsort((hashes, groups))
    g, h = groups[order], hashes[order]
    keep = np.ones(g.size, dtype=bool)
    keep[1:] = (g[1:] != g[:-1]) | (h[1:] != h[:-1])
    return g[keep].astype(np.int64), h[keep].astype(np.uint64)


def _value_counts_arrays(
    codes: np.ndarray, values: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(group, value, count) arrays of the value counts per group, sorted by group."""
    frame = pd.DataFrame({"g": codes[mask], "v": values[mask]})
    if frame.empty:
        return np.empty(0, np.int64), np.empty(0, object), np.empty(0, np.float64)
    counts = frame.groupby(["g", "v"], sort=True).size()
    return (
        counts.index.get_level_values(0).to_numpy(np.int64),
        np.asarray(counts.index.get_level_values(1), dtype=object),
        counts.to_numpy(np.float64),
    )


def _slices(groups: np.ndarray, n_groups: int) -> np.ndarray:
    return np.searchsorted(groups, np.arange(n_groups + 1))


@dataclass(slots=True)
class ChunkAggregate:
    """One chunk's per-account aggregates as flat arrays (fast to pickle and to ship).

    Worker processes return this; :meth:`to_states` builds the per-account objects.
    ``sketches`` maps a sketch name to sorted distinct (group, hash) pairs, ``tops`` to
    (group, value, count) arrays, ``hourly`` is (group, epoch hour, [n, tokens, cot]).
    """

    accounts: np.ndarray
    table: np.ndarray
    hour_hist: np.ndarray
    gap_hist: np.ndarray
    topic_hist: np.ndarray
    first: np.ndarray
    last: np.ndarray
    minute_sigs: np.ndarray
    sketches: dict[str, tuple[np.ndarray, np.ndarray]]
    tops: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    model_first: tuple[np.ndarray, np.ndarray, np.ndarray]
    hourly: tuple[np.ndarray, np.ndarray, np.ndarray]

    @classmethod
    def empty(cls) -> ChunkAggregate:
        """The aggregate of no events."""
        z = np.empty(0, np.int64)
        return cls(
            accounts=np.empty(0, object),
            table=np.zeros((0, len(ADDITIVE))),
            hour_hist=np.zeros((0, 24), np.int64),
            gap_hist=np.zeros((0, GAP_BINS), np.int64),
            topic_hist=np.zeros((0, N_TOPICS), np.int64),
            first=np.empty(0),
            last=np.empty(0),
            minute_sigs=np.zeros((0, MINHASH_PERM), np.uint64),
            sketches={},
            tops={},
            model_first=(z, np.empty(0, object), np.empty(0)),
            hourly=(z, z, np.zeros((0, 3))),
        )

    def to_states(self) -> dict[str, AccountState]:
        """One :class:`AccountState` per account of the chunk."""
        return self.merge_into({})

    def merge_into(self, target: dict[str, AccountState]) -> dict[str, AccountState]:
        """Merge this chunk into per-account states (in place); returns ``target``.

        The same result as ``merge_into(target, self.to_states())`` (the module-level
        :func:`merge_into`), without building a throw-away state per account first: an
        account already in ``target`` takes the chunk's arrays directly.
        """
        n_groups = len(self.accounts)
        names = [str(a) for a in self.accounts.tolist()]
        sketch_bounds = [
            (name, _slices(g, n_groups).tolist(), h) for name, (g, h) in self.sketches.items()
        ]
        top_bounds = [
            (name, _slices(g, n_groups).tolist(), v, c.tolist())
            for name, (g, v, c) in self.tops.items()
        ]
        firsts, lasts = self.first.tolist(), self.last.tolist()
        # the gap between an account's earlier activity and this chunk (AccountState.merge),
        # binned for all accounts at once
        known = [target.get(account) for account in names]
        gaps: dict[int, float] = {}
        for g, st in enumerate(known):
            if st is None:
                continue
            if firsts[g] > st.last_ts and np.isfinite(st.last_ts):
                gaps[g] = firsts[g] - st.last_ts
            elif st.first_ts > lasts[g] and np.isfinite(lasts[g]):
                gaps[g] = st.first_ts - lasts[g]
        gap_bin = dict(zip(gaps, gap_bins(np.array(list(gaps.values()))).tolist(), strict=True))
        i_n, i_sum, i_sumsq = _IDX["gap_n"], _IDX["gap_sum"], _IDX["gap_sumsq"]
        fresh: list[bool] = []
        states: list[AccountState] = []
        for g in range(n_groups):
            account = names[g]
            first, last = firsts[g], lasts[g]
            st = known[g]
            if st is None:
                st = target[account] = AccountState()
                st.counts = self.table[g]
                st.hour_of_day = self.hour_hist[g]
                st.gap_hist = self.gap_hist[g]
                st.topic_hist = self.topic_hist[g]
                st.first_ts, st.last_ts = first, last
                st.minutes.values = self.minute_sigs[g].copy()
                for name, bounds, hashes in sketch_bounds:
                    lo, hi = bounds[g], bounds[g + 1]
                    if hi > lo:
                        st.sketches[name] = HyperLogLog.from_unique_sorted(hashes[lo:hi])
                for name, bounds, values, counts in top_bounds:
                    lo, hi = bounds[g], bounds[g + 1]
                    if hi > lo:
                        st.tops[name].update(dict(zip(values[lo:hi], counts[lo:hi], strict=True)))
                fresh.append(True)
                states.append(st)
                continue
            # as AccountState.merge with the chunk's state of this account
            gap = gaps.get(g)
            if gap is not None:
                counts = st.counts
                counts[i_n] += 1
                counts[i_sum] += gap
                counts[i_sumsq] += gap * gap
                st.gap_hist[gap_bin[g]] += 1
            st.counts += self.table[g]
            st.hour_of_day += self.hour_hist[g]
            st.gap_hist += self.gap_hist[g]
            st.topic_hist += self.topic_hist[g]
            st.first_ts = min(st.first_ts, first)
            st.last_ts = max(st.last_ts, last)
            for name, bounds, hashes in sketch_bounds:
                lo, hi = bounds[g], bounds[g + 1]
                if hi > lo:  # adding the hashes = merging their sketch (same registers)
                    st.sketches[name].add_unique_sorted(hashes[lo:hi])
            for name, bounds, values, counts in top_bounds:
                lo, hi = bounds[g], bounds[g + 1]
                if hi > lo:
                    other = TopK()
                    other.update(dict(zip(values[lo:hi], counts[lo:hi], strict=True)))
                    st.tops[name].update(other.counts)
            np.minimum(st.minutes.values, self.minute_sigs[g], out=st.minutes.values)
            fresh.append(False)
            states.append(st)
        for g, model, ts in zip(
            self.model_first[0].tolist(),
            self.model_first[1],
            self.model_first[2].tolist(),
            strict=True,
        ):
            firsts_of = states[g].model_first
            model = str(model)
            mine = firsts_of.get(model)
            firsts_of[model] = ts if mine is None else min(mine, ts)
        groups, hours, values = self.hourly
        for g, h, row in zip(groups.tolist(), hours.tolist(), values, strict=True):
            hourly = states[g].hourly
            mine = None if fresh[g] else hourly.get(h)
            hourly[h] = row.copy() if mine is None else mine + row
        return target


def minute_signatures(codes: np.ndarray, minute_ids: np.ndarray, n_groups: int) -> np.ndarray:
    """MinHash signatures of each group's set of active minutes, all groups at once.

    Equal to :meth:`MinHashSignature.add_ints` per group, vectorised: one hash matrix
    over the distinct (group, minute) pairs, reduced with ``minimum.reduceat``.
    """
    out = np.full((n_groups, MINHASH_PERM), np.iinfo(np.uint64).max, dtype=np.uint64)
    if codes.size == 0:
        return out
    key = codes.astype(np.int64) * (1 << 40) + minute_ids
    pairs = np.unique(key)
    groups = (pairs >> 40).astype(np.int64)
    minutes = pairs & ((1 << 40) - 1)
    hashes = hash_ints_matrix(minutes, MINHASH_PERM)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    out[groups[starts]] = np.minimum.reduceat(hashes, starts, axis=0)
    return out


def merge_into(
    target: dict[str, AccountState], chunk: Mapping[str, AccountState]
) -> dict[str, AccountState]:
    """Merge per-account chunk states into ``target`` (in place); returns ``target``."""
    for account, state in chunk.items():
        mine = target.get(account)
        if mine is None:
            target[account] = state
        else:
            mine.merge(state)
    return target
