"""``agentic_harvest`` (distill): agent system prompt + tools, but single-turn long outputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillsim import netid
from distillsim.core import Account, World, new_account, request, uniform
from distillsim.kinds._common import random_tz
from distillsim.kinds._harvest import harvest_schedule
from distillsim.text import DOMAIN_POOLS, pick, pick_prompt

KIND = "agentic_harvest"
LABEL = "distill"

_ROLES = (
    "an autonomous agent",
    "a tool-using assistant",
    "an expert software agent",
    "a planning agent",
)
_DUTY = (
    "Use the available tools when helpful.",
    "Plan your approach, call tools if needed, and produce a complete, detailed final answer.",
    "Decide which tools to use and explain your plan thoroughly.",
    "Write out the full solution, including all code and a detailed explanation.",
)


@dataclass(frozen=True, slots=True)
class AgenticHarvestParams:
    """Ranges per account of the ``agentic_harvest`` kind."""

    per_hour: tuple[float, float]
    cv: tuple[float, float]
    around_clock_p: float
    tools: tuple[int, int]
    fill: tuple[float, float]
    max_tokens: int


def draw(rng: np.random.Generator) -> AgenticHarvestParams:
    """Sample the kind's parameter ranges."""
    return AgenticHarvestParams(
        per_hour=(uniform(rng, (3.0, 6.0)), uniform(rng, (10.0, 25.0))),
        cv=(uniform(rng, (0.2, 0.5)), uniform(rng, (0.8, 1.4))),
        around_clock_p=uniform(rng, (0.6, 0.95)),
        tools=(int(uniform(rng, (3, 6))), int(uniform(rng, (8, 15)))),
        fill=(uniform(rng, (0.55, 0.75)), uniform(rng, (0.9, 1.2))),
        max_tokens=4096,
    )


def build(world: World, p: AgenticHarvestParams, n: int, key: int) -> list[Account]:
    """Create ``n`` agentic-harvesting accounts."""
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        rng = acc.rng
        acc.tz = random_tz(rng)
        acc.ips = [netid.datacenter_ip(rng) for _ in range(int(rng.integers(1, 3)))]
        acc.uas = [netid.sdk_ua(rng)]
        system = f"You are {pick(rng, _ROLES)}. {pick(rng, _DUTY)}"
        n_tools = int(rng.integers(p.tools[0], p.tools[1] + 1))
        fill = uniform(rng, p.fill)
        pools = DOMAIN_POOLS["code"] + DOMAIN_POOLS["instruct"] + ("gpteacher_tool",)
        model = pick(rng, ("gpt-4.1", "gpt-4o", "o4-mini"))
        ts = harvest_schedule(rng, world, acc.tz, p.per_hour, p.cv, p.around_clock_p, (10.0, 16.0))
        for t in ts.tolist():
            request(
                acc,
                t,
                model=model,
                system=system,
                user=pick_prompt(rng, world.pack, pools),
                out_median=p.max_tokens * fill,
                out_sigma=0.25,
                max_tokens=p.max_tokens,
                tools_count=n_tools,
                tool_call_p=0.05,
                temperature=0.7,
            )
        out.append(acc)
    return out
