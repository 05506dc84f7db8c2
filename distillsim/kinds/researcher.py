"""``researcher`` (benign): logprobs / top_logprobs (and some logit_bias) at low volume."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillsim.core import (
    Account,
    World,
    diurnal_sessions,
    human_hour_weights,
    log_uniform,
    new_account,
    request,
    uniform,
)
from distillsim.kinds._common import human_identity
from distillsim.text import DOMAIN_POOLS, GENERAL_POOLS, pick, pick_prompt

KIND = "researcher"
LABEL = "benign"


@dataclass(frozen=True, slots=True)
class ResearcherParams:
    """Ranges per account of the ``researcher`` kind."""

    per_day: tuple[float, float]
    logprobs_p: tuple[float, float]
    top_logprobs: tuple[int, int]
    logit_bias_p: tuple[float, float]
    logit_bias_size: tuple[int, int]
    per_session: tuple[float, float]


def draw(rng: np.random.Generator) -> ResearcherParams:
    """Sample the kind's parameter ranges."""
    return ResearcherParams(
        per_day=(uniform(rng, (3.0, 8.0)), uniform(rng, (30.0, 80.0))),
        logprobs_p=(uniform(rng, (0.3, 0.6)), uniform(rng, (0.8, 1.0))),
        top_logprobs=(int(uniform(rng, (1, 5))), int(uniform(rng, (10, 21)))),
        logit_bias_p=(0.0, uniform(rng, (0.05, 0.3))),
        logit_bias_size=(1, int(uniform(rng, (5, 30)))),
        per_session=(uniform(rng, (3.0, 6.0)), uniform(rng, (10.0, 30.0))),
    )


def build(world: World, p: ResearcherParams, n: int, key: int) -> list[Account]:
    """Create ``n`` researcher accounts."""
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        rng = acc.rng
        human_identity(acc, sdk_p=0.9, campus_p=0.6)
        w = human_hour_weights(rng, 0.5, 0.05)
        sessions = diurnal_sessions(
            rng,
            world.t0,
            world.t1,
            acc.tz,
            log_uniform(rng, p.per_day),
            w,
            uniform(rng, p.per_session),
            (3.0, 120.0),
            0.7,
        )
        lp_p = uniform(rng, p.logprobs_p)
        lb_p = uniform(rng, p.logit_bias_p)
        k_top = int(rng.integers(p.top_logprobs[0], p.top_logprobs[1] + 1))
        model = pick(rng, ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"))
        pools = GENERAL_POOLS + DOMAIN_POOLS["math"]
        for sess in sessions:
            user = pick_prompt(rng, world.pack, pools)
            for t in sess:
                if rng.random() < 0.4:  # often the same prompt with varied parameters
                    user = pick_prompt(rng, world.pack, pools)
                lp = rng.random() < lp_p
                lb = (
                    int(rng.integers(p.logit_bias_size[0], p.logit_bias_size[1] + 1))
                    if rng.random() < lb_p
                    else 0
                )
                mt = int(pick(rng, ("1", "5", "16", "64", "256", "512")))
                request(
                    acc,
                    t,
                    model=model,
                    user=user,
                    out_median=min(mt, 200),
                    out_sigma=0.6,
                    temperature=round(float(rng.choice([0.0, 0.7, 1.0])), 1),
                    max_tokens=mt,
                    logprobs=lp,
                    top_logprobs=k_top if lp else 0,
                    logit_bias_size=lb,
                    seed=rng.random() < 0.5,
                )
        out.append(acc)
    return out
