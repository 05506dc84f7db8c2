"""``content_swarm`` (distill, campaign): dozens of human-looking low-volume accounts that share
only a prompt skeleton and a start day.

Each member has its own key, residential IP(s), browser UA and daily rhythm; what ties
them is the numbered question/answer frame and reasoning wording of the campaign, with
different items and numbering, and the day they all started (never the first day).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillsim import netid
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
from distillsim.kinds._common import random_tz
from distillsim.text import DOMAIN_POOLS, GENERAL_POOLS, fill_skeleton, pick, skeleton

KIND = "content_swarm"
LABEL = "distill"
CAMPAIGN = True


@dataclass(frozen=True, slots=True)
class ContentSwarmParams:
    """Ranges of the ``content_swarm`` kind (per campaign, then per member)."""

    members: tuple[int, int]
    per_day: tuple[float, float]
    per_session: tuple[float, float]
    max_tokens: tuple[int, int]
    fill: tuple[float, float]
    evening: tuple[float, float]
    active_day_p: tuple[float, float]


def draw(rng: np.random.Generator) -> ContentSwarmParams:
    """Sample the kind's parameter ranges."""
    return ContentSwarmParams(
        members=(int(uniform(rng, (20, 30))), int(uniform(rng, (45, 80)))),
        per_day=(uniform(rng, (4.0, 10.0)), uniform(rng, (15.0, 40.0))),
        per_session=(uniform(rng, (2.0, 4.0)), uniform(rng, (5.0, 12.0))),
        max_tokens=(int(uniform(rng, (1024, 2048))), int(uniform(rng, (3000, 6000)))),
        fill=(uniform(rng, (0.4, 0.6)), uniform(rng, (0.8, 1.1))),
        evening=(uniform(rng, (0.2, 0.5)), uniform(rng, (0.7, 1.3))),
        active_day_p=(uniform(rng, (0.6, 0.8)), uniform(rng, (0.9, 1.0))),
    )


def _split(rng: np.random.Generator, n: int, size: tuple[int, int]) -> list[int]:
    if n <= size[1]:
        return [n]
    out = []
    while n > 0:
        s = int(rng.integers(size[0], size[1] + 1))
        if n - s < size[0]:
            s = n
        out.append(s)
        n -= s
    return out


def build(world: World, p: ContentSwarmParams, n: int, key: int) -> list[Account]:
    """Create ``n`` swarm members, grouped into campaigns of ``p.members``."""
    out: list[Account] = []
    crng = world.rng(key, 900_000)
    idx = 0
    for size in _split(crng, n, p.members):
        frame = skeleton(crng)
        cid = f"swarm-{crng.bytes(4).hex()}"
        domain = pick(crng, ("math", "general", "code", "instruct"))
        pools = DOMAIN_POOLS[domain] if domain != "general" else GENERAL_POOLS
        max_tok = int(uniform(crng, p.max_tokens))
        last_day = max(int(np.ceil(world.days)) - 1, 1)
        start_day = int(crng.integers(1, last_day + 1)) if world.days > 1 else 0
        t_start = world.t0 + start_day * 86400
        model = pick(crng, ("gpt-4o", "gpt-4.1", "o3-mini"))
        seen_uas: set[str] = set()
        for _ in range(size):
            acc = new_account(world, KIND, LABEL, (key, idx))
            idx += 1
            rng = acc.rng
            acc.campaign_id = cid
            acc.tz = random_tz(rng)
            acc.ips = [netid.residential_ip(rng, acc.tz) for _ in range(int(rng.integers(1, 3)))]
            ua = netid.browser_ua(rng)
            while ua in seen_uas:
                ua = netid.browser_ua(rng)
            seen_uas.add(ua)
            acc.uas = [ua]
            w = human_hour_weights(rng, uniform(rng, p.evening), 0.03)
            sessions = diurnal_sessions(
                rng,
                t_start,
                world.t1,
                acc.tz,
                log_uniform(rng, p.per_day),
                w,
                uniform(rng, p.per_session),
                (30.0, 400.0),
                uniform(rng, p.active_day_p),
            )
            if not sessions:  # every member is active on the start day
                sessions = [[t_start + (uniform(rng, (9.0, 21.0)) - acc.tz) % 24 * 3600]]
            k = int(rng.integers(1, 40))
            fill = uniform(rng, p.fill)
            for sess in sessions:
                for t in sess:
                    pool = world.pack.by_name(pick(rng, pools))
                    item = pool.texts[int(rng.integers(len(pool)))]
                    request(
                        acc,
                        t,
                        model=model,
                        user=fill_skeleton(frame, k, item),
                        out_median=max_tok * fill,
                        out_sigma=0.3,
                        max_tokens=max_tok,
                        stream=True,
                        ip=pick(rng, acc.ips),
                    )
                    k += 1
            out.append(acc)
    return out
