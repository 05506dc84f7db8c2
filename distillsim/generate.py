"""Build a domain-randomised simulation: draw every kind's parameters, then its accounts."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from detector.ingest.timestamps import to_epoch
from distillsim.core import World
from distillsim.kinds import DEFAULT_MIX, KINDS, MODULES
from distillsim.legacy.corpora import load_pack

__all__ = ["WideConfig", "WideSimulation", "allocate", "generate"]


@dataclass(frozen=True, slots=True)
class WideConfig:
    """What to simulate.

    Parameters
    ----------
    seed : int
        Master seed; same config and seed give byte-identical output.
    accounts : int
        Accounts created; those with no request in the period appear in neither events
        nor labels.
    days : float
        Length of the period.
    start : str
        Period start, RFC 3339.
    mix : dict or None
        Account share per kind (missing kinds get 0); ``None`` = the default mix with
        per-seed jitter.
    exclude_kinds : tuple of str
        Kinds to drop (their share is renormalised over the rest).
    include_kinds : tuple of str or None
        Only these kinds (``None`` = all).
    """

    seed: int = 0
    accounts: int = 1500
    days: float = 3.0
    start: str = "2026-11-02T00:00:00Z"
    mix: dict[str, float] | None = None
    exclude_kinds: tuple[str, ...] = ()
    include_kinds: tuple[str, ...] | None = None


@dataclass(slots=True)
class WideSimulation:
    """Result of :func:`generate`.

    Attributes
    ----------
    config : WideConfig
    events : list of dict
        Canonical events sorted by ``(ts, request_id)``.
    labels : pandas.DataFrame
        ``account_id, label, kind, campaign_id`` (``""`` when none).
    params : dict
        Kind -> the drawn parameters (JSON-able).
    """

    config: WideConfig
    events: list[dict[str, Any]]
    labels: pd.DataFrame
    params: dict[str, dict[str, Any]]


def _shares(cfg: WideConfig) -> dict[str, float]:
    for name in (*cfg.exclude_kinds, *(cfg.include_kinds or ()), *(cfg.mix or {})):
        if name not in KINDS:
            raise ValueError(f"unknown kind {name!r}; kinds: {', '.join(KINDS)}")
    if cfg.mix is None:
        # per-seed jitter of every share; distillers keep 10-15 % of the accounts
        rng = np.random.default_rng([cfg.seed, 999])
        mix = {k: v * float(np.exp(0.3 * rng.standard_normal())) for k, v in DEFAULT_MIX.items()}
        d_share = float(rng.uniform(0.10, 0.15))
        d_sum = sum(v for k, v in mix.items() if KINDS[k] == "distill")
        b_sum = sum(v for k, v in mix.items() if KINDS[k] == "benign")
        mix = {
            k: v * (d_share / d_sum if KINDS[k] == "distill" else (1 - d_share) / b_sum)
            for k, v in mix.items()
        }
    else:
        mix = {k: float(cfg.mix.get(k, 0.0)) for k in KINDS}
    keep = set(cfg.include_kinds) if cfg.include_kinds is not None else set(KINDS)
    keep -= set(cfg.exclude_kinds)
    mix = {k: (v if k in keep else 0.0) for k, v in mix.items()}
    total = sum(mix.values())
    if total <= 0:
        raise ValueError("the mix leaves no kind with a positive share")
    return {k: v / total for k, v in mix.items()}


def allocate(shares: dict[str, float], accounts: int) -> dict[str, int]:
    """Whole accounts per kind (largest remainder); every kind with a share gets >= 1,
    campaign kinds >= 2 (while there are accounts to give)."""
    live = [k for k, v in shares.items() if v > 0]
    mins = {k: (2 if getattr(MODULES[k], "CAMPAIGN", False) else 1) for k in live}
    out = dict.fromkeys(shares, 0)
    if accounts >= sum(mins.values()):
        for k in live:
            out[k] = mins[k]
    rest = accounts - sum(out.values())
    raw = {k: shares[k] * accounts for k in live}
    extra = {k: max(0.0, raw[k] - out[k]) for k in live}
    tot = sum(extra.values()) or 1.0
    want = {k: extra[k] / tot * rest for k in live}
    for k in live:
        out[k] += math.floor(want[k])
    left = accounts - sum(out.values())
    order = sorted(live, key=lambda k: (-(want[k] - math.floor(want[k])), k))
    for k in order[:left]:
        out[k] += 1
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


def generate(cfg: WideConfig) -> WideSimulation:
    """Draw parameters and accounts for every kind and return the simulation.

    Parameters
    ----------
    cfg : WideConfig
        What to simulate.

    Returns
    -------
    WideSimulation
    """
    if cfg.accounts < 1 or cfg.days <= 0:
        raise ValueError("accounts must be >= 1 and days > 0")
    t0 = float(to_epoch(cfg.start))
    world = World(seed=cfg.seed, t0=t0, t1=t0 + cfg.days * 86400.0, pack=load_pack())
    counts = allocate(_shares(cfg), cfg.accounts)
    events: list[dict[str, Any]] = []
    rows: list[tuple[str, str, str, str]] = []
    params: dict[str, dict[str, Any]] = {}
    for idx, (kind, mod) in enumerate(MODULES.items()):
        p = mod.draw(world.rng(idx, 7_000_001))
        params[kind] = _jsonable(dataclasses.asdict(p))
        if counts[kind] == 0:
            continue
        for acc in mod.build(world, p, counts[kind], idx):
            kept = [ev for ev in acc.events if world.t0 <= ev["ts"] < world.t1]
            if kept:  # an account that made no request in the period is not in the logs
                events.extend(kept)
                rows.append((acc.account_id, acc.label, acc.kind, acc.campaign_id))
    events.sort(key=lambda e: (e["ts"], e["request_id"]))
    labels = pd.DataFrame(rows, columns=["account_id", "label", "kind", "campaign_id"])
    labels = labels.sort_values("account_id", kind="stable").reset_index(drop=True)
    return WideSimulation(config=cfg, events=events, labels=labels, params=params)
