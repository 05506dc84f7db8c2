"""Helpers shared by the account-kind modules (identities, model choice, follow-ups)."""

from __future__ import annotations

import numpy as np

from distillsim import netid
from distillsim.core import Account

__all__ = [
    "FOLLOWUPS",
    "TIMEZONES",
    "human_identity",
    "pick_model",
    "server_identity",
]

TIMEZONES: tuple[float, ...] = (
    -8.0,
    -7.0,
    -6.0,
    -5.0,
    -3.0,
    0.0,
    1.0,
    2.0,
    3.0,
    5.5,
    8.0,
    9.0,
    10.0,
)
_TZ_P = np.array([8, 3, 5, 9, 3, 5, 9, 4, 2, 6, 6, 3, 2], dtype=float)
_TZ_P /= _TZ_P.sum()

FOLLOWUPS: tuple[str, ...] = (
    "Can you give me an example?",
    "Make it shorter please.",
    "Why is that?",
    "ok and what if I want to do it the other way around",
    "Thanks! Can you rewrite it in a more formal tone?",
    "That didn't work, I get an error.",
    "Can you explain the second point in more detail?",
    "what are the downsides?",
    "Give me three alternatives.",
    "Could you put that in a table?",
    "hmm, are you sure?",
    "Now translate it to Spanish.",
    "Explain it like I'm five.",
    "And how does this compare to the previous approach?",
)


def pick_model(rng: np.random.Generator, weights: dict[str, float]) -> str:
    """A model name drawn with ``weights``."""
    names = list(weights)
    p = np.array([weights[k] for k in names], dtype=float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def random_tz(rng: np.random.Generator) -> float:
    """A UTC offset weighted like a global user base."""
    return float(TIMEZONES[int(rng.choice(len(TIMEZONES), p=_TZ_P))])


def human_identity(acc: Account, sdk_p: float = 0.1, campus_p: float = 0.08) -> None:
    """A person: home time zone, 1-3 residential (or campus) IPs, browser (or SDK) UA."""
    rng = acc.rng
    acc.tz = random_tz(rng)
    campus = rng.random() < campus_p
    acc.ips = [netid.residential_ip(rng, acc.tz, campus) for _ in range(int(rng.integers(1, 4)))]
    acc.uas = [netid.sdk_ua(rng) if rng.random() < sdk_p else netid.browser_ua(rng)]
    if rng.random() < 0.3:
        acc.uas.append(netid.browser_ua(rng))


def server_identity(acc: Account, ua: str | None = None, n_ips: tuple[int, int] = (1, 3)) -> None:
    """A service running in a cloud: datacenter IPs and an SDK (or given) UA."""
    rng = acc.rng
    acc.tz = random_tz(rng)
    acc.ips = [netid.datacenter_ip(rng) for _ in range(int(rng.integers(n_ips[0], n_ips[1] + 1)))]
    acc.uas = [ua or netid.sdk_ua(rng)]
