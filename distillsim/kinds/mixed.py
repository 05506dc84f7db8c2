"""``mixed`` (distill): an ordinary person's chat account that also runs a harvesting job
(10-50 % of its traffic) from the same key."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from distillsim.core import Account, World, new_account, renewal_times, request, uniform
from distillsim.kinds import chat
from distillsim.kinds._common import human_identity
from distillsim.kinds._harvest import cot_wrap
from distillsim.text import DOMAIN_POOLS, GENERAL_POOLS, cot_phrase, pick, pick_prompt

KIND = "mixed"
LABEL = "distill"


@dataclass(frozen=True, slots=True)
class MixedParams:
    """Ranges per account of the ``mixed`` kind."""

    chat: chat.ChatParams
    harvest_share: tuple[float, float]
    job_hours: tuple[float, float]
    max_tokens: tuple[int, int]
    fill: tuple[float, float]
    cot_p: float


def draw(rng: np.random.Generator) -> MixedParams:
    """Sample the kind's parameter ranges."""
    base = chat.draw(rng)
    base = dataclasses.replace(
        base, per_day=(uniform(rng, (8.0, 15.0)), uniform(rng, (30.0, 60.0)))
    )
    return MixedParams(
        chat=base,
        harvest_share=(0.1, 0.5),
        job_hours=(uniform(rng, (2.0, 4.0)), uniform(rng, (6.0, 12.0))),
        max_tokens=(int(uniform(rng, (1500, 2500))), int(uniform(rng, (4096, 8192)))),
        fill=(uniform(rng, (0.5, 0.7)), uniform(rng, (0.9, 1.1))),
        cot_p=uniform(rng, (0.5, 1.0)),
    )


def build(world: World, p: MixedParams, n: int, key: int) -> list[Account]:
    """Create ``n`` mixed accounts."""
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        rng = acc.rng
        human_identity(acc, sdk_p=0.5)
        chat.chat_sessions(world, acc, p.chat)
        n_chat = max(len(acc.events), 10)
        share = uniform(rng, p.harvest_share)
        n_job = int(n_chat * share / (1 - share))
        # the job runs in the evening / overnight windows of the owner's day
        hours = uniform(rng, p.job_hours)
        days = max(int(np.ceil(world.days)), 1)
        rate = n_job / max(hours * days, 0.1)
        begin = uniform(rng, (18.0, 23.0))
        max_tok = int(uniform(rng, p.max_tokens))
        fill = uniform(rng, p.fill)
        cot = rng.random() < p.cot_p
        phrases = [cot_phrase(rng) for _ in range(int(rng.integers(1, 4)))]
        pools = GENERAL_POOLS + DOMAIN_POOLS["math"] + DOMAIN_POOLS["code"]
        ua = pick(rng, acc.uas)
        for d in range(days):
            s = world.t0 + d * 86400 + (begin - acc.tz) * 3600
            for t in renewal_times(rng, s, s + hours * 3600, rate, 0.6).tolist():
                text = pick_prompt(rng, world.pack, pools)
                system, user = cot_wrap(rng, phrases, text, "suffix") if cot else (None, text)
                request(
                    acc,
                    t,
                    model=pick(rng, ("gpt-4o", "o3-mini")),
                    system=system,
                    user=user,
                    out_median=max_tok * fill,
                    out_sigma=0.3,
                    max_tokens=max_tok,
                    ip=acc.ips[0],
                    user_agent=ua,
                )
        acc.events.sort(key=lambda e: e["ts"])
        out.append(acc)
    return out
