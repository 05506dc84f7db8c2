"""``tutoring_platform`` (benign): one tutor system prompt, hundreds of students in school hours."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillsim.core import Account, World, log_uniform, new_account, request, uniform
from distillsim.kinds._common import server_identity
from distillsim.text import pick

KIND = "tutoring_platform"
LABEL = "benign"

_TUTOR = (
    "You are a patient tutor for {grade} students. Explain step by step, check understanding, "
    "and never just give the final answer without the reasoning.",
    "You are {name}, a friendly {grade} math and science tutor. Break every explanation into "
    "small numbered steps and use simple words.",
    "Act as a Socratic tutor for {grade} learners. Walk the student through the solution step "
    "by step and end with a practice question.",
)
_GRADES = ("middle-school", "high-school", "7th grade", "GCSE", "first-year college")
_NAMES = ("Mila", "Professor Owl", "Tutorbot", "Sage", "Newton")
_ASK = (
    "",
    "Can you explain step by step? ",
    "I don't get this one: ",
    "help pls ",
    "How do I solve ",
)


@dataclass(frozen=True, slots=True)
class TutoringPlatformParams:
    """Ranges per account of the ``tutoring_platform`` kind."""

    students: tuple[int, int]
    requests_per_student_day: tuple[float, float]
    school_start: tuple[float, float]
    school_hours: tuple[float, float]
    out_median: tuple[float, float]
    max_tokens: tuple[int, int]


def draw(rng: np.random.Generator) -> TutoringPlatformParams:
    """Sample the kind's parameter ranges."""
    return TutoringPlatformParams(
        students=(int(uniform(rng, (50, 100))), int(uniform(rng, (150, 400)))),
        requests_per_student_day=(uniform(rng, (0.2, 0.5)), uniform(rng, (0.8, 2.0))),
        school_start=(7.0, 9.0),
        school_hours=(uniform(rng, (6.0, 7.0)), uniform(rng, (8.0, 11.0))),
        out_median=(uniform(rng, (200.0, 350.0)), uniform(rng, (450.0, 800.0))),
        max_tokens=(int(uniform(rng, (600, 1000))), int(uniform(rng, (1200, 2000)))),
    )


def build(world: World, p: TutoringPlatformParams, n: int, key: int) -> list[Account]:
    """Create ``n`` tutoring-platform accounts."""
    pack = world.pack
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        rng = acc.rng
        server_identity(acc, n_ips=(1, 2))
        acc.tz = float(pick(rng, (-5.0, -6.0, -8.0, 0.0, 1.0, 5.5, 8.0)))
        system = pick(rng, _TUTOR).replace("{grade}", pick(rng, _GRADES))
        system = system.replace("{name}", pick(rng, _NAMES))
        n_st = int(log_uniform(rng, p.students))
        rpd = log_uniform(rng, p.requests_per_student_day)
        s0 = uniform(rng, p.school_start)
        hours = uniform(rng, p.school_hours)
        med = uniform(rng, p.out_median)
        max_tok = int(uniform(rng, p.max_tokens))
        model = pick(rng, ("gpt-4o-mini", "gpt-4.1-mini", "gpt-4o"))
        pools = (pack.by_name("gsm8k_train"), pack.by_name("math"), pack.by_name("alpaca_eval"))
        prefix = f"stu-{acc.account_id[4:9]}-"
        for d in range(int(np.ceil(world.days))):
            day0 = world.t0 + d * 86400 - acc.tz * 3600
            for s in range(n_st):
                k = int(rng.poisson(rpd))
                for _ in range(k):
                    t = day0 + (s0 + rng.random() * hours) * 3600
                    pool = pools[int(rng.choice(3, p=[0.5, 0.3, 0.2]))]
                    user = pick(rng, _ASK) + pool.texts[int(rng.integers(len(pool)))]
                    request(
                        acc,
                        t,
                        model=model,
                        system=system,
                        user=user,
                        out_median=med,
                        temperature=0.3,
                        max_tokens=max_tok,
                        stream=True,
                        end_user=f"{prefix}{s:05d}",
                        ip=pick(rng, acc.ips),
                    )
        out.append(acc)
    return out
