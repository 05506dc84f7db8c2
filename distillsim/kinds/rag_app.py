"""``rag_app`` (benign): long prompts with retrieved context, short grounded answers."""

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

KIND = "rag_app"
LABEL = "benign"

_SYSTEMS = (
    "Answer the question using only the provided context. If the answer is not in the context, "
    "say you don't know. Cite the document ids you used.",
    "You are a documentation assistant. Use the retrieved passages below to answer concisely.",
    "Given the following extracted parts of long documents and a question, create a final answer "
    "with references.",
)


@dataclass(frozen=True, slots=True)
class RagAppParams:
    """Ranges per account of the ``rag_app`` kind."""

    per_hour: tuple[float, float]
    context_tokens: tuple[int, int]
    out_median: tuple[float, float]
    end_user_p: float
    business_hours_p: float


def draw(rng: np.random.Generator) -> RagAppParams:
    """Sample the kind's parameter ranges."""
    return RagAppParams(
        per_hour=(uniform(rng, (0.3, 1.0)), uniform(rng, (3.0, 8.0))),
        context_tokens=(int(uniform(rng, (1000, 2500))), int(uniform(rng, (4000, 12000)))),
        out_median=(uniform(rng, (40.0, 90.0)), uniform(rng, (150.0, 300.0))),
        end_user_p=uniform(rng, (0.2, 0.8)),
        business_hours_p=uniform(rng, (0.3, 0.8)),
    )


def build(world: World, p: RagAppParams, n: int, key: int) -> list[Account]:
    """Create ``n`` RAG-application accounts."""
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        rng = acc.rng
        server_identity(acc)
        system = pick(rng, _SYSTEMS)
        ctx_med = int(log_uniform(rng, p.context_tokens))
        med = uniform(rng, p.out_median)
        users = rng.random() < p.end_user_p
        office = rng.random() < p.business_hours_p
        model = pick(rng, ("gpt-4o-mini", "gpt-4.1-mini", "gpt-4o"))
        ts = renewal_times(rng, world.t0, world.t1, log_uniform(rng, p.per_hour), 1.2)
        for t in ts.tolist():
            hour = ((t / 3600.0) + acc.tz) % 24
            if office and not 8 <= hour < 19 and rng.random() < 0.85:
                continue
            q = pick_prompt(rng, world.pack, GENERAL_POOLS)[:600]
            ctx = int(ctx_med * rng.uniform(0.6, 1.4))
            user = f"Context:\n[{ctx // 400 + 1} retrieved passages]\n\nQuestion: {q}"
            request(
                acc,
                t,
                model=model,
                system=system,
                user=user,
                context_tokens=ctx,
                out_median=med,
                out_sigma=0.5,
                temperature=0.1,
                max_tokens=512,
                end_user=f"emp{int(rng.integers(1, 400)):04d}" if users else None,
            )
        out.append(acc)
    return out
