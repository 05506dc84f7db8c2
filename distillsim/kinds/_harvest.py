"""Building blocks shared by the harvesting kinds: schedules and paraphrased CoT prompts."""

from __future__ import annotations

import numpy as np

from distillsim.core import World, log_uniform, renewal_times, uniform
from distillsim.text import cot_phrase, pick

__all__ = ["cot_wrap", "harvest_schedule"]


def harvest_schedule(
    rng: np.random.Generator,
    world: World,
    tz: float,
    per_hour: tuple[float, float],
    cv: tuple[float, float],
    around_clock_p: float,
    session_hours: tuple[float, float],
    start_day_max: float = 0.5,
) -> np.ndarray:
    """Request times of a harvesting job: around the clock, or long daily work sessions."""
    rate = log_uniform(rng, per_hour)
    c = uniform(rng, cv)
    t_start = world.t0 + rng.random() * start_day_max * 86400
    if rng.random() < around_clock_p:
        return renewal_times(rng, t_start, world.t1, rate, c)
    hours = uniform(rng, session_hours)
    begin = uniform(rng, (6.0, 12.0))
    parts = []
    for d in range(-1, int(np.ceil(world.days)) + 1):
        s = world.t0 + d * 86400 + (begin - tz) * 3600 + rng.normal(0, 1800)
        parts.append(renewal_times(rng, max(s, t_start), s + hours * 3600, rate, c))
    ts = np.concatenate(parts) if parts else np.empty(0)
    return np.sort(ts[(ts >= world.t0) & (ts < world.t1)])


def cot_wrap(
    rng: np.random.Generator, phrases: list[str], text: str, placement: str
) -> tuple[str | None, str]:
    """``(system, user)`` carrying one of ``phrases`` (system prompt, prefix or suffix)."""
    phrase = pick(rng, phrases) if phrases else cot_phrase(rng)
    if placement == "system":
        return phrase, text
    if placement == "prefix":
        return None, f"{phrase}\n\n{text}"
    return None, f"{text}\n\n{phrase}"
