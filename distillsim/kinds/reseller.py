"""``reseller`` (distill): one account proxying many end users, with a harvesting share inside."""

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
from distillsim.kinds._common import FOLLOWUPS, random_tz
from distillsim.kinds._harvest import cot_wrap
from distillsim.text import DOMAIN_POOLS, GENERAL_POOLS, cot_phrase, pick, pick_prompt

KIND = "reseller"
LABEL = "distill"


@dataclass(frozen=True, slots=True)
class ResellerParams:
    """Ranges per account of the ``reseller`` kind."""

    per_hour: tuple[float, float]
    end_users: tuple[int, int]
    harvest_share: tuple[float, float]
    max_tokens: tuple[int, int]
    fill: tuple[float, float]


def draw(rng: np.random.Generator) -> ResellerParams:
    """Sample the kind's parameter ranges."""
    return ResellerParams(
        per_hour=(uniform(rng, (15.0, 25.0)), uniform(rng, (35.0, 70.0))),
        end_users=(int(uniform(rng, (50, 200))), int(uniform(rng, (500, 2000)))),
        harvest_share=(uniform(rng, (0.2, 0.3)), uniform(rng, (0.45, 0.7))),
        max_tokens=(int(uniform(rng, (2000, 3000))), int(uniform(rng, (4096, 8192)))),
        fill=(uniform(rng, (0.5, 0.7)), uniform(rng, (0.9, 1.1))),
    )


def build(world: World, p: ResellerParams, n: int, key: int) -> list[Account]:
    """Create ``n`` reseller accounts."""
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        rng = acc.rng
        acc.tz = random_tz(rng)
        acc.ips = [netid.datacenter_ip(rng) for _ in range(int(rng.integers(2, 6)))]
        acc.uas = [netid.sdk_ua(rng)]
        n_eu = int(log_uniform(rng, p.end_users))
        share = uniform(rng, p.harvest_share)
        max_tok = int(uniform(rng, p.max_tokens))
        fill = uniform(rng, p.fill)
        phrases = [cot_phrase(rng) for _ in range(int(rng.integers(2, 8)))]
        harvesters = max(1, int(n_eu * 0.03))
        pools = GENERAL_POOLS + DOMAIN_POOLS["math"] + DOMAIN_POOLS["code"]
        ts = renewal_times(rng, world.t0, world.t1, log_uniform(rng, p.per_hour), 1.1)
        for t in ts.tolist():
            ip = pick(rng, acc.ips)
            if rng.random() < share:
                eu = f"ru{int(rng.integers(harvesters)):05d}"
                system, user = cot_wrap(rng, phrases, pick_prompt(rng, world.pack, pools), "suffix")
                request(
                    acc,
                    t,
                    model=pick(rng, ("gpt-4o", "o3-mini", "gpt-4.1")),
                    system=system,
                    user=user,
                    out_median=max_tok * fill,
                    out_sigma=0.3,
                    max_tokens=max_tok,
                    end_user=eu,
                    ip=ip,
                )
            else:
                eu = f"ru{int(rng.integers(harvesters, n_eu)):05d}"
                user = (
                    pick_prompt(rng, world.pack, GENERAL_POOLS)
                    if rng.random() < 0.8
                    else pick(rng, FOLLOWUPS)
                )
                request(
                    acc,
                    t,
                    model=pick(rng, ("gpt-4o-mini", "gpt-4o")),
                    user=user,
                    out_median=uniform(rng, (120.0, 500.0)),
                    out_sigma=0.7,
                    end_user=eu,
                    ip=ip,
                    stream=True,
                )
        out.append(acc)
    return out
