"""Shared machinery of every account kind: the world, account identities, timing, requests.

An account kind builds :class:`Account` objects and appends canonical event dicts
(:data:`detector.events.EVENT_FIELD_NAMES`) to ``account.events`` through
:func:`request`. Every account draws from its own random generator, so adding or
excluding one kind never changes another kind's accounts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from distillsim.legacy.corpora import PromptPack, estimate_tokens

__all__ = [
    "MODELS",
    "Account",
    "Model",
    "World",
    "diurnal_sessions",
    "human_hour_weights",
    "log_uniform",
    "new_account",
    "renewal_times",
    "request",
    "uniform",
]

ENDPOINT = "/v1/chat/completions"


@dataclass(frozen=True, slots=True)
class Model:
    """A served model: name, whether it reports reasoning tokens, output speed (tok/s)."""

    name: str
    reasoning: bool
    tok_per_s: float
    max_output: int


MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        Model("gpt-4o-mini", False, 95.0, 16384),
        Model("gpt-4o", False, 60.0, 16384),
        Model("gpt-4.1-mini", False, 85.0, 32768),
        Model("gpt-4.1", False, 55.0, 32768),
        Model("o3-mini", True, 120.0, 100000),
        Model("o4-mini", True, 110.0, 100000),
    )
}
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)


@dataclass(slots=True)
class World:
    """Global context of one simulation.

    Parameters
    ----------
    seed : int
        Master seed.
    t0, t1 : float
        Period start / end, epoch seconds.
    pack : PromptPack
        Real prompt pools.
    """

    seed: int
    t0: float
    t1: float
    pack: PromptPack

    @property
    def days(self) -> float:
        """Length of the period in days."""
        return (self.t1 - self.t0) / 86400.0

    def rng(self, *key: int) -> np.random.Generator:
        """A generator seeded by ``(seed, *key)``."""
        return np.random.default_rng([self.seed, *key])


@dataclass(slots=True)
class Account:
    """One billing identity and the requests it made."""

    account_id: str
    kind: str
    label: str
    rng: np.random.Generator
    campaign_id: str = ""
    keys: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    uas: list[str] = field(default_factory=list)
    tz: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)
    user_id: str = ""


def _hex(rng: np.random.Generator, n: int) -> str:
    return rng.bytes((n + 1) // 2).hex()[:n]


def new_account(
    world: World, kind: str, label: str, key: tuple[int, ...], n_keys: int = 1
) -> Account:
    """Create an account with its own generator, a random id and ``n_keys`` key hashes."""
    rng = world.rng(*key)
    acc = Account(account_id=f"org-{_hex(rng, 12)}", kind=kind, label=label, rng=rng)
    acc.keys = [_hex(rng, 64) for _ in range(n_keys)]
    acc.user_id = f"user-{_hex(rng, 8)}"
    return acc


def uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    """Uniform draw in ``[lo, hi]``."""
    return float(rng.uniform(lo_hi[0], lo_hi[1]))


def log_uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    """Log-uniform draw in ``[lo, hi]`` (both > 0)."""
    return float(math.exp(rng.uniform(math.log(lo_hi[0]), math.log(lo_hi[1]))))


def human_hour_weights(rng: np.random.Generator, evening: float, night: float) -> np.ndarray:
    """Relative activity per local hour (24 values, max 1) of one human.

    Work-hours bump, an evening bump of weight ``evening``, a night floor ``night``,
    with a per-person shift of the whole curve by up to +-2 h.
    """
    h = np.arange(24) + rng.uniform(-2.0, 2.0)
    work = np.exp(-0.5 * ((h - 14.0) / 3.2) ** 2)
    eve = evening * np.exp(-0.5 * ((h - 21.0) / 1.8) ** 2)
    w = np.maximum(work + eve, night)
    return w / w.max()


def diurnal_sessions(
    rng: np.random.Generator,
    t0: float,
    t1: float,
    tz: float,
    per_day: float,
    weights: np.ndarray,
    per_session: float,
    gap_s: tuple[float, float],
    active_day_p: float = 1.0,
) -> list[list[float]]:
    """Human-like activity: sessions placed by an hour-of-day profile, requests within.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    t0, t1 : float
        Window (epoch seconds).
    tz : float
        UTC offset of the person, hours.
    per_day : float
        Mean requests per active day.
    weights : numpy.ndarray
        24 relative activity weights (local hours).
    per_session : float
        Mean requests per session (geometric).
    gap_s : (float, float)
        Range of gaps between requests of a session, seconds (log-uniform).
    active_day_p : float
        Probability that a given day is active at all.

    Returns
    -------
    list of list of float
        Sessions, each a sorted list of request times.
    """
    sessions: list[list[float]] = []
    per_session = max(per_session, 1.0)
    day0 = math.floor((t0 + tz * 3600.0) / 86400.0)
    day1 = math.ceil((t1 + tz * 3600.0) / 86400.0)
    p = weights / weights.sum()
    for day in range(day0, day1):
        if rng.random() > active_day_p:
            continue
        n_sess = int(rng.poisson(per_day / per_session))
        for _ in range(n_sess):
            hour = int(rng.choice(24, p=p))
            start = day * 86400.0 - tz * 3600.0 + (hour + rng.random()) * 3600.0
            k = int(rng.geometric(1.0 / per_session))
            times = [start]
            for _ in range(k - 1):
                times.append(times[-1] + log_uniform(rng, gap_s))
            times = [t for t in times if t0 <= t < t1]
            if times:
                sessions.append(times)
    sessions.sort(key=lambda s: s[0])
    return sessions


def renewal_times(
    rng: np.random.Generator, t0: float, t1: float, rate_per_h: float, cv: float
) -> np.ndarray:
    """Arrival times of a gamma renewal process (``cv`` = coefficient of variation of gaps)."""
    if rate_per_h <= 0 or t1 <= t0:
        return np.empty(0)
    mean = 3600.0 / rate_per_h
    shape = 1.0 / max(cv, 0.05) ** 2
    n = int((t1 - t0) / mean * 1.3) + 10
    gaps = rng.gamma(shape, mean / shape, size=n)
    ts = t0 + rng.random() * mean + np.cumsum(gaps)
    return ts[ts < t1]


def _lognormal_tokens(rng: np.random.Generator, median: float, sigma: float) -> int:
    return max(1, int(median * math.exp(sigma * rng.standard_normal())))


def request(
    acc: Account,
    ts: float,
    *,
    model: str,
    user: str,
    out_median: float,
    out_sigma: float = 0.5,
    system: str | None = None,
    n_messages: int | None = None,
    context_tokens: int = 0,
    temperature: float | None = None,
    top_p: float | None = None,
    n: int = 1,
    max_tokens: int | None = None,
    logprobs: bool = False,
    top_logprobs: int = 0,
    logit_bias_size: int = 0,
    seed: bool = False,
    stream: bool = False,
    tools_count: int = 0,
    response_format: str | None = None,
    end_user: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    api_key: str | None = None,
    tool_call_p: float = 0.0,
    fail_p: float = 0.004,
) -> dict[str, Any]:
    """Append one canonical event to ``acc.events`` and return it.

    Token counts come from the texts (prompt) and a lognormal around ``out_median``
    per choice (completion), cut at ``max_tokens`` (then ``finish_reason`` = length).
    """
    rng = acc.rng
    m = MODELS[model]
    if n_messages is None:
        n_messages = 2 if system else 1
    ptok = estimate_tokens(user) + (estimate_tokens(system) if system else 0) + context_tokens
    ptok += 4 * n_messages + 3 + 40 * tools_count
    cap = max_tokens if max_tokens is not None else m.max_output
    finish = "stop"
    ctok = 0
    for _ in range(max(n, 1)):
        one = _lognormal_tokens(rng, out_median, out_sigma)
        if one >= cap:
            one = cap
            finish = "length"
        ctok += one
    reasoning = 0
    if m.reasoning:
        reasoning = int(ctok * rng.uniform(0.3, 0.8))
    if tools_count and finish == "stop" and rng.random() < tool_call_p:
        finish = "tool_calls"
    status = "success"
    latency = 0.25 + rng.gamma(2.0, 0.2) + ctok / (m.tok_per_s * rng.uniform(0.7, 1.3))
    if rng.random() < fail_p:
        status, finish, ptok, ctok, reasoning = "failure", None, 0, 0, 0
        latency = 0.05 + rng.random() * 2.0
    ev = {
        "ts": round(float(ts), 3),
        "request_id": "",
        "account_id": acc.account_id,
        "api_key": api_key or acc.keys[0],
        "end_user": end_user,
        "ip": ip or acc.ips[0],
        "user_agent": user_agent or acc.uas[0],
        "endpoint": ENDPOINT,
        "model": model,
        "status": status,
        "latency_s": round(float(latency), 3),
        "prompt_tokens": int(ptok),
        "completion_tokens": int(ctok),
        "reasoning_tokens": int(reasoning),
        "temperature": None if temperature is None else round(float(temperature), 2),
        "top_p": None if top_p is None else round(float(top_p), 2),
        "n": int(n),
        "max_tokens": None if max_tokens is None else int(max_tokens),
        "logprobs": bool(logprobs),
        "top_logprobs": int(top_logprobs),
        "logit_bias_size": int(logit_bias_size),
        "seed": bool(seed),
        "stream": bool(stream),
        "tools_count": int(tools_count),
        "response_format": response_format,
        "n_messages": int(n_messages),
        "system_prompt": system,
        "user_prompt": user,
        "finish_reason": finish,
    }
    ev["request_id"] = _hex(rng, 32)
    acc.events.append(ev)
    return ev
