"""``chat`` (benign): people chatting in a browser or a small script, in their own day."""

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
from distillsim.kinds._common import FOLLOWUPS, human_identity, pick_model
from distillsim.text import DOMAIN_POOLS, GENERAL_POOLS, cot_phrase, pick, pick_prompt

KIND = "chat"
LABEL = "benign"


@dataclass(frozen=True, slots=True)
class ChatParams:
    """Ranges per account of the ``chat`` kind (drawn per seed by :func:`draw`)."""

    per_day: tuple[float, float]
    active_day_p: tuple[float, float]
    per_session: tuple[float, float]
    multi_turn_p: float
    step_by_step_p: float
    sdk_p: float
    evening: tuple[float, float]
    night: float
    out_median: tuple[float, float]
    max_tokens_p: float
    stream_p: float
    code_math_p: float


def draw(rng: np.random.Generator) -> ChatParams:
    """Sample the kind's parameter ranges."""
    return ChatParams(
        per_day=(uniform(rng, (1.0, 3.0)), uniform(rng, (20.0, 60.0))),
        active_day_p=(uniform(rng, (0.25, 0.5)), uniform(rng, (0.7, 1.0))),
        per_session=(uniform(rng, (1.2, 2.0)), uniform(rng, (3.0, 7.0))),
        multi_turn_p=uniform(rng, (0.15, 0.6)),
        step_by_step_p=uniform(rng, (0.02, 0.15)),
        sdk_p=uniform(rng, (0.03, 0.3)),
        evening=(uniform(rng, (0.1, 0.4)), uniform(rng, (0.6, 1.3))),
        night=uniform(rng, (0.01, 0.08)),
        out_median=(uniform(rng, (80.0, 200.0)), uniform(rng, (350.0, 900.0))),
        max_tokens_p=uniform(rng, (0.0, 0.3)),
        stream_p=uniform(rng, (0.4, 0.95)),
        code_math_p=uniform(rng, (0.1, 0.4)),
    )


MODEL_W = {"gpt-4o-mini": 5, "gpt-4o": 3, "gpt-4.1-mini": 2, "gpt-4.1": 1, "o3-mini": 1}


def chat_sessions(world: World, acc: Account, p: ChatParams, share: float = 1.0) -> None:
    """Generate one person's chat traffic into ``acc`` (also used by ``mixed``)."""
    rng = acc.rng
    per_day = log_uniform(rng, p.per_day) * share
    w = human_hour_weights(rng, uniform(rng, p.evening), p.night)
    sessions = diurnal_sessions(
        rng,
        world.t0,
        world.t1,
        acc.tz,
        per_day,
        w,
        uniform(rng, p.per_session),
        (15.0, 400.0),
        uniform(rng, p.active_day_p),
    )
    model = pick_model(rng, MODEL_W)
    out_med = uniform(rng, p.out_median)
    stream = rng.random() < p.stream_p
    mt = rng.random() < p.max_tokens_p
    temp = None if rng.random() < 0.6 else round(uniform(rng, (0.2, 1.2)), 1)
    sysp = None if rng.random() < 0.7 else "You are a helpful assistant."
    for sess in sessions:
        pools = (
            DOMAIN_POOLS[pick(rng, ("math", "code"))]
            if rng.random() < p.code_math_p
            else GENERAL_POOLS
        )
        user = pick_prompt(rng, world.pack, pools)
        if rng.random() < p.step_by_step_p:
            user = (
                user
                + ("\n\n" if rng.random() < 0.5 else " ")
                + pick(
                    rng, ("Explain step by step.", "Can you explain step by step?", cot_phrase(rng))
                )
            )
        ctx = 0
        depth = 0
        for j, ts in enumerate(sess):
            turn = j > 0 and rng.random() < p.multi_turn_p
            if j > 0 and not turn:
                user = pick_prompt(rng, world.pack, pools)
                ctx, depth = 0, 0
            elif turn:
                user = pick(rng, FOLLOWUPS)
                depth += 1
            n_msg = (2 if sysp else 1) + 2 * min(depth, 12)
            ev = request(
                acc,
                ts,
                model=model if rng.random() < 0.9 else pick_model(rng, MODEL_W),
                system=sysp,
                user=user,
                n_messages=n_msg,
                context_tokens=ctx,
                out_median=out_med,
                out_sigma=0.8,
                temperature=temp,
                max_tokens=int(pick(rng, ("1024", "2048", "4096"))) if mt else None,
                stream=stream,
                ip=pick(rng, acc.ips),
                user_agent=pick(rng, acc.uas),
            )
            ctx += ev["prompt_tokens"] + ev["completion_tokens"]
            ctx = min(ctx, 30000)


def build(world: World, p: ChatParams, n: int, key: int) -> list[Account]:
    """Create ``n`` chat accounts."""
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        human_identity(acc, sdk_p=p.sdk_p)
        chat_sessions(world, acc, p)
        out.append(acc)
    return out
