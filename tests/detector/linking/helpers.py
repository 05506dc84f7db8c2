"""Hand-made populations for the linking tests."""

from __future__ import annotations

import numpy as np

from detector.linking.synthetic import DEFAULT_SYSTEM_FP, AccountSpec

T0 = 1_735_689_600.0  # 2025-01-01 00:00 UTC
DAY = 86_400.0


def background(rng: np.random.Generator, n: int, tag: str = "bg") -> list[AccountSpec]:
    """Independent accounts: own prefix, SDK user agent, own templates, random hours."""
    out = []
    for i in range(n):
        a0 = rng.uniform(T0, T0 + 1.5 * DAY)
        t = np.sort(rng.uniform(a0, a0 + rng.uniform(2, 12) * 3600, int(rng.integers(5, 80))))
        out.append(
            AccountSpec(
                f"{tag}-{i:04d}",
                t,
                [f"73.{rng.integers(256)}.{rng.integers(256)}.{rng.integers(1, 255)}"],
                "OpenAI/Python 1.54.4",
                [int(rng.integers(1, 2**62))],
                DEFAULT_SYSTEM_FP if rng.random() < 0.4 else None,
                cot_share=float(rng.uniform(0, 0.15)),
            )
        )
    return out


def hydra(
    rng: np.random.Generator,
    n: int,
    tag: str = "hydra",
    *,
    user_agent: str = "Go-http-client/2.0",
    net: str = "203.0.113",
    skeleton: int = 0x1A2B3C4D5E6F7788,
    onset: float = T0 + 6 * 3600,
    cot_share: float = 0.85,
    mcq_share: float = 0.0,
) -> list[AccountSpec]:
    """A campaign: one /24, shared IPs, one template, synchronised bursts, CoT harvesting."""
    bursts = onset + np.sort(rng.uniform(0, 20 * 3600, 40))
    out = []
    for j in range(n):
        take = bursts[rng.random(bursts.size) < 0.75]
        t = np.sort((take[:, None] + rng.uniform(0, 40, (take.size, 2))).ravel())
        out.append(
            AccountSpec(
                f"{tag}-{j:03d}",
                t,
                [f"{net}.{h}" for h in rng.choice(np.arange(10, 20), 2, replace=False)],
                user_agent,
                [skeleton],
                0x77AA77AA77AA77AA,
                cot_share=cot_share,
                mcq_share=mcq_share,
                completion_mean=1800.0,
                distinct_prompt_ratio=1.0,
            )
        )
    return out


def swarm(
    rng: np.random.Generator,
    n: int,
    tag: str = "swarm",
    *,
    skeleton: int = 0x5A5A5A5A12345678,
    onset: float = T0 + 1.3 * DAY,
    onset_spread: float = 8 * 3600.0,
    days: float = 1.5,
) -> list[AccountSpec]:
    """A content swarm: own residential IP and browser UA each, human rhythm, low volume,
    one prompt skeleton, all starting on one day (not at the start of the data)."""
    out = []
    for j in range(n):
        a0 = onset + rng.uniform(0, onset_spread)
        k = int(rng.integers(12, 40))
        day = np.floor(rng.uniform(0, days, k))
        t = np.sort(a0 + day * DAY + rng.uniform(0, 10 * 3600, k))
        out.append(
            AccountSpec(
                f"{tag}-{j:03d}",
                t,
                [f"{int(rng.choice([24, 67, 73, 98]))}.{rng.integers(256)}.{j}.{j % 250 + 1}"],
                f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/{120 + j % 9}.0",
                [skeleton],
                None,
                cot_share=float(rng.uniform(0.7, 0.95)),
                completion_mean=float(rng.uniform(1200, 1800)),
                distinct_prompt_ratio=1.0,
                topics=[0.6, 0.3, 0.1],
            )
        )
    return out


def background_long(rng: np.random.Generator, n: int, tag: str = "bg") -> list[AccountSpec]:
    """Independent accounts over three days (own prefixes, SDK UAs, own templates)."""
    out = []
    for i in range(n):
        a0 = rng.uniform(T0, T0 + 2.5 * DAY)
        t = np.sort(rng.uniform(a0, min(a0 + rng.uniform(2, 30) * 3600, T0 + 3 * DAY), 30))
        out.append(
            AccountSpec(
                f"{tag}-{i:04d}",
                t,
                [f"73.{rng.integers(256)}.{rng.integers(256)}.{rng.integers(1, 255)}"],
                "OpenAI/Python 1.54.4",
                [int(rng.integers(1, 2**62))],
                DEFAULT_SYSTEM_FP if rng.random() < 0.4 else None,
                cot_share=float(rng.uniform(0, 0.15)),
                topics=list(rng.dirichlet(np.ones(3))),
            )
        )
    return out
