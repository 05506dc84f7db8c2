"""Cluster scoring: features of a whole cluster, its harvest score, risk and action.

A cluster's features come from its members' additive counters summed (combined volume,
chain-of-thought share, long outputs, logprobs...) and their HyperLogLogs merged
(combined prompt diversity: a campaign splitting one dataset over many accounts shows
distinct prompts across the cluster through a few shared templates), plus the strength
of the links that hold it together.

The **harvest score** in [0, 1] is a noisy-OR of ramps over output-harvesting and
probing signals (chain-of-thought elicitation, long and length-cut outputs, reasoning
tokens, large ``max_tokens``, ``n > 1``, top-logprobs, ``logit_bias``, tiny probes),
damped by the signals of legitimate look-alikes (multiple-choice evaluations,
short-answer formats, tool-using agents, greedy decoding at temperature 0 as evaluation
harnesses and batch jobs run). The same function scores each member alone,
so a cluster also knows the share of its members that are individually suspicious.

Action: ``block`` when at least ``block_size`` coordinated accounts harvest
(``harvest >= block_harvest``); ``review`` for a smaller harvesting cluster, a weaker
harvest signal, or a cluster where most members are individually suspicious; otherwise
``allow`` with zero risk (coordination alone - one company's accounts behind one NAT
running one internal tool - is not abuse).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from detector.aggregates import ADDITIVE, HOUR_S, AccountState
from detector.linking.config import LinkConfig
from detector.sketches import HyperLogLog

__all__ = ["HARVEST_SIGNALS", "ClusterScore", "harvest_scores", "ratios", "score_cluster"]

_IDX = {name: i for i, name in enumerate(ADDITIVE)}

# signal -> (numerator counter, denominator counter, ramp lo, ramp hi, weight)
HARVEST_SIGNALS: dict[str, tuple[str, str, float, float, float]] = {
    "cot_share": ("n_cot", "n", 0.15, 0.6, 0.75),
    "mean_completion_tokens": ("sum_completion_tokens", "n", 400.0, 1500.0, 0.4),
    "reasoning_token_share": ("sum_reasoning_tokens", "sum_completion_tokens", 0.3, 0.7, 0.4),
    "finish_length_share": ("n_finish_length", "n", 0.1, 0.4, 0.3),
    "max_tokens_large_share": ("n_max_tokens_large", "n", 0.3, 0.8, 0.3),
    "top_logprobs_ge5_share": ("n_top_logprobs_ge5", "n", 0.3, 0.8, 0.6),
    "multi_choice_share": ("n_multi_choice", "n", 0.2, 0.6, 0.5),
    "logit_bias_share": ("n_logit_bias", "n", 0.2, 0.6, 0.5),
    "max_tokens_tiny_share": ("n_max_tokens_tiny", "n", 0.3, 0.8, 0.4),
}
# legitimate look-alike signals: (numerator counter, ramp lo, ramp hi)
LEGIT_SIGNALS: dict[str, tuple[str, float, float]] = {
    "mcq_share": ("n_mcq", 0.3, 0.7),
    "short_answer_share": ("n_short_answer", 0.3, 0.7),
    "tools_share": ("n_tools", 0.3, 0.7),
    "temp0_share": ("n_temp0", 0.5, 0.95),
}
LEGIT_DAMPING = 0.8
# Greedy decoding (temperature 0) is what evaluation harnesses and batch jobs do; a
# harvesting operation can copy it, so among many accounts it damps the harvest less.
GREEDY_SIGNAL = "temp0_share"
GREEDY_LARGE_CLUSTER = 20
GREEDY_LARGE_DAMPING = 0.4


def _ramp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def ratios(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Harvest and look-alike ratios from additive counters.

    Parameters
    ----------
    counts : numpy.ndarray
        ``(rows, len(ADDITIVE))`` counters (one row per account or per cluster).

    Returns
    -------
    dict
        Signal name -> ratio per row.
    """
    counts = np.atleast_2d(counts)
    out: dict[str, np.ndarray] = {}
    n = counts[:, _IDX["n"]]

    def share(num: str, den: np.ndarray) -> np.ndarray:
        return np.where(den > 0, counts[:, _IDX[num]] / np.maximum(den, 1e-12), 0.0)

    for name, (num, den, *_rest) in HARVEST_SIGNALS.items():
        out[name] = share(num, counts[:, _IDX[den]])
    for name, (num, _lo, _hi) in LEGIT_SIGNALS.items():
        out[name] = share(num, n)
    out["logprobs_share"] = share("n_logprobs", n)
    return out


def harvest_scores(counts: np.ndarray, accounts: int = 1) -> np.ndarray:
    """Harvest score in [0, 1] per row of additive counters.

    Parameters
    ----------
    counts : numpy.ndarray
        ``(rows, len(ADDITIVE))`` counters.
    accounts : int
        Accounts behind each row (1 for a member, the size for a cluster).

    Returns
    -------
    numpy.ndarray
        Noisy-OR of the harvest ramps, damped by the strongest look-alike signal
        (multiple-choice, short-answer, tool use, greedy decoding; greedy decoding damps
        a cluster of ``GREEDY_LARGE_CLUSTER`` or more accounts only half as much).
    """
    r = ratios(counts)
    survive = np.ones(np.atleast_2d(counts).shape[0])
    for name, (_num, _den, lo, hi, weight) in HARVEST_SIGNALS.items():
        survive *= 1.0 - weight * _ramp(r[name], lo, hi)
    damping = np.zeros_like(survive)
    for name, (_num, lo, hi) in LEGIT_SIGNALS.items():
        weight = LEGIT_DAMPING
        if name == GREEDY_SIGNAL and accounts >= GREEDY_LARGE_CLUSTER:
            weight = GREEDY_LARGE_DAMPING
        damping = np.maximum(damping, weight * _ramp(r[name], lo, hi))
    return (1.0 - survive) * (1.0 - damping)


@dataclass(slots=True)
class ClusterScore:
    """Features, risk and action of one cluster.

    Attributes
    ----------
    features : dict
        Cluster features (see :func:`score_cluster`).
    harvest : float
        Cluster harvest score in [0, 1].
    coordination : float
        Strength of the links holding the cluster together, in [0, 1].
    risk : float
        Risk every member receives from the cluster, in [0, 1].
    action : str
        ``block``, ``review`` or ``allow``.
    """

    features: dict[str, float]
    harvest: float
    coordination: float
    risk: float
    action: str


def _merged_count(sketches: Sequence[HyperLogLog]) -> float:
    if not sketches:
        return 0.0
    acc = HyperLogLog(p=sketches[0].p, sparse_max=sketches[0].sparse_max)
    for s in sketches:
        acc.merge(s)
    return acc.count()


def score_cluster(
    members: Sequence[str],
    states: Mapping[str, AccountState],
    member_harvest: np.ndarray,
    edge_kinds: np.ndarray,
    edge_weight: np.ndarray,
    config: LinkConfig,
) -> ClusterScore:
    """Score one cluster.

    Parameters
    ----------
    members : sequence of str
        Member account ids.
    states : mapping
        Account id -> merged state.
    member_harvest : numpy.ndarray
        Harvest score of each member alone (aligned with ``members``).
    edge_kinds : numpy.ndarray
        ``(edges, 3)`` kind strengths (infrastructure, content, timing) of the cluster's
        internal edges.
    edge_weight : numpy.ndarray
        Weights of those edges.
    config : LinkConfig
        Thresholds.

    Returns
    -------
    ClusterScore
        Features: ``size``, ``n_events``, ``completion_tokens``, ``events_per_hour``,
        ``span_hours``, ``distinct_prompt_ratio`` and ``distinct_templates`` (merged
        sketches), ``prompts_per_template``, the harvest ratios, ``edges``, ``density``,
        ``mean_edge_weight``, the share of links with each kind, ``sync_strength``
        (mean timing strength), ``suspicious_member_share``, ``harvest``,
        ``coordination``.
    """
    member_states = [states[m] for m in members]
    counts = np.sum([st.counts for st in member_states], axis=0)
    n = float(counts[_IDX["n"]])
    first = min(st.first_ts for st in member_states)
    last = max(st.last_ts for st in member_states)
    span_h = max((last - first) / HOUR_S, 1.0)
    r = {k: float(v[0]) for k, v in ratios(counts).items()}
    distinct_prompts = _merged_count([st.sketches["prompt"] for st in member_states])
    distinct_templates = _merged_count([st.sketches["skeleton"] for st in member_states])
    size = len(members)
    harvest = float(harvest_scores(counts, accounts=size)[0])
    n_edges = max(edge_weight.size, 1)
    has = edge_kinds > 0
    mean_weight = float(edge_weight.mean()) if edge_weight.size else 0.0
    coordination = float(np.clip(mean_weight / 2.0, 0.0, 1.0))
    suspicious = float(np.mean(member_harvest >= config.member_suspicious)) if size else 0.0
    features = {
        "size": float(size),
        "n_events": n,
        "completion_tokens": float(counts[_IDX["sum_completion_tokens"]]),
        "events_per_hour": n / span_h,
        "span_hours": span_h,
        "distinct_prompt_ratio": min(distinct_prompts / n, 1.0) if n else 0.0,
        "distinct_templates": distinct_templates,
        "prompts_per_template": distinct_prompts / max(distinct_templates, 1.0),
        **r,
        "edges": float(edge_weight.size),
        "density": float(edge_weight.size) / max(size * (size - 1) / 2.0, 1.0),
        "mean_edge_weight": mean_weight,
        "infrastructure_link_share": float(has[:, 0].sum() / n_edges) if has.size else 0.0,
        "content_link_share": float(has[:, 1].sum() / n_edges) if has.size else 0.0,
        "timing_link_share": float(has[:, 2].sum() / n_edges) if has.size else 0.0,
        "sync_strength": float(edge_kinds[:, 2].mean()) if has.size else 0.0,
        "suspicious_member_share": suspicious,
        "harvest": harvest,
        "coordination": coordination,
    }
    if size >= config.block_size and harvest >= config.block_harvest:
        action = "block"
    elif harvest >= config.review_harvest or (size >= config.block_size and suspicious >= 0.5):
        action = "review"
    else:
        action = "allow"
    size_factor = min(1.0, size / max(config.block_size, 1))
    risk = harvest * (0.6 + 0.4 * coordination) * (0.5 + 0.5 * size_factor)
    if action == "block":
        risk = max(risk, 0.9)
    elif action == "review":
        risk = min(max(risk, 0.4), 0.85)
    else:
        risk = 0.0
    return ClusterScore(features, harvest, coordination, round(float(risk), 4), action)
