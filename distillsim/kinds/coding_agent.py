"""``coding_agent`` (benign): tool-calling agent loops with long, growing repeated context."""

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
from distillsim.kinds._common import human_identity
from distillsim.text import DOMAIN_POOLS, pick, pick_prompt

KIND = "coding_agent"
LABEL = "benign"

_SYSTEMS = (
    "You are an autonomous coding agent working in the user's repository. Use the tools to "
    "inspect files, make minimal changes and run the tests. Explain briefly what you changed.",
    "You are a software engineering assistant inside an IDE. Prefer small, reviewable edits. "
    "Always run the relevant tests after editing.",
    "You are a CLI pair programmer. Think about which tool to call, call it, and continue until "
    "the task is done.",
)
_UAS = (
    "claude-cli/1.0.{v}",
    "aider/0.{v}.0",
    "continue/0.9.{v}",
    "OpenAI/JS 4.{v}.0",
    "cline/3.{v}.0",
)


@dataclass(frozen=True, slots=True)
class CodingAgentParams:
    """Ranges per account of the ``coding_agent`` kind."""

    tasks_per_day: tuple[float, float]
    steps: tuple[int, int]
    base_context: tuple[int, int]
    growth_per_step: tuple[int, int]
    step_gap_s: tuple[float, float]
    tools: tuple[int, int]
    out_median: tuple[float, float]
    tool_call_p: tuple[float, float]


def draw(rng: np.random.Generator) -> CodingAgentParams:
    """Sample the kind's parameter ranges."""
    return CodingAgentParams(
        tasks_per_day=(uniform(rng, (0.5, 2.0)), uniform(rng, (3.0, 8.0))),
        steps=(int(uniform(rng, (3, 8))), int(uniform(rng, (15, 40)))),
        base_context=(int(uniform(rng, (2000, 5000))), int(uniform(rng, (8000, 20000)))),
        growth_per_step=(int(uniform(rng, (300, 800))), int(uniform(rng, (1200, 3000)))),
        step_gap_s=(uniform(rng, (2.0, 5.0)), uniform(rng, (10.0, 40.0))),
        tools=(int(uniform(rng, (4, 7))), int(uniform(rng, (10, 18)))),
        out_median=(uniform(rng, (40.0, 100.0)), uniform(rng, (150.0, 400.0))),
        tool_call_p=(uniform(rng, (0.6, 0.75)), uniform(rng, (0.8, 0.95))),
    )


def build(world: World, p: CodingAgentParams, n: int, key: int) -> list[Account]:
    """Create ``n`` coding-agent accounts (a developer or a small team)."""
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i), n_keys=int(acc_keys(i)))
        rng = acc.rng
        human_identity(acc, sdk_p=0.0)
        acc.uas = [pick(rng, _UAS).replace("{v}", str(int(rng.integers(1, 60))))]
        if rng.random() < 0.3:
            acc.ips.append(netid.datacenter_ip(rng))
        system = pick(rng, _SYSTEMS)
        n_tools = int(rng.integers(p.tools[0], p.tools[1] + 1))
        w = human_hour_weights(rng, 0.3, 0.02)
        sessions = diurnal_sessions(
            rng,
            world.t0,
            world.t1,
            acc.tz,
            log_uniform(rng, p.tasks_per_day),
            w,
            1.0,
            (1.0, 2.0),
            0.85,
        )
        med = uniform(rng, p.out_median)
        tcp = uniform(rng, p.tool_call_p)
        model = pick(rng, ("gpt-4.1", "gpt-4o", "o4-mini", "gpt-4.1-mini"))
        for sess in sessions:
            task = pick_prompt(rng, world.pack, DOMAIN_POOLS["code"])
            steps = int(rng.integers(p.steps[0], p.steps[1] + 1))
            ctx = int(uniform(rng, p.base_context))
            growth = int(uniform(rng, p.growth_per_step))
            t = sess[0]
            for s in range(steps):
                ev = request(
                    acc,
                    t,
                    model=model,
                    system=system,
                    user=task,
                    n_messages=2 + 2 * s,
                    context_tokens=ctx,
                    out_median=med,
                    tools_count=n_tools,
                    tool_call_p=tcp if s < steps - 1 else 0.0,
                    temperature=0.2,
                    stream=True,
                    api_key=pick(rng, acc.keys),
                )
                ctx += int(growth * rng.uniform(0.5, 1.5))
                t += (ev["latency_s"] or 1.0) + log_uniform(rng, p.step_gap_s)
        out.append(acc)
    return out


def acc_keys(i: int) -> int:
    """Keys per account: most developers have one, some two or three."""
    return 1 + (i % 5 == 0) + (i % 11 == 0)
