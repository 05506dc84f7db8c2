"""``sampling_eval`` (benign): pass@k-style runs, n choices per request, then stops."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillsim.core import Account, World, log_uniform, new_account, request, uniform
from distillsim.kinds._common import server_identity
from distillsim.text import DOMAIN_POOLS, pick

KIND = "sampling_eval"
LABEL = "benign"

_INSTR = {
    "code": (
        "Complete the following task. Return only the code in a single block.",
        "Write a correct, efficient solution in Python.",
        "Implement the function described below.",
    ),
    "math": (
        "Solve the problem. Put the final answer in \\boxed{}.",
        "Give the final numeric answer at the end.",
        "Solve and state the answer.",
    ),
}


@dataclass(frozen=True, slots=True)
class SamplingEvalParams:
    """Ranges per account of the ``sampling_eval`` kind."""

    items: tuple[int, int]
    n_choices: tuple[int, int]
    temperature: tuple[float, float]
    max_tokens: tuple[int, int]
    out_median: tuple[float, float]
    rate_per_min: tuple[float, float]


def draw(rng: np.random.Generator) -> SamplingEvalParams:
    """Sample the kind's parameter ranges."""
    return SamplingEvalParams(
        items=(int(uniform(rng, (50, 120))), int(uniform(rng, (200, 400)))),
        n_choices=(2, int(rng.integers(5, 9))),
        temperature=(uniform(rng, (0.6, 0.7)), uniform(rng, (0.8, 1.0))),
        max_tokens=(int(uniform(rng, (1024, 2048))), int(uniform(rng, (3000, 4096)))),
        out_median=(uniform(rng, (300.0, 500.0)), uniform(rng, (700.0, 1500.0))),
        rate_per_min=(uniform(rng, (2.0, 6.0)), uniform(rng, (10.0, 40.0))),
    )


def build(world: World, p: SamplingEvalParams, n: int, key: int) -> list[Account]:
    """Create ``n`` sampling-eval accounts."""
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        rng = acc.rng
        server_identity(acc, n_ips=(1, 2))
        dom = pick(rng, ("code", "math"))
        pool = world.pack.by_name(pick(rng, DOMAIN_POOLS[dom]))
        k = min(int(log_uniform(rng, p.items)), len(pool))
        items = rng.choice(len(pool), size=k, replace=False)
        instr = pick(rng, _INSTR[dom])
        n_ch = int(rng.integers(p.n_choices[0], p.n_choices[1] + 1))
        temp = uniform(rng, p.temperature)
        max_tok = int(uniform(rng, p.max_tokens))
        med = uniform(rng, p.out_median)
        model = pick(rng, ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"))
        start = world.t0 + uniform(rng, (0.0, max(world.days - 0.5, 0.1))) * 86400
        rate = log_uniform(rng, p.rate_per_min) / 60.0
        ts = start + np.cumsum(rng.exponential(1.0 / rate, size=k))
        for t, it in zip(ts.tolist(), items.tolist(), strict=True):
            request(
                acc,
                t,
                model=model,
                system=instr,
                user=pool.texts[it],
                out_median=med,
                n=n_ch,
                temperature=temp,
                top_p=0.95 if rng.random() < 0.5 else None,
                max_tokens=max_tok,
            )
        out.append(acc)
    return out
