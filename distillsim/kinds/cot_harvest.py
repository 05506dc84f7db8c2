"""``cot_harvest`` (distill): varied prompts + paraphrased reasoning requests, long outputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillsim import netid
from distillsim.core import Account, World, new_account, request, uniform
from distillsim.kinds._common import random_tz
from distillsim.kinds._harvest import cot_wrap, harvest_schedule
from distillsim.text import DOMAIN_POOLS, GENERAL_POOLS, cot_phrase, pick, pick_prompt

KIND = "cot_harvest"
LABEL = "distill"


@dataclass(frozen=True, slots=True)
class CotHarvestParams:
    """Ranges per account of the ``cot_harvest`` kind."""

    per_hour: tuple[float, float]
    cv: tuple[float, float]
    around_clock_p: float
    session_hours: tuple[float, float]
    phrasings: tuple[int, int]
    max_tokens: tuple[int, int]
    fill: tuple[float, float]
    residential_p: float
    reasoning_model_p: float


def draw(rng: np.random.Generator) -> CotHarvestParams:
    """Sample the kind's parameter ranges."""
    return CotHarvestParams(
        per_hour=(uniform(rng, (3.0, 6.0)), uniform(rng, (10.0, 28.0))),
        cv=(uniform(rng, (0.2, 0.5)), uniform(rng, (0.8, 1.5))),
        around_clock_p=uniform(rng, (0.4, 0.8)),
        session_hours=(uniform(rng, (8.0, 11.0)), uniform(rng, (13.0, 18.0))),
        phrasings=(1, int(rng.integers(3, 12))),
        max_tokens=(int(uniform(rng, (1500, 2500))), int(uniform(rng, (4096, 8192)))),
        fill=(uniform(rng, (0.5, 0.7)), uniform(rng, (0.9, 1.2))),
        residential_p=uniform(rng, (0.1, 0.5)),
        reasoning_model_p=uniform(rng, (0.1, 0.5)),
    )


def build(world: World, p: CotHarvestParams, n: int, key: int) -> list[Account]:
    """Create ``n`` CoT-harvesting accounts."""
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        rng = acc.rng
        acc.tz = random_tz(rng)
        if rng.random() < p.residential_p:
            acc.ips = [netid.residential_ip(rng, acc.tz)]
        else:
            acc.ips = [netid.datacenter_ip(rng) for _ in range(int(rng.integers(1, 4)))]
        acc.uas = [pick(rng, (netid.sdk_ua(rng), netid.scripted_ua(rng)))]
        k = int(rng.integers(p.phrasings[0], p.phrasings[1] + 1))
        phrases = [cot_phrase(rng) for _ in range(k)]
        placement = pick(rng, ("system", "prefix", "suffix"))
        pools = GENERAL_POOLS + DOMAIN_POOLS["math"] + DOMAIN_POOLS["code"]
        max_tok = int(uniform(rng, p.max_tokens))
        fill = uniform(rng, p.fill)
        model = (
            "o3-mini" if rng.random() < p.reasoning_model_p else pick(rng, ("gpt-4o", "gpt-4.1"))
        )
        temp = pick(rng, (None, "0.7", "1.0", "0.3"))
        ts = harvest_schedule(
            rng, world, acc.tz, p.per_hour, p.cv, p.around_clock_p, p.session_hours
        )
        for t in ts.tolist():
            system, user = cot_wrap(rng, phrases, pick_prompt(rng, world.pack, pools), placement)
            request(
                acc,
                t,
                model=model,
                system=system,
                user=user,
                out_median=max_tok * fill,
                out_sigma=0.3,
                max_tokens=max_tok,
                temperature=None if temp is None else float(temp),
                ip=pick(rng, acc.ips),
            )
        out.append(acc)
    return out
