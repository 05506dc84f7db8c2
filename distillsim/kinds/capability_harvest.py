"""``capability_harvest`` (distill): one narrow capability at volume, long outputs, no CoT words."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillsim import netid
from distillsim.core import Account, World, new_account, request, uniform
from distillsim.kinds._common import random_tz
from distillsim.kinds._harvest import harvest_schedule
from distillsim.text import DOMAIN_POOLS, pick

KIND = "capability_harvest"
LABEL = "distill"

_SYSTEMS = {
    "code": ("You are an expert programmer.", "You write complete, production-quality code.", None),
    "math": ("You are a mathematician.", "Provide complete solutions.", None),
    "roleplay": ("Stay in character at all times.", "You are a creative writing partner.", None),
    "tool": ("You are an API expert.", None),
}


@dataclass(frozen=True, slots=True)
class CapabilityHarvestParams:
    """Ranges per account of the ``capability_harvest`` kind."""

    per_hour: tuple[float, float]
    cv: tuple[float, float]
    around_clock_p: float
    max_tokens: tuple[int, int]
    fill: tuple[float, float]


def draw(rng: np.random.Generator) -> CapabilityHarvestParams:
    """Sample the kind's parameter ranges."""
    return CapabilityHarvestParams(
        per_hour=(uniform(rng, (3.0, 6.0)), uniform(rng, (10.0, 28.0))),
        cv=(uniform(rng, (0.2, 0.5)), uniform(rng, (0.8, 1.5))),
        around_clock_p=uniform(rng, (0.4, 0.9)),
        max_tokens=(int(uniform(rng, (1500, 3000))), int(uniform(rng, (4096, 8192)))),
        fill=(uniform(rng, (0.45, 0.65)), uniform(rng, (0.85, 1.1))),
    )


def build(world: World, p: CapabilityHarvestParams, n: int, key: int) -> list[Account]:
    """Create ``n`` capability-harvesting accounts."""
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        rng = acc.rng
        acc.tz = random_tz(rng)
        acc.ips = [netid.datacenter_ip(rng) for _ in range(int(rng.integers(1, 3)))]
        acc.uas = [pick(rng, (netid.sdk_ua(rng), netid.scripted_ua(rng)))]
        domain = pick(rng, ("code", "code", "math", "math", "roleplay", "tool"))
        pools = DOMAIN_POOLS[domain]
        system = _SYSTEMS[domain][int(rng.integers(len(_SYSTEMS[domain])))]
        max_tok = int(uniform(rng, p.max_tokens))
        fill = uniform(rng, p.fill)
        model = pick(rng, ("gpt-4o", "gpt-4.1", "o4-mini"))
        ts = harvest_schedule(rng, world, acc.tz, p.per_hour, p.cv, p.around_clock_p, (9.0, 16.0))
        for t in ts.tolist():
            pool = world.pack.by_name(pick(rng, pools))
            request(
                acc,
                t,
                model=model,
                system=system,
                user=pool.texts[int(rng.integers(len(pool)))],
                out_median=max_tok * fill,
                out_sigma=0.3,
                max_tokens=max_tok,
                temperature=0.8,
            )
        out.append(acc)
    return out
