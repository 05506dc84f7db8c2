"""``logit_bias_probe`` (distill): logit_bias maps, tiny max_tokens, a few repeated prompts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillsim import netid
from distillsim.core import (
    Account,
    World,
    log_uniform,
    new_account,
    renewal_times,
    request,
    uniform,
)
from distillsim.kinds._common import random_tz
from distillsim.text import GENERAL_POOLS, pick, pick_prompt

KIND = "logit_bias_probe"
LABEL = "distill"


@dataclass(frozen=True, slots=True)
class LogitBiasProbeParams:
    """Ranges per account of the ``logit_bias_probe`` kind."""

    per_hour: tuple[float, float]
    bursts_per_day: tuple[float, float]
    burst_hours: tuple[float, float]
    prompts: tuple[int, int]
    bias_size: tuple[int, int]
    max_tokens: tuple[int, int]
    logprobs_p: float


def draw(rng: np.random.Generator) -> LogitBiasProbeParams:
    """Sample the kind's parameter ranges."""
    return LogitBiasProbeParams(
        per_hour=(uniform(rng, (20.0, 50.0)), uniform(rng, (80.0, 200.0))),
        bursts_per_day=(uniform(rng, (0.3, 0.7)), uniform(rng, (1.0, 2.0))),
        burst_hours=(uniform(rng, (0.1, 0.3)), uniform(rng, (0.5, 1.5))),
        prompts=(int(uniform(rng, (2, 4))), int(uniform(rng, (8, 20)))),
        bias_size=(1, int(uniform(rng, (50, 300)))),
        max_tokens=(1, int(rng.integers(2, 6))),
        logprobs_p=uniform(rng, (0.2, 0.9)),
    )


def build(world: World, p: LogitBiasProbeParams, n: int, key: int) -> list[Account]:
    """Create ``n`` logit-bias probing accounts."""
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        rng = acc.rng
        acc.tz = random_tz(rng)
        acc.ips = [netid.datacenter_ip(rng)]
        acc.uas = [pick(rng, (netid.sdk_ua(rng), netid.scripted_ua(rng)))]
        prompts = [
            pick_prompt(rng, world.pack, GENERAL_POOLS)[:800]
            for _ in range(int(rng.integers(p.prompts[0], p.prompts[1] + 1)))
        ]
        rate = log_uniform(rng, p.per_hour)
        lp = rng.random() < p.logprobs_p
        model = pick(rng, ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"))
        n_bursts = max(1, int(rng.poisson(log_uniform(rng, p.bursts_per_day) * world.days)))
        for _ in range(n_bursts):
            s = world.t0 + rng.random() * (world.t1 - world.t0)
            for t in renewal_times(
                rng, s, s + uniform(rng, p.burst_hours) * 3600, rate, 0.3
            ).tolist():
                mt = int(rng.integers(p.max_tokens[0], p.max_tokens[1] + 1))
                size = int(log_uniform(rng, (max(p.bias_size[0], 1), p.bias_size[1])))
                request(
                    acc,
                    t,
                    model=model,
                    user=pick(rng, prompts),
                    out_median=mt,
                    out_sigma=0.0,
                    max_tokens=mt,
                    temperature=0.0,
                    logit_bias_size=size,
                    logprobs=lp,
                    top_logprobs=5 if lp else 0,
                )
        out.append(acc)
    return out
