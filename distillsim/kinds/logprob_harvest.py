"""``logprob_harvest`` (distill): top_logprobs 5-20 on diverse prompts, sustained volume."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillsim import netid
from distillsim.core import Account, World, new_account, request, uniform
from distillsim.kinds._common import random_tz
from distillsim.kinds._harvest import harvest_schedule
from distillsim.text import DOMAIN_POOLS, GENERAL_POOLS, pick, pick_prompt

KIND = "logprob_harvest"
LABEL = "distill"


@dataclass(frozen=True, slots=True)
class LogprobHarvestParams:
    """Ranges per account of the ``logprob_harvest`` kind."""

    per_hour: tuple[float, float]
    cv: tuple[float, float]
    around_clock_p: float
    top_logprobs: tuple[int, int]
    max_tokens: tuple[int, int]
    fill: tuple[float, float]


def draw(rng: np.random.Generator) -> LogprobHarvestParams:
    """Sample the kind's parameter ranges."""
    return LogprobHarvestParams(
        per_hour=(uniform(rng, (3.0, 6.0)), uniform(rng, (10.0, 28.0))),
        cv=(uniform(rng, (0.2, 0.5)), uniform(rng, (0.8, 1.5))),
        around_clock_p=uniform(rng, (0.5, 0.9)),
        top_logprobs=(5, int(rng.integers(10, 21))),
        max_tokens=(int(uniform(rng, (256, 512))), int(uniform(rng, (1024, 2048)))),
        fill=(uniform(rng, (0.4, 0.6)), uniform(rng, (0.8, 1.1))),
    )


def build(world: World, p: LogprobHarvestParams, n: int, key: int) -> list[Account]:
    """Create ``n`` logprob-harvesting accounts."""
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        rng = acc.rng
        acc.tz = random_tz(rng)
        acc.ips = [netid.datacenter_ip(rng) for _ in range(int(rng.integers(1, 4)))]
        acc.uas = [pick(rng, (netid.sdk_ua(rng), netid.scripted_ua(rng)))]
        k = int(rng.integers(p.top_logprobs[0], p.top_logprobs[1] + 1))
        max_tok = int(uniform(rng, p.max_tokens))
        fill = uniform(rng, p.fill)
        pools = GENERAL_POOLS + DOMAIN_POOLS["instruct"] + DOMAIN_POOLS["math"]
        model = pick(rng, ("gpt-4o", "gpt-4o-mini", "gpt-4.1"))
        ts = harvest_schedule(rng, world, acc.tz, p.per_hour, p.cv, p.around_clock_p, (9.0, 16.0))
        for t in ts.tolist():
            request(
                acc,
                t,
                model=model,
                user=pick_prompt(rng, world.pack, pools),
                out_median=max_tok * fill,
                out_sigma=0.3,
                max_tokens=max_tok,
                temperature=1.0,
                logprobs=True,
                top_logprobs=k,
                ip=pick(rng, acc.ips),
            )
        out.append(acc)
    return out
