"""The simulation engine: population → per-account plans → one time-sorted event table.

Usage::

    from distillsim.legacy.generate import SimConfig, simulate, write_simulation
    sim = simulate(SimConfig(seed=7, days=2, accounts=400))
    write_simulation(sim, "out/litellm.jsonl.gz", fmt="litellm")

Randomness: every account (and every hydra campaign) has its own generator seeded by
``(seed, stream, index)``, so the population and each account's traffic do not depend
on the order things are planned in, and the same seed gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from distillsim.legacy import corpora, traces
from distillsim.legacy.profiles import (
    BLATANT_KINDS,
    DEFAULT_MIX,
    KINDS,
    MODELS,
    Account,
    Block,
    Campaign,
    Context,
    build_population,
    concat_blocks,
    new_account,
    plan_account,
    plan_campaign,
)

__all__ = [
    "SimConfig",
    "Simulation",
    "labels_rows",
    "meta_dict",
    "output_stem",
    "parse_time",
    "release_time",
    "simulate",
    "write_simulation",
]

GENERATOR_VERSION = "1"
DEFAULT_START = "2026-11-01T00:00:00Z"
NEW_MODEL = "gpt-next"


def parse_time(text: str) -> float:
    """Parse an RFC 3339 / ISO 8601 time (``Z`` or offset; naive means UTC) to epoch seconds."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def rfc3339(ts: float) -> str:
    """Format epoch seconds as RFC 3339 UTC with a ``Z`` suffix (second precision)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def release_time(start: float, days: float) -> float:
    """When ``gpt-next`` is released: 00:00 of the middle day (day 2 of 2), or mid-period."""
    if days >= 2:
        return start + math.floor(days / 2) * 86400.0
    return start + days * 43200.0


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Parameters of one simulation.

    Parameters
    ----------
    seed : int
        Master seed; same config and seed give byte-identical output.
    days : float
        Length of the period.
    accounts : int
        Number of accounts.
    start : str
        Period start, RFC 3339.
    scale : float
        Volume multiplier (1.0 = the documented per-kind volumes).
    target_events : int or None
        If set, ``scale`` is calibrated so the total is close to this number.
    mix : dict or None
        Kind -> share of accounts (:data:`profiles.DEFAULT_MIX` by default).
    blatant : int
        Extra blatant harvesting accounts (:data:`profiles.BLATANT_KINDS`, alternating)
        appended after the ``accounts`` of the mix. They are opt-in and come from their own
        random streams: the other accounts and their traffic do not change (the rendered
        request ids and timings of other events do, as they are bound to row positions).
    blatant_window : tuple of float or None
        Hours after ``start`` within which every blatant run starts and ends (default: the
        whole period).
    """

    seed: int = 7
    days: float = 2.0
    accounts: int = 400
    start: str = DEFAULT_START
    scale: float = 1.0
    target_events: int | None = None
    mix: dict[str, float] | None = None
    blatant: int = 0
    blatant_window: tuple[float, float] | None = None


@dataclass(slots=True)
class Simulation:
    """A planned simulation: accounts with ground truth and the time-sorted event table."""

    config: SimConfig
    ctx: Context
    accounts: list[Account]
    campaigns: list[Campaign]
    events: Block
    scale: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_events(self) -> int:
        """Number of planned requests."""
        return len(self.events["ts"])


def _add_blatant(config: SimConfig, ctx: Context, accounts: list[Account]) -> None:
    """Append ``config.blatant`` blatant harvesting accounts (own random streams)."""
    seen = {a.account_id for a in accounts}
    for i in range(config.blatant):
        rng = np.random.default_rng([config.seed, 5, i])
        kind = BLATANT_KINDS[i % len(BLATANT_KINDS)]
        acct = new_account(rng, len(accounts), kind)
        while acct.account_id in seen:
            acct.account_id += rng.bytes(1).hex()
        seen.add(acct.account_id)
        if config.blatant_window is not None:
            lo, hi = config.blatant_window
            acct.params["onset_window"] = (ctx.start + lo * 3600.0, ctx.start + hi * 3600.0)
        accounts.append(acct)


def _plan(config: SimConfig, scale: float) -> Simulation:
    start = parse_time(config.start)
    ctx = Context.create(
        start=start,
        days=float(config.days),
        release=release_time(start, float(config.days)),
        scale=scale,
        pack=corpora.load_pack(),
        traces=traces.load_traces(),
    )
    pop_rng = np.random.default_rng([config.seed, 0])
    accounts, campaigns = build_population(pop_rng, config.accounts, ctx, config.mix)
    _add_blatant(config, ctx, accounts)
    blocks = []
    for a in accounts:
        if a.kind == "hydra":
            continue
        stream = 6 if a.kind in BLATANT_KINDS else 1
        blocks.append(plan_account(np.random.default_rng([config.seed, stream, a.index]), a, ctx))
    for c, camp in enumerate(campaigns):
        blocks.append(
            plan_campaign(np.random.default_rng([config.seed, 2, c]), camp, accounts, ctx)
        )
    ev = concat_blocks(blocks)
    keep = (ev["ts"] >= ctx.start) & (ev["ts"] < ctx.end)
    order = np.lexsort((ev["acct"], ev["ts"]))
    order = order[keep[order]]
    ev = {k: v[order] for k, v in ev.items()}
    # latencies and token counts of failures are those of a rejected request
    fail = ev["status"] != 0
    if fail.any():
        for col in ("ptok", "ctok", "rtok"):
            ev[col][fail] = 0
        ev["lat"][fail] = 0.004 + (ev["ts"][fail] % 1.0).astype(np.float32) * 0.02
        ev["ttft"][fail] = ev["lat"][fail]
        ev["finish"][fail] = -1
    return Simulation(config, ctx, accounts, campaigns, ev, scale)


def simulate(config: SimConfig) -> Simulation:
    """Plan a whole simulation.

    Parameters
    ----------
    config : SimConfig
        What to simulate.

    Returns
    -------
    Simulation
        Accounts, campaigns and the event table sorted by start time.
    """
    scale = float(config.scale)
    sim = _plan(config, scale)
    target = config.target_events
    if target:
        # volume is roughly affine in the scale (a few parts are fixed-size, e.g. MT-bench
        # runs) with some noise: a proportional step, then secant steps; keep the closest
        best = sim
        prev: tuple[float, int] | None = None
        for _ in range(4):
            got = sim.n_events
            if abs(got - target) < abs(best.n_events - target):
                best = sim
            if abs(got - target) <= 0.02 * target:
                break
            step = scale * target / max(got, 1)
            if prev is not None and got != prev[1]:
                slope = (got - prev[1]) / (scale - prev[0])
                if slope > 0:
                    step = scale + (target - got) / slope
            prev = (scale, got)
            scale = max(step, 1e-6)
            sim = _plan(config, scale)
        if abs(sim.n_events - target) < abs(best.n_events - target):
            best = sim
        sim = best
    return sim


def labels_rows(sim: Simulation) -> list[tuple[str, str, str, str]]:
    """Ground truth rows ``(account_id, label, kind, campaign_id)`` sorted by account id."""
    return sorted((a.account_id, a.label, a.kind, a.campaign) for a in sim.accounts)


def meta_dict(sim: Simulation, fmt: str, n_written: int) -> dict[str, Any]:
    """The ``.meta.json`` sidecar content."""
    kinds = KINDS + BLATANT_KINDS if sim.config.blatant else KINDS
    counts = {k: 0 for k in kinds}
    for a in sim.accounts:
        counts[a.kind] += 1
    per_kind_events = dict.fromkeys(kinds, 0)
    kind_of = np.array([kinds.index(a.kind) for a in sim.accounts])
    for k, c in zip(*np.unique(kind_of[sim.events["acct"]], return_counts=True), strict=True):
        per_kind_events[kinds[int(k)]] = int(c)
    extra = {"blatant": sim.config.blatant} if sim.config.blatant else {}
    return {
        "generator": "distillwatch simulate",
        "generator_version": GENERATOR_VERSION,
        "format": fmt,
        "seed": sim.config.seed,
        "days": sim.config.days,
        "accounts": sim.config.accounts,
        "events": n_written,
        "start": rfc3339(sim.ctx.start),
        "end": rfc3339(sim.ctx.end),
        "model_release": {"model": NEW_MODEL, "time": rfc3339(sim.ctx.release)},
        "models": [m.name for m in MODELS],
        "scale": round(sim.scale, 6),
        "target_events": sim.config.target_events,
        "mix": sim.config.mix or DEFAULT_MIX,
        **extra,
        "accounts_per_kind": counts,
        "events_per_kind": per_kind_events,
        "campaigns": [
            {
                "campaign_id": c.campaign_id,
                "members": len(c.members),
                "slash24": c.slash24,
                "user_agent": c.client.user_agent,
                "moves_to_new_model": c.switches,
                "onset": rfc3339(c.onset),
            }
            for c in sim.campaigns
        ],
    }


_EXTS = (".gz", ".jsonl", ".ndjson", ".json", ".csv")


def output_stem(path: str | Path) -> Path:
    """``out/litellm-2d.jsonl.gz`` -> ``out/litellm-2d`` (where the sidecars go)."""
    p = Path(path)
    name = p.name
    changed = True
    while changed:
        changed = False
        for ext in _EXTS:
            if name.endswith(ext) and len(name) > len(ext):
                name = name[: -len(ext)]
                changed = True
    return p.with_name(name)


def write_simulation(
    sim: Simulation,
    out: str | Path,
    fmt: str = "litellm",
    compress_level: int = 6,
    progress: Any = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Write the events in one format plus the labels and meta sidecars.

    Parameters
    ----------
    sim : Simulation
        A planned simulation.
    out : str or Path
        Output path; gzip when it ends in ``.gz``.
    fmt : str
        ``litellm``, ``openai`` or ``canonical``.
    compress_level : int
        gzip level (1 fastest .. 9 smallest).
    progress : callable, optional
        Called as ``progress(done, total)`` after each chunk.
    workers : int
        Rendering processes (output bytes do not depend on it).

    Returns
    -------
    dict
        ``events``, ``bytes``, ``labels`` and ``meta`` paths.
    """
    from distillsim.legacy import writers

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    n, size = writers.write_events(
        sim, out, fmt, compress_level=compress_level, progress=progress, workers=workers
    )
    stem = output_stem(out)
    labels = stem.with_name(stem.name + ".labels.csv")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("account_id", "label", "kind", "campaign_id"))
    w.writerows(labels_rows(sim))
    labels.write_text(buf.getvalue(), encoding="utf-8")
    meta = stem.with_name(stem.name + ".meta.json")
    meta.write_text(json.dumps(meta_dict(sim, fmt, n), indent=2) + "\n", encoding="utf-8")
    return {"events": n, "bytes": size, "labels": str(labels), "meta": str(meta), "path": str(out)}


def config_dict(config: SimConfig) -> dict[str, Any]:
    """The config as a plain dict (for logs)."""
    return asdict(config)
