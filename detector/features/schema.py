"""The feature schema: every per-account feature, its dtype, unit, family and meaning.

This module is the single list. Rules are validated against it, the model stores its
hash, and ``docs/features.md`` is generated from it (``python -m detector.features.docs``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["FAMILIES", "FEATURES", "FEATURE_NAMES", "FeatureSpec", "schema_hash", "spec"]

FAMILIES: dict[str, str] = {
    "volume": "how much the account sends, and how steadily",
    "diversity": "how varied its prompts are (distinct, near-duplicate, templated, topics)",
    "harvest": "how much output it extracts per request (long outputs, reasoning, n > 1)",
    "probing": "logprobs, logit_bias and tiny-output probes of the model's distribution",
    "timing": "inter-arrival regularity and spread across the day",
    "infrastructure": "IPs, prefixes, user agents, keys and end users behind it",
    "legit": "signals typical of legitimate look-alikes (eval harnesses, tools, SaaS)",
}


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One feature.

    Parameters
    ----------
    name : str
        Column name in feature frames, rules and models.
    dtype : str
        ``float64`` or ``int64``.
    unit : str
        Base unit (``1`` for counts, ``ratio`` for shares in [0, 1], ``s``, ``tokens``...).
    family : str
        Key of :data:`FAMILIES`.
    meaning : str
        One line an analyst understands.
    higher_is_suspicious : bool or None
        Direction used when explaining outliers (None: no direction).
    """

    name: str
    dtype: str
    unit: str
    family: str
    meaning: str
    higher_is_suspicious: bool | None = True


F = FeatureSpec
FEATURES: tuple[FeatureSpec, ...] = (
    # volume
    F("n_events", "int64", "1", "volume", "requests in the window"),
    F(
        "events_per_hour",
        "float64",
        "1/h",
        "volume",
        "requests per hour of the account's active span",
    ),
    F("peak_hour_events", "int64", "1", "volume", "requests in the busiest clock hour"),
    F(
        "peak_2h_events",
        "int64",
        "1",
        "volume",
        "requests in the busiest two consecutive clock hours (a burst, even across an hour "
        "boundary)",
        None,
    ),
    F(
        "completion_tokens_per_hour",
        "float64",
        "tokens/h",
        "volume",
        "output tokens per hour of the active span",
    ),
    F(
        "active_span_hours",
        "float64",
        "h",
        "volume",
        "hours from first to last request (at least 1)",
    ),
    F(
        "active_hour_share",
        "float64",
        "ratio",
        "volume",
        "share of clock hours in the active span with any request (sustained use)",
    ),
    F(
        "peak_hour_share",
        "float64",
        "ratio",
        "volume",
        "share of all requests sent in the busiest hour (bounded burst)",
        False,
    ),
    F(
        "failure_share",
        "float64",
        "ratio",
        "volume",
        "share of failed requests (rate limits, errors)",
    ),
    F(
        "active_hours",
        "int64",
        "1",
        "volume",
        "clock hours with at least one request (sustained activity)",
    ),
    F(
        "active_days",
        "int64",
        "1",
        "volume",
        "UTC days with at least one request",
    ),
    F(
        "idle_hours",
        "float64",
        "h",
        "volume",
        "hours from the last request to the end of the window (a finished run is idle)",
        None,
    ),
    # diversity
    F("distinct_prompt_ratio", "float64", "ratio", "diversity", "distinct prompts / requests"),
    F(
        "near_dup_share",
        "float64",
        "ratio",
        "diversity",
        "share of requests that near-duplicate another of the account's prompts",
    ),
    F(
        "template_share",
        "float64",
        "ratio",
        "diversity",
        "share of requests that reuse one of the account's prompt templates",
    ),
    F(
        "distinct_templates",
        "float64",
        "1",
        "diversity",
        "distinct prompt template skeletons",
        None,
    ),
    F("distinct_system_prompts", "float64", "1", "diversity", "distinct system prompts", None),
    F(
        "topic_top_share",
        "float64",
        "ratio",
        "diversity",
        "share of requests in the account's most common topic",
    ),
    F("topic_entropy", "float64", "bit", "diversity", "entropy of the topic mix", False),
    F("math_topic_share", "float64", "ratio", "diversity", "share of requests on mathematics"),
    F("mean_prompt_words", "float64", "words", "diversity", "mean prompt length in words", None),
    # output harvesting
    F("completion_prompt_ratio", "float64", "ratio", "harvest", "output tokens per input token"),
    F("mean_completion_tokens", "float64", "tokens", "harvest", "mean output tokens per request"),
    F(
        "completion_tokens_cv",
        "float64",
        "ratio",
        "harvest",
        "coefficient of variation of output tokens",
        None,
    ),
    F("reasoning_token_share", "float64", "ratio", "harvest", "reasoning tokens / output tokens"),
    F(
        "output_tokens_per_prompt",
        "float64",
        "tokens",
        "harvest",
        "output tokens per distinct prompt (model-written text obtained per new item)",
    ),
    F(
        "novel_output_tokens",
        "float64",
        "tokens",
        "harvest",
        "output tokens obtained on distinct prompts (output tokens x distinct-prompt ratio)",
    ),
    F(
        "max_tokens_large_share",
        "float64",
        "ratio",
        "harvest",
        "share of requests with max_tokens >= 4000",
    ),
    F(
        "finish_length_share",
        "float64",
        "ratio",
        "harvest",
        "share of responses cut at the length limit",
    ),
    F(
        "multi_choice_share",
        "float64",
        "ratio",
        "harvest",
        "share of requests asking for n > 1 choices",
    ),
    F("mean_n", "float64", "1", "harvest", "mean number of choices per request"),
    F(
        "cot_share",
        "float64",
        "ratio",
        "harvest",
        "share of requests whose text elicits chain of thought",
    ),
    F("mean_cot_score", "float64", "ratio", "harvest", "mean chain-of-thought elicitation score"),
    F(
        "peak_2h_cot_events",
        "int64",
        "1",
        "harvest",
        "chain-of-thought requests in the busiest two consecutive clock hours",
        None,
    ),
    F(
        "harvest_hours",
        "int64",
        "1",
        "harvest",
        "clock hours in which most requests elicit chain of thought with outputs of 1,000+ "
        "tokens on average (harvesting sessions, even inside ordinary traffic)",
    ),
    # probing
    F(
        "logprobs_share",
        "float64",
        "ratio",
        "probing",
        "share of requests asking for token logprobs",
    ),
    F("mean_top_logprobs", "float64", "1", "probing", "mean top_logprobs among logprob requests"),
    F(
        "top_logprobs_ge5_share",
        "float64",
        "ratio",
        "probing",
        "share of requests with top_logprobs >= 5",
    ),
    F("logit_bias_share", "float64", "ratio", "probing", "share of requests with a logit_bias"),
    F(
        "mean_logit_bias_size",
        "float64",
        "1",
        "probing",
        "mean logit_bias entries among biased requests",
    ),
    F(
        "max_tokens_tiny_share",
        "float64",
        "ratio",
        "probing",
        "share of requests with max_tokens <= 2",
    ),
    F(
        "prompt_repeat_share",
        "float64",
        "ratio",
        "probing",
        "share of requests repeating an earlier exact prompt",
    ),
    F("temp0_share", "float64", "ratio", "probing", "share of requests at temperature 0", None),
    F("seed_share", "float64", "ratio", "probing", "share of requests with a fixed seed", None),
    # timing
    F(
        "gap_cv",
        "float64",
        "ratio",
        "timing",
        "coefficient of variation of inter-arrival gaps (low = machine-regular)",
        False,
    ),
    F("median_gap_s", "float64", "s", "timing", "median inter-arrival gap", False),
    F(
        "hours_of_day_active",
        "int64",
        "1",
        "timing",
        "distinct UTC hours of day with activity (0-24)",
    ),
    F(
        "hour_entropy",
        "float64",
        "bit",
        "timing",
        "entropy of activity over the 24 hours of the day",
    ),
    F("sub_second_gap_share", "float64", "ratio", "timing", "share of gaps under one second"),
    # infrastructure
    F("distinct_ips", "float64", "1", "infrastructure", "distinct client IPs"),
    F("distinct_ip_prefixes", "float64", "1", "infrastructure", "distinct /24 prefixes"),
    F("distinct_user_agents", "float64", "1", "infrastructure", "distinct user agents"),
    F("distinct_api_keys", "float64", "1", "infrastructure", "distinct API keys"),
    F(
        "distinct_end_users",
        "float64",
        "1",
        "infrastructure",
        "distinct end users named by the caller",
        None,
    ),
    F(
        "end_user_share",
        "float64",
        "ratio",
        "infrastructure",
        "share of requests naming an end user",
        None,
    ),
    F(
        "requests_per_end_user",
        "float64",
        "1",
        "infrastructure",
        "requests per distinct end user (all requests if none)",
    ),
    F(
        "cot_requests_per_cot_end_user",
        "float64",
        "1",
        "infrastructure",
        "chain-of-thought requests per end user sending them (harvesters hidden behind a reseller)",
    ),
    F(
        "cot_end_user_concentration",
        "float64",
        "ratio",
        "infrastructure",
        "chain-of-thought requests per end user sending them, over requests per end user "
        "(above 1: a few heavy end users do the reasoning requests, as behind a reseller)",
    ),
    F("distinct_models", "float64", "1", "infrastructure", "distinct models used", None),
    # legitimate look-alike signals
    F(
        "mcq_share",
        "float64",
        "ratio",
        "legit",
        "share of multiple-choice questions (evaluation harnesses)",
        False,
    ),
    F(
        "short_answer_share",
        "float64",
        "ratio",
        "legit",
        "share of prompts asking for a short answer only",
        False,
    ),
    F(
        "tools_share",
        "float64",
        "ratio",
        "legit",
        "share of requests offering tools (agents)",
        False,
    ),
    F("stream_share", "float64", "ratio", "legit", "share of streamed requests", None),
    F(
        "json_format_share",
        "float64",
        "ratio",
        "legit",
        "share of requests with a JSON response format",
        False,
    ),
    F(
        "has_system_share",
        "float64",
        "ratio",
        "legit",
        "share of requests with a system prompt",
        None,
    ),
)
del F

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
_BY_NAME = {f.name: f for f in FEATURES}
if len(_BY_NAME) != len(FEATURES):  # pragma: no cover - guarded by tests too
    raise RuntimeError("duplicate feature names in the schema")


def spec(name: str) -> FeatureSpec:
    """Schema entry of one feature (``KeyError`` when unknown)."""
    return _BY_NAME[name]


def schema_hash() -> str:
    """Stable hash of names, dtypes and units; models refuse a schema they were not fit on."""
    text = "\n".join(f"{f.name}:{f.dtype}:{f.unit}" for f in FEATURES)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
