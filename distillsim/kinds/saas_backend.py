"""``saas_backend`` (benign): one product system prompt, many end users, 24/7, short answers."""

from __future__ import annotations

import math
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
from distillsim.text import GENERAL_POOLS, pick, pick_prompt, product_system_prompt

KIND = "saas_backend"
LABEL = "benign"
_NAMES = ("Acme", "Brightly", "Nimbus", "Quokka", "Tandem", "Velo", "Orbit", "Kite", "Lumen")


@dataclass(frozen=True, slots=True)
class SaasBackendParams:
    """Ranges per account of the ``saas_backend`` kind."""

    per_hour: tuple[float, float]
    end_users: tuple[int, int]
    daily_swing: tuple[float, float]
    out_median: tuple[float, float]
    max_tokens: tuple[int, int]


def draw(rng: np.random.Generator) -> SaasBackendParams:
    """Sample the kind's parameter ranges."""
    return SaasBackendParams(
        per_hour=(uniform(rng, (0.5, 2.0)), uniform(rng, (5.0, 15.0))),
        end_users=(int(uniform(rng, (100, 400))), int(uniform(rng, (1000, 5000)))),
        daily_swing=(uniform(rng, (0.1, 0.3)), uniform(rng, (0.5, 0.9))),
        out_median=(uniform(rng, (40.0, 80.0)), uniform(rng, (120.0, 250.0))),
        max_tokens=(int(uniform(rng, (150, 300))), int(uniform(rng, (400, 800)))),
    )


def build(world: World, p: SaasBackendParams, n: int, key: int) -> list[Account]:
    """Create ``n`` SaaS back-end accounts."""
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        rng = acc.rng
        server_identity(acc, n_ips=(1, 4))
        system = product_system_prompt(rng, pick(rng, _NAMES))
        n_eu = int(log_uniform(rng, p.end_users))
        swing = uniform(rng, p.daily_swing)
        med = uniform(rng, p.out_median)
        max_tok = int(uniform(rng, p.max_tokens))
        model = pick(rng, ("gpt-4o-mini", "gpt-4.1-mini"))
        rate = log_uniform(rng, p.per_hour)
        ts = renewal_times(rng, world.t0, world.t1, rate * (1 + swing), 1.0)
        eu_prefix = pick(rng, ("u_", "cust-", "", "user:"))
        for t in ts.tolist():
            hour = ((t / 3600.0) + acc.tz) % 24
            keep = 1.0 - swing * (1 + math.cos((hour - 15.0) / 24 * 2 * math.pi)) / 2
            if rng.random() > keep:
                continue
            eu = f"{eu_prefix}{int(rng.zipf(1.3)) % n_eu:06d}"
            request(
                acc,
                t,
                model=model,
                system=system,
                user=pick_prompt(rng, world.pack, GENERAL_POOLS),
                out_median=med,
                out_sigma=0.5,
                temperature=0.5,
                max_tokens=max_tok,
                end_user=eu,
                ip=pick(rng, acc.ips),
                stream=True,
            )
        out.append(acc)
    return out
