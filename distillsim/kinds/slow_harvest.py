"""``slow_harvest`` (distill): 10-40 requests an hour for days, jittered, paraphrased CoT."""

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
from distillsim.text import DOMAIN_POOLS, GENERAL_POOLS, cot_phrase, pick, pick_prompt

KIND = "slow_harvest"
LABEL = "distill"


@dataclass(frozen=True, slots=True)
class SlowHarvestParams:
    """Ranges per account of the ``slow_harvest`` kind."""

    per_hour: tuple[float, float]
    cv: tuple[float, float]
    max_tokens: tuple[int, int]
    fill: tuple[float, float]
    residential_p: float
    rotate_ip_p: float
    pause_p: float


def draw(rng: np.random.Generator) -> SlowHarvestParams:
    """Sample the kind's parameter ranges."""
    return SlowHarvestParams(
        per_hour=(10.0, uniform(rng, (15.0, 40.0))),
        cv=(uniform(rng, (0.5, 0.8)), uniform(rng, (1.0, 1.8))),
        max_tokens=(int(uniform(rng, (1500, 2500))), int(uniform(rng, (4096, 8192)))),
        fill=(uniform(rng, (0.45, 0.65)), uniform(rng, (0.85, 1.05))),
        residential_p=uniform(rng, (0.2, 0.7)),
        rotate_ip_p=uniform(rng, (0.0, 0.3)),
        pause_p=uniform(rng, (0.0, 0.2)),
    )


def build(world: World, p: SlowHarvestParams, n: int, key: int) -> list[Account]:
    """Create ``n`` slow-harvesting accounts."""
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        rng = acc.rng
        acc.tz = random_tz(rng)
        res = rng.random() < p.residential_p
        acc.ips = [
            netid.residential_ip(rng, acc.tz) if res else netid.datacenter_ip(rng)
            for _ in range(int(rng.integers(1, 6)))
        ]
        acc.uas = [pick(rng, (netid.sdk_ua(rng), netid.browser_ua(rng), netid.scripted_ua(rng)))]
        max_tok = int(uniform(rng, p.max_tokens))
        fill = uniform(rng, p.fill)
        pools = (
            GENERAL_POOLS + DOMAIN_POOLS["math"] + DOMAIN_POOLS["code"] + DOMAIN_POOLS["instruct"]
        )
        model = pick(rng, ("gpt-4o", "gpt-4.1", "o3-mini", "o4-mini"))
        placement = pick(rng, ("suffix", "prefix", "system"))
        ip = acc.ips[0]
        ts = renewal_times(
            rng, world.t0, world.t1, log_uniform(rng, p.per_hour), uniform(rng, p.cv)
        )
        for t in ts.tolist():
            if rng.random() < p.pause_p * 0.01:
                continue
            if rng.random() < p.rotate_ip_p * 0.05:
                ip = pick(rng, acc.ips)
            phrase = cot_phrase(rng)  # a fresh paraphrase for every request
            text = pick_prompt(rng, world.pack, pools)
            system = phrase if placement == "system" else None
            user = (
                text
                if system
                else (f"{phrase}\n\n{text}" if placement == "prefix" else f"{text}\n\n{phrase}")
            )
            request(
                acc,
                t,
                model=model,
                system=system,
                user=user,
                out_median=max_tok * fill,
                out_sigma=0.3,
                max_tokens=max_tok,
                ip=ip,
            )
        out.append(acc)
    return out
