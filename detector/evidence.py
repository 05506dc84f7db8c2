"""Continuous harvest evidence: what harvesting *is*, scored for every account.

Rules fire on signatures; most accounts match none, and a risk of exactly 0 for them
cannot be ranked. This module scores every account on the properties that follow from
what output harvesting is, independent of any word list or simulated kind:

* **output value**: how much model-written text the account obtains per request and per
  new item (long outputs, outputs much longer than the input, outputs cut at the
  ``max_tokens`` limit, several choices per request, reasoning tokens);
* **elicitation**: what it asks for beyond a plain answer (chain-of-thought wording,
  top logprobs, logit_bias maps);
* **breadth**: new items rather than repeats (a dataset is being swept);
* **persistence**: activity kept up over many clock hours and hours of the day;
* **focus**: one capability harvested (topic concentration);
* **volume**: novel output obtained, as a population percentile.

Against that stands **purpose** evidence of legitimate look-alikes, judged by what the
traffic is for rather than by a listed kind: transformation rather than generation
(output no longer than the input: translation, summarisation, RAG, agents with long
context), short answers (scoring, multiple choice, graders), many end users with a few
requests each (tutoring, SaaS products), and bounded runs that have finished (an
evaluation over a fixed item set, re-runs of the same items).

:func:`harvest_evidence` returns every score in [0, 1] per account;
:func:`detector.fusion.fuse` turns ``evidence`` into the continuous part of the risk and
names the strongest factors in the reasons. The function is pure: the only
population-relative input is the volume percentile, computed within the frame given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["EVIDENCE_COLUMNS", "EvidenceConfig", "harvest_evidence", "purpose_text"]

EVIDENCE_COLUMNS: tuple[str, ...] = (
    "output_value",
    "elicitation",
    "breadth",
    "persistence",
    "focus",
    "volume",
    "harvest",
    "purpose",
    "evidence",
)

_PURPOSES: dict[str, str] = {
    "transform": "outputs no longer than inputs (translation, summaries, RAG, agents)",
    "short_answers": "short answers (scoring, multiple choice, graders)",
    "many_end_users": "many end users with a few requests each (a product's users)",
    "bounded_run": "a bounded run that has finished, or re-runs of the same items",
}


@dataclass(frozen=True, slots=True)
class EvidenceConfig:
    """Scales and weights of the evidence score.

    Every scale is a property of LLM traffic, not of a simulated population: an answer
    of ``long_output_tokens`` is long, an output ``gain_full`` times the input is pure
    generation, and so on.

    Parameters
    ----------
    short_output_tokens, long_output_tokens : float
        Mean output length scored 0 and 1 (log scale between).
    gain_full : float
        Output/input token ratio scored 1 (ratio 1 scores 0; log scale between).
    weights : tuple of float
        Weights of output value, elicitation, breadth, persistence and focus in the
        harvest score.
    min_events : int
        Accounts with fewer requests get their harvest score shrunk (to a quarter at
        one request): a handful of requests says little, but still orders accounts.
    purpose_discount : float
        Share of the harvest score removed at full purpose evidence.
    bounded_idle_hours : float
        A run is finished when the account has been idle this long at the window's end.
    bounded_span_hours : float
        Longest active span of a bounded run.
    small_output_volume, large_output_volume : float
        Novel output tokens scored 0 and 1 on the absolute half of the volume factor
        (log scale between): a few dozen long answers are no training set, millions of
        tokens are.
    """

    short_output_tokens: float = 150.0
    long_output_tokens: float = 1500.0
    gain_full: float = 12.0
    weights: tuple[float, float, float, float, float] = (0.36, 0.22, 0.12, 0.20, 0.10)
    min_events: int = 10
    purpose_discount: float = 0.85
    bounded_idle_hours: float = 6.0
    bounded_span_hours: float = 8.0
    small_output_volume: float = 2e4
    large_output_volume: float = 2e6


def _col(f: pd.DataFrame, name: str, default: float = 0.0) -> np.ndarray:
    if name not in f.columns:
        return np.full(len(f), default, dtype=np.float64)
    return f[name].to_numpy(dtype=np.float64, na_value=default)


def _log_scale(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 at ``lo``, 1 at ``hi``, linear in log(x) between, clipped."""
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.log(np.maximum(x, 1e-9) / lo) / np.log(hi / lo)
    return np.clip(np.nan_to_num(v, nan=0.0), 0.0, 1.0)


def _noisy_or(*terms: np.ndarray) -> np.ndarray:
    survive = np.ones_like(terms[0])
    for t in terms:
        survive = survive * (1.0 - np.clip(t, 0.0, 1.0))
    return 1.0 - survive


def _pct(x: np.ndarray) -> np.ndarray:
    """Share of accounts strictly below (ties never lift an account)."""
    if x.size == 0:
        return x
    return (pd.Series(x).rank(method="min").to_numpy() - 1.0) / max(x.size - 1, 1)


def harvest_evidence(features: pd.DataFrame, config: EvidenceConfig | None = None) -> pd.DataFrame:
    """Score every account's harvest and purpose evidence.

    Parameters
    ----------
    features : pandas.DataFrame
        Feature frame indexed by account id (:func:`detector.features.feature_frame`).
    config : EvidenceConfig, optional
        Scales and weights.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``features``, columns :data:`EVIDENCE_COLUMNS` plus one column per
        purpose (``purpose_<name>``); all in [0, 1]. ``evidence`` is the harvest score
        after the purpose discount.
    """
    cfg = config or EvidenceConfig()
    f = features
    n = _col(f, "n_events")
    mean_c = _col(f, "mean_completion_tokens")
    ratio = _col(f, "completion_prompt_ratio")
    mean_n = np.maximum(_col(f, "mean_n", 1.0), 1.0)

    long_out = _log_scale(mean_c, cfg.short_output_tokens, cfg.long_output_tokens)
    gain = _log_scale(ratio, 1.0, cfg.gain_full)
    saturated = np.maximum(_col(f, "finish_length_share"), _col(f, "max_tokens_large_share"))
    multi = np.clip((mean_n - 1.0) / 3.0, 0.0, 1.0)
    reasoning = _col(f, "reasoning_token_share")
    output_value = _noisy_or(
        0.55 * long_out,
        0.45 * gain,
        0.35 * saturated * long_out,
        0.35 * multi * long_out,
        0.4 * reasoning,
    )

    cot = np.maximum(_col(f, "cot_share"), _col(f, "mean_cot_score"))
    top_lp = _col(f, "top_logprobs_ge5_share")
    logit_bias = _col(f, "logit_bias_share")
    elicitation = _noisy_or(0.8 * cot, 0.7 * top_lp, 0.6 * logit_bias)

    breadth = _col(f, "distinct_prompt_ratio")
    hours = _col(f, "active_hours")
    days = np.maximum(_col(f, "active_days"), 1.0)
    # many active clock hours, spread over the day, on every day the account is seen
    persistence = (
        0.4 * np.clip(_col(f, "hours_of_day_active") / 20.0, 0.0, 1.0)
        + 0.3 * np.clip(hours / (16.0 * days), 0.0, 1.0)
        + 0.3 * _col(f, "active_hour_share")
    )
    focus = _col(f, "topic_top_share") * _log_scale(n, 20.0, 2000.0)
    novel = _col(f, "novel_output_tokens")
    # against the population, and against what a training set needs (absolute scale)
    volume = 0.5 * _pct(np.log1p(novel)) + 0.5 * _log_scale(
        novel, cfg.small_output_volume, cfg.large_output_volume
    )

    w = np.asarray(cfg.weights, dtype=np.float64)
    w = w / w.sum()
    harvest = (
        w[0] * output_value
        + w[1] * elicitation
        + w[2] * breadth
        + w[3] * persistence
        + w[4] * focus
    )
    # generation of valuable output is the core: without it nothing else is harvest
    harvest = harvest * (0.35 + 0.65 * np.maximum(output_value, elicitation))
    small = np.clip(n / cfg.min_events, 0.0, 1.0)
    harvest = harvest * (0.5 + 0.5 * volume) * (0.25 + 0.75 * small)

    purposes = _purpose_scores(f, cfg, long_out)
    purpose = _noisy_or(*purposes.values())
    evidence = harvest * (1.0 - cfg.purpose_discount * purpose)

    out = pd.DataFrame(
        {
            "output_value": output_value,
            "elicitation": elicitation,
            "breadth": breadth,
            "persistence": persistence,
            "focus": focus,
            "volume": volume,
            "harvest": harvest,
            "purpose": purpose,
            "evidence": evidence,
        },
        index=f.index,
    )
    for name, values in purposes.items():
        out[f"purpose_{name}"] = values
    return out.clip(0.0, 1.0)


def _purpose_scores(
    f: pd.DataFrame, cfg: EvidenceConfig, long_out: np.ndarray
) -> dict[str, np.ndarray]:
    ratio = _col(f, "completion_prompt_ratio")
    # output at most as long as the input: a transformation of what was sent
    transform = np.clip(1.0 - _log_scale(ratio, 0.7, 2.5), 0.0, 1.0)
    # probes get one-token answers by design: that is not a transformation
    probing = np.maximum(_col(f, "logit_bias_share"), _col(f, "max_tokens_tiny_share"))
    # and a few tokens are an answer, not a transformed text
    transform = (
        transform * (1.0 - probing) * _log_scale(_col(f, "mean_completion_tokens"), 5.0, 50.0)
    )

    short = np.maximum.reduce(
        [_col(f, "mcq_share"), _col(f, "short_answer_share"), _col(f, "max_tokens_tiny_share")]
    )
    short_answers = short * (1.0 - long_out)
    # logit_bias probes use one-token answers on purpose: not a scoring purpose
    short_answers = short_answers * (1.0 - _col(f, "logit_bias_share"))

    users = _col(f, "distinct_end_users")
    per_user = _col(f, "requests_per_end_user")
    cot_per_user = _col(f, "cot_requests_per_cot_end_user")
    many_users = (
        _col(f, "end_user_share")
        * _log_scale(users, 10.0, 200.0)
        * (1.0 - _log_scale(per_user, 10.0, 100.0))
        # a reseller relays harvesting for a few heavy end users among many light ones
        * (1.0 - _log_scale(cot_per_user, 10.0, 60.0))
        # a product's users are alike: whatever reasoning they ask for is spread over
        # them (concentration ~1 or below); a proxy whose reasoning requests come from
        # end users sending twice the average user's traffic relays harvesters
        * (1.0 - np.clip(_col(f, "cot_end_user_concentration") - 1.0, 0.0, 1.0))
    )

    idle = _col(f, "idle_hours")
    span = _col(f, "active_span_hours")
    finished = np.clip(idle / cfg.bounded_idle_hours, 0.0, 1.0)
    short_span = 1.0 - _log_scale(span, cfg.bounded_span_hours, 6.0 * cfg.bounded_span_hours)
    # re-runs of one item set come in separate bounded sessions; a harvester re-sampling
    # its prompts for more answers keeps going around the clock
    repeats = np.clip(_col(f, "prompt_repeat_share") / 0.5, 0.0, 1.0)
    reruns = repeats * (1.0 - np.clip(_col(f, "hours_of_day_active") / 12.0, 0.0, 1.0))
    # a run over an item set is scripted: many requests an hour, not a person's session
    machine_paced = _log_scale(_col(f, "events_per_hour"), 6.0, 40.0)
    bounded_run = np.maximum(finished * short_span * machine_paced, reruns) * (
        1.0 - _col(f, "top_logprobs_ge5_share")
    )
    # a repeated prompt probed with logit_bias is not a re-run
    bounded_run = bounded_run * (1.0 - _col(f, "logit_bias_share"))
    return {
        "transform": transform,
        "short_answers": short_answers,
        "many_end_users": many_users,
        "bounded_run": bounded_run,
    }


def purpose_text(row: Mapping[str, float], floor: float = 0.5) -> list[str]:
    """Readable look-alike purposes of one evidence row (scores at or above ``floor``)."""
    out = []
    for name, meaning in _PURPOSES.items():
        value = float(row.get(f"purpose_{name}", 0.0))
        if value >= floor:
            out.append(f"looks like {meaning} ({value:.2f})")
    return out
