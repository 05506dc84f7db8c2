"""Turn merged :class:`~detector.aggregates.AccountState` into feature vectors.

Pure functions: no I/O and no clock. The same code serves the offline audit (states
merged over file chunks) and the streaming path (states read back from Redis buckets).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from detector.aggregates import GAP_BINS, HOUR_S, AccountState
from detector.features.schema import FEATURE_NAMES, FEATURES

__all__ = ["feature_frame", "features_from_state"]

_INT_FEATURES = [f.name for f in FEATURES if f.dtype == "int64"]
# upper edge (seconds) of each log2 gap bin, see detector.aggregates.gap_bins
_GAP_EDGES = 2.0 ** (np.arange(GAP_BINS) - 3)


def _math_topic_id() -> int:
    from detector.text import Topic

    return int(Topic.MATH)


def _share(a: float, n: float) -> float:
    return a / n if n > 0 else 0.0


def _entropy(hist: np.ndarray) -> float:
    total = hist.sum()
    if total <= 0:
        return 0.0
    p = hist[hist > 0] / total
    return float(-(p * np.log2(p)).sum())


def _median_from_hist(hist: np.ndarray) -> float:
    total = hist.sum()
    if total <= 0:
        return 0.0
    idx = int(np.searchsorted(np.cumsum(hist), total / 2.0))
    return float(_GAP_EDGES[min(idx, GAP_BINS - 1)])


def _peak_two_hours(hourly: Mapping[int, np.ndarray], hours: list[int], col: int) -> float:
    """Largest sum of column ``col`` over two consecutive hour buckets (0 without any)."""
    best = 0.0
    for h in hours:
        prev = hourly.get(h - 1)
        total = float(hourly[h][col]) + (float(prev[col]) if prev is not None else 0.0)
        best = max(best, total)
    return best


#: mean output tokens per request from which a chain-of-thought hour is a harvesting hour
HARVEST_HOUR_TOKENS = 1000.0


def _harvest_hours(state: AccountState, hours: list[int]) -> float:
    """Clock hours where most requests elicit chain of thought and outputs are long."""
    if not hours:
        return 0.0
    rows = np.array([state.hourly[h] for h in hours], dtype=np.float64)
    events, tokens, cot = rows[:, 0], rows[:, 1], rows[:, 2]
    return float(((cot >= 0.5 * events) & (tokens >= HARVEST_HOUR_TOKENS * events)).sum())


def features_from_state(state: AccountState, as_of: float) -> dict[str, float]:
    """Compute every feature of :data:`~detector.features.schema.FEATURES` for one account.

    Parameters
    ----------
    state : AccountState
        Merged aggregate of the account's events in the window.
    as_of : float
        End of the window, epoch seconds. Activity recorded after it is ignored for
        span-based features (late events in a stream).

    Returns
    -------
    dict
        Feature name -> value, in schema order.
    """
    g = state.get
    n = g("n")
    end = min(state.last_ts, as_of) if math.isfinite(state.last_ts) else as_of
    span_h = max((end - state.first_ts) / HOUR_S, 1.0) if math.isfinite(state.first_ts) else 1.0
    first_hour = int(state.first_ts // HOUR_S) if math.isfinite(state.first_ts) else 0
    last_hour = int(end // HOUR_S)
    hours = [h for h in state.hourly if h <= last_hour]
    hour_counts = np.array([state.hourly[h][0] for h in hours]) if hours else np.zeros(1)
    harvest_hours = _harvest_hours(state, hours)
    span_buckets = max(last_hour - first_hour + 1, 1)

    completion = g("sum_completion_tokens")
    prompt = g("sum_prompt_tokens")
    mean_c = _share(completion, n)
    var_c = max(_share(g("sumsq_completion_tokens"), n) - mean_c * mean_c, 0.0)
    gap_n = g("gap_n")
    gap_mean = _share(g("gap_sum"), gap_n)
    gap_var = max(_share(g("gap_sumsq"), gap_n) - gap_mean * gap_mean, 0.0)
    sk = {name: s.count() for name, s in state.sketches.items()}
    distinct_prompts = min(sk["prompt"], n) if n else 0.0
    distinct_nd = min(sk["near_dup"], n) if n else 0.0
    distinct_sk = min(sk["skeleton"], n) if n else 0.0
    topic_total = state.topic_hist.sum()
    n_lp = g("n_logprobs")
    n_lb = g("n_logit_bias")
    distinct_end_users = sk["end_user"]

    out: dict[str, float] = {
        "n_events": n,
        "events_per_hour": n / span_h,
        "peak_hour_events": float(hour_counts.max()),
        "peak_2h_events": _peak_two_hours(state.hourly, hours, 0),
        "completion_tokens_per_hour": completion / span_h,
        "active_span_hours": span_h,
        "active_hour_share": min(len(hours) / span_buckets, 1.0),
        "peak_hour_share": _share(float(hour_counts.max()), n),
        "failure_share": _share(g("n_failure"), n),
        "active_hours": float(len(hours)),
        "active_days": float(len({h // 24 for h in hours})),
        "idle_hours": max(as_of - state.last_ts, 0.0) / HOUR_S
        if math.isfinite(state.last_ts)
        else 0.0,
        "distinct_prompt_ratio": _share(distinct_prompts, n),
        "near_dup_share": 1.0 - _share(distinct_nd, n) if n else 0.0,
        "template_share": 1.0 - _share(distinct_sk, n) if n else 0.0,
        "distinct_templates": distinct_sk,
        "distinct_system_prompts": sk["system"],
        "topic_top_share": _share(float(state.topic_hist.max()), float(topic_total)),
        "topic_entropy": _entropy(state.topic_hist),
        "math_topic_share": _share(float(state.topic_hist[_math_topic_id()]), float(topic_total)),
        "mean_prompt_words": _share(g("sum_prompt_words"), n),
        "completion_prompt_ratio": completion / max(prompt, 1.0),
        "mean_completion_tokens": mean_c,
        "completion_tokens_cv": math.sqrt(var_c) / mean_c if mean_c > 0 else 0.0,
        "reasoning_token_share": _share(g("sum_reasoning_tokens"), completion),
        "output_tokens_per_prompt": _share(completion, distinct_prompts),
        "novel_output_tokens": completion * _share(distinct_prompts, n),
        "max_tokens_large_share": _share(g("n_max_tokens_large"), n),
        "finish_length_share": _share(g("n_finish_length"), n),
        "multi_choice_share": _share(g("n_multi_choice"), n),
        "mean_n": _share(g("sum_n"), n) if n else 1.0,
        "cot_share": _share(g("n_cot"), n),
        "mean_cot_score": _share(g("sum_cot_score"), n),
        "peak_2h_cot_events": _peak_two_hours(state.hourly, hours, 2),
        "harvest_hours": harvest_hours,
        "logprobs_share": _share(n_lp, n),
        "mean_top_logprobs": _share(g("sum_top_logprobs"), n_lp),
        "top_logprobs_ge5_share": _share(g("n_top_logprobs_ge5"), n),
        "logit_bias_share": _share(n_lb, n),
        "mean_logit_bias_size": _share(g("sum_logit_bias_size"), n_lb),
        "max_tokens_tiny_share": _share(g("n_max_tokens_tiny"), n),
        "prompt_repeat_share": 1.0 - _share(distinct_prompts, n) if n else 0.0,
        "temp0_share": _share(g("n_temp0"), n),
        "seed_share": _share(g("n_seed"), n),
        "gap_cv": math.sqrt(gap_var) / gap_mean if gap_mean > 0 else 0.0,
        "median_gap_s": _median_from_hist(state.gap_hist),
        "hours_of_day_active": float((state.hour_of_day > 0).sum()),
        "hour_entropy": _entropy(state.hour_of_day),
        "sub_second_gap_share": _share(float(state.gap_hist[:4].sum()), gap_n),
        "distinct_ips": sk["ip"],
        "distinct_ip_prefixes": sk["ip_prefix"],
        "distinct_user_agents": sk["user_agent"],
        "distinct_api_keys": sk["api_key"],
        "distinct_end_users": distinct_end_users,
        "end_user_share": _share(g("n_has_end_user"), n),
        "requests_per_end_user": n / max(distinct_end_users, 1.0),
        "cot_requests_per_cot_end_user": _share(g("n_cot_end_user"), sk["cot_end_user"]),
        "cot_end_user_concentration": _share(
            _share(g("n_cot_end_user"), sk["cot_end_user"]),
            _share(g("n_has_end_user"), distinct_end_users),
        ),
        "distinct_models": sk["model"],
        "mcq_share": _share(g("n_mcq"), n),
        "short_answer_share": _share(g("n_short_answer"), n),
        "tools_share": _share(g("n_tools"), n),
        "stream_share": _share(g("n_stream"), n),
        "json_format_share": _share(g("n_json_format"), n),
        "has_system_share": _share(g("n_has_system"), n),
    }
    return {name: float(out[name]) for name in FEATURE_NAMES}


def feature_frame(states: Mapping[str, AccountState], as_of: float) -> pd.DataFrame:
    """Feature frame for many accounts: one row per account, columns in schema order.

    Parameters
    ----------
    states : mapping
        account id -> merged state.
    as_of : float
        End of the window, epoch seconds.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``account_id``; ``int64`` and ``float64`` columns as in the schema.
    """
    rows = [features_from_state(st, as_of) for st in states.values()]
    frame = pd.DataFrame(rows, index=pd.Index(list(states), name="account_id"))
    if frame.empty:
        frame = pd.DataFrame(columns=list(FEATURE_NAMES), index=frame.index, dtype="float64")
    frame = frame.reindex(columns=list(FEATURE_NAMES))
    for name in _INT_FEATURES:
        frame[name] = frame[name].round().astype("int64")
    return frame
