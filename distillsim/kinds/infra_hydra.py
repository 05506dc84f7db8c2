"""``infra_hydra`` (distill, campaign): many accounts on shared proxy / datacenter prefixes,
scripted UA, synchronised waves, shared templates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillsim import netid
from distillsim.core import Account, World, new_account, request, uniform
from distillsim.kinds.content_swarm import _split
from distillsim.text import DOMAIN_POOLS, GENERAL_POOLS, cot_phrase, pick, pick_prompt

KIND = "infra_hydra"
LABEL = "distill"
CAMPAIGN = True


@dataclass(frozen=True, slots=True)
class InfraHydraParams:
    """Ranges of the ``infra_hydra`` kind (per campaign, then per member)."""

    members: tuple[int, int]
    prefixes: tuple[int, int]
    wave_every_h: tuple[float, float]
    wave_minutes: tuple[float, float]
    per_member_wave: tuple[int, int]
    max_tokens: tuple[int, int]
    fill: tuple[float, float]
    cot_p: float


def draw(rng: np.random.Generator) -> InfraHydraParams:
    """Sample the kind's parameter ranges."""
    return InfraHydraParams(
        members=(int(uniform(rng, (6, 12))), int(uniform(rng, (20, 45)))),
        prefixes=(1, int(rng.integers(2, 6))),
        wave_every_h=(uniform(rng, (0.5, 1.5)), uniform(rng, (2.0, 6.0))),
        wave_minutes=(uniform(rng, (2.0, 6.0)), uniform(rng, (10.0, 30.0))),
        per_member_wave=(1, int(rng.integers(3, 10))),
        max_tokens=(int(uniform(rng, (1024, 2048))), int(uniform(rng, (4096, 8192)))),
        fill=(uniform(rng, (0.5, 0.7)), uniform(rng, (0.9, 1.1))),
        cot_p=uniform(rng, (0.4, 1.0)),
    )


def build(world: World, p: InfraHydraParams, n: int, key: int) -> list[Account]:
    """Create ``n`` hydra members, grouped into campaigns."""
    out: list[Account] = []
    crng = world.rng(key, 900_000)
    idx = 0
    for size in _split(crng, n, p.members):
        cid = f"hydra-{crng.bytes(4).hex()}"
        prefixes = [
            netid.datacenter_slash24(crng)
            for _ in range(int(crng.integers(p.prefixes[0], p.prefixes[1] + 1)))
        ]
        uas = [netid.scripted_ua(crng) for _ in range(int(crng.integers(1, 3)))]
        cot = cot_phrase(crng) if crng.random() < p.cot_p else None
        tmpl = pick(
            crng,
            (
                "{q}\n\n{cot}",
                "{cot}\n\n{q}",
                "Task: {q}\n{cot}",
                "### Instruction\n{q}\n\n### Requirements\n{cot}",
            ),
        )
        if cot is None:
            tmpl = pick(crng, ("{q}", "Task: {q}", "### Instruction\n{q}\n\n### Response"))
        domain = pick(crng, ("general", "math", "code", "instruct"))
        pools = GENERAL_POOLS if domain == "general" else DOMAIN_POOLS[domain]
        max_tok = int(uniform(crng, p.max_tokens))
        model = pick(crng, ("gpt-4o", "gpt-4.1", "o3-mini", "gpt-4o-mini"))
        every = uniform(crng, p.wave_every_h) * 3600
        wave_len = uniform(crng, p.wave_minutes) * 60
        t_start = world.t0 + crng.random() * 0.7 * world.days * 86400
        waves = np.arange(t_start, world.t1, every) + crng.normal(
            0, 60, size=len(np.arange(t_start, world.t1, every))
        )
        for _ in range(size):
            acc = new_account(world, KIND, LABEL, (key, idx))
            idx += 1
            rng = acc.rng
            acc.campaign_id = cid
            acc.ips = [
                netid.ip_in_slash24(rng, pick(rng, prefixes))
                for _ in range(int(rng.integers(1, 4)))
            ]
            acc.uas = [pick(rng, uas)]
            fill = uniform(rng, p.fill)
            k = int(rng.integers(p.per_member_wave[0], p.per_member_wave[1] + 1))
            for w0 in waves.tolist():
                for t in (w0 + np.sort(rng.random(k)) * wave_len).tolist():
                    q = pick_prompt(rng, world.pack, pools)
                    user = tmpl.replace("{q}", q).replace("{cot}", cot or "")
                    request(
                        acc,
                        t,
                        model=model,
                        user=user,
                        out_median=max_tok * fill,
                        out_sigma=0.3,
                        max_tokens=max_tok,
                        temperature=0.7,
                        ip=pick(rng, acc.ips),
                    )
            out.append(acc)
    return out
