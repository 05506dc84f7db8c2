"""The neutral feature row inline tests start from.

A rule test names only the features it is about; every other feature takes the value
below, which describes a *typical benign chat user* over a one- to two-day window: a
few dozen varied, mostly untemplated prompts on mixed topics, ordinary output lengths,
no probing parameters, bursty human timing during part of the day, one key from one or
two networks. No shipped rule may match this row (a test checks it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from detector.features.schema import FEATURE_NAMES

__all__ = ["BENIGN_DEFAULTS", "feature_row", "missing_defaults"]

BENIGN_DEFAULTS: Mapping[str, float] = {
    # volume: 40 requests over a 10-hour span, human pace
    "n_events": 40,
    "events_per_hour": 4.0,
    "peak_hour_events": 8,
    "peak_2h_events": 12,
    "completion_tokens_per_hour": 1400.0,
    "active_span_hours": 10.0,
    "active_hour_share": 0.5,
    "peak_hour_share": 0.2,
    "failure_share": 0.01,
    "active_hours": 5,
    "active_days": 1,
    "idle_hours": 12.0,
    # diversity: varied prompts, mixed topics
    "distinct_prompt_ratio": 0.95,
    "near_dup_share": 0.05,
    "template_share": 0.1,
    "distinct_templates": 36.0,
    "distinct_system_prompts": 1.0,
    "topic_top_share": 0.3,
    "topic_entropy": 2.5,
    "math_topic_share": 0.05,
    "mean_prompt_words": 60.0,
    # harvest: ordinary answers
    "completion_prompt_ratio": 0.8,
    "mean_completion_tokens": 350.0,
    "completion_tokens_cv": 0.8,
    "reasoning_token_share": 0.1,
    "output_tokens_per_prompt": 370.0,
    "novel_output_tokens": 13300.0,
    "max_tokens_large_share": 0.05,
    "finish_length_share": 0.01,
    "multi_choice_share": 0.0,
    "mean_n": 1.0,
    "cot_share": 0.05,
    "mean_cot_score": 0.05,
    "peak_2h_cot_events": 1,
    "harvest_hours": 0,
    # probing: none
    "logprobs_share": 0.0,
    "mean_top_logprobs": 0.0,
    "top_logprobs_ge5_share": 0.0,
    "logit_bias_share": 0.0,
    "mean_logit_bias_size": 0.0,
    "max_tokens_tiny_share": 0.0,
    "prompt_repeat_share": 0.05,
    "temp0_share": 0.1,
    "seed_share": 0.0,
    # timing: bursty, part of the day
    "gap_cv": 2.5,
    "median_gap_s": 60.0,
    "hours_of_day_active": 8,
    "hour_entropy": 2.8,
    "sub_second_gap_share": 0.02,
    # infrastructure: one key, home and office
    "distinct_ips": 2.0,
    "distinct_ip_prefixes": 2.0,
    "distinct_user_agents": 2.0,
    "distinct_api_keys": 1.0,
    "distinct_end_users": 0.0,
    "end_user_share": 0.0,
    "requests_per_end_user": 40.0,
    "cot_requests_per_cot_end_user": 0.0,
    "cot_end_user_concentration": 0.0,
    "distinct_models": 2.0,
    # legit look-alike signals: mostly absent
    "mcq_share": 0.02,
    "short_answer_share": 0.05,
    "tools_share": 0.05,
    "stream_share": 0.6,
    "json_format_share": 0.05,
    "has_system_share": 0.3,
}


def missing_defaults() -> list[str]:
    """Schema features without a default (a test keeps this empty)."""
    return [name for name in FEATURE_NAMES if name not in BENIGN_DEFAULTS]


def feature_row(overrides: Mapping[str, float | None] | None = None) -> dict[str, float]:
    """A full feature row: :data:`BENIGN_DEFAULTS` updated with ``overrides``.

    Parameters
    ----------
    overrides : mapping, optional
        Feature name -> value; ``None`` becomes NaN (missing).

    Returns
    -------
    dict
        Every schema feature, in schema order, as ``float`` (NaN for a feature added to
        the schema but not yet given a default).
    """
    row = {name: float(BENIGN_DEFAULTS.get(name, math.nan)) for name in FEATURE_NAMES}
    for name, value in (overrides or {}).items():
        if name not in row:
            raise KeyError(f"unknown feature {name!r}")
        row[name] = math.nan if value is None else float(value)
    return row
