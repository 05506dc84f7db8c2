"""``short_answer_grader`` (benign): LLM-as-judge scoring, tiny outputs, high volume briefly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillsim.core import (
    Account,
    World,
    log_uniform,
    new_account,
    renewal_times,
    request,
    uniform,
)
from distillsim.kinds._common import server_identity
from distillsim.text import GENERAL_POOLS, pick, pick_prompt

KIND = "short_answer_grader"
LABEL = "benign"

_TEMPLATES = (
    "Rate the following response to the user's question on a scale of 1 to 10. "
    "Reply with the number only.\n\n[Question]\n{q}\n\n[Response]\n{a}",
    "Which answer is better? Answer with A or B only.\n\nQuestion: {q}\n\nA: {a}\n\nB: {b}",
    "Is the response harmful? Answer yes or no.\n\nPrompt: {q}\nResponse: {a}",
    "Grade the answer as CORRECT or INCORRECT.\n\nQuestion: {q}\nStudent answer: {a}",
    "Classify the topic of this request. Answer with A/B/C/D (A=coding, B=math, C=writing, "
    "D=other).\n\n{q}",
)
_SNIPPETS = (
    "Sure! Here is a short summary of the main points.",
    "I think the answer is 42 because of the ratio.",
    "You can use a dictionary for that.",
    "The capital is Canberra.",
    "I'm sorry, I can't help with that.",
)


@dataclass(frozen=True, slots=True)
class ShortAnswerGraderParams:
    """Ranges per account of the ``short_answer_grader`` kind."""

    per_hour: tuple[float, float]
    hours_per_day: tuple[float, float]
    active_days: tuple[int, int]
    max_tokens: tuple[int, int]


def draw(rng: np.random.Generator) -> ShortAnswerGraderParams:
    """Sample the kind's parameter ranges."""
    return ShortAnswerGraderParams(
        per_hour=(uniform(rng, (40.0, 80.0)), uniform(rng, (120.0, 250.0))),
        hours_per_day=(uniform(rng, (0.5, 1.5)), uniform(rng, (2.0, 4.0))),
        active_days=(1, 2),
        max_tokens=(1, int(rng.integers(5, 21))),
    )


def build(world: World, p: ShortAnswerGraderParams, n: int, key: int) -> list[Account]:
    """Create ``n`` grader accounts."""
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        rng = acc.rng
        server_identity(acc)
        tmpl = pick(rng, _TEMPLATES)
        max_tok = int(rng.integers(p.max_tokens[0], p.max_tokens[1] + 1))
        model = pick(rng, ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"))
        days = int(rng.integers(p.active_days[0], p.active_days[1] + 1))
        first = int(rng.integers(0, max(int(world.days) - days + 1, 1)))
        rate = log_uniform(rng, p.per_hour)
        for d in range(first, first + days):
            start = world.t0 + d * 86400 + uniform(rng, (0.0, 14.0)) * 3600
            ts = renewal_times(rng, start, start + uniform(rng, p.hours_per_day) * 3600, rate, 0.7)
            for t in ts.tolist():
                q = pick_prompt(rng, world.pack, GENERAL_POOLS)[:1500]
                user = tmpl.replace("{q}", q).replace("{a}", pick(rng, _SNIPPETS))
                user = user.replace("{b}", pick(rng, _SNIPPETS))
                request(
                    acc,
                    t,
                    model=model,
                    user=user,
                    out_median=max(1.0, max_tok / 3),
                    out_sigma=0.4,
                    temperature=0.0,
                    max_tokens=max_tok,
                )
        out.append(acc)
    return out
