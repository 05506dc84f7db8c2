"""``distillwatch simulate``: write simulated provider traffic with ground-truth labels."""

from __future__ import annotations

import sys
import time

import click

__all__ = ["simulate_cmd"]


def _parse_mix(text: str | None, generator: str = "legacy") -> dict[str, float] | None:
    if not text:
        return None
    if generator == "wide":
        from distillsim import DEFAULT_MIX
    else:
        from distillsim.legacy.profiles import DEFAULT_MIX

    mix = dict(DEFAULT_MIX)
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in mix:
            raise click.BadParameter(f"unknown kind {name!r}; kinds: {', '.join(mix)}")
        try:
            mix[name] = float(value)
        except ValueError:
            raise click.BadParameter(f"bad share for {name!r}: {value!r}") from None
    return mix


@click.command("simulate")
@click.option(
    "--seed", type=int, default=7, show_default=True, help="Master seed (same seed, same bytes)."
)
@click.option("--days", type=float, default=2.0, show_default=True, help="Length of the period.")
@click.option("--accounts", type=int, default=400, show_default=True, help="Number of accounts.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["litellm", "openai", "canonical"]),
    default="litellm",
    show_default=True,
    help="Output record format.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    required=True,
    help="Output file (.jsonl, or .jsonl.gz for gzip). Sidecars <stem>.labels.csv and "
    "<stem>.meta.json are written next to it.",
)
@click.option(
    "--start", default="2026-11-01T00:00:00Z", show_default=True, help="Period start (RFC 3339)."
)
@click.option(
    "--target-events",
    type=int,
    default=None,
    help="Calibrate the volume so the export has about this many events (e.g. 1000000).",
)
@click.option(
    "--events-scale",
    type=float,
    default=1.0,
    show_default=True,
    help="Multiply every account's volume (ignored with --target-events).",
)
@click.option(
    "--mix",
    default=None,
    help="Override account shares, e.g. 'chat=0.6,hydra=0.1' (others keep their defaults).",
)
@click.option(
    "--compress-level",
    type=click.IntRange(1, 9),
    default=None,
    help="gzip level; default 9 up to 200k events, 6 above (1 = fastest).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes rendering in parallel (same bytes whatever the number).",
)
@click.option(
    "--blatant",
    type=click.IntRange(0, 10_000),
    default=0,
    show_default=True,
    help="Extra blatant harvesters (30-240 CoT or top_logprobs=20 requests a minute from their "
    "first minute), on their own random streams: other accounts are unchanged.",
)
@click.option(
    "--generator",
    type=click.Choice(["legacy", "wide"]),
    default="legacy",
    show_default=True,
    help="legacy: distillsim.legacy (fixed per-kind profiles); wide: distillsim "
    "(every parameter drawn per seed from wide ranges, 21 kinds; writes <stem>.params.json "
    "instead of meta; --target-events, --events-scale, --workers and --blatant do not apply).",
)
@click.option(
    "--exclude-kinds",
    default="",
    help="wide only: comma-separated kinds to leave out (their share is renormalised).",
)
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def simulate_cmd(
    seed: int,
    days: float,
    accounts: int,
    fmt: str,
    out: str,
    start: str,
    target_events: int | None,
    events_scale: float,
    mix: str | None,
    compress_level: int | None,
    workers: int,
    blatant: int,
    generator: str,
    exclude_kinds: str,
    quiet: bool,
) -> None:
    """Simulate an LLM provider's traffic (benign look-alikes and distillers) with labels."""
    if accounts < 1 or days <= 0:
        raise click.BadParameter("--accounts must be >= 1 and --days > 0")
    if generator == "wide":
        _simulate_wide(
            seed, days, accounts, fmt, out, start, mix, exclude_kinds, compress_level, quiet
        )
        return
    if exclude_kinds:
        raise click.BadParameter("--exclude-kinds needs --generator wide")
    from distillsim.legacy.generate import SimConfig, simulate, write_simulation

    config = SimConfig(
        seed=seed,
        days=days,
        accounts=accounts,
        start=start,
        scale=events_scale,
        target_events=target_events,
        mix=_parse_mix(mix),
        blatant=blatant,
    )
    t0 = time.perf_counter()
    if not quiet:
        click.echo(f"planning {accounts} accounts over {days:g} days (seed {seed}) ...", err=True)
    sim = simulate(config)
    t_plan = time.perf_counter() - t0
    level = compress_level or (9 if sim.n_events <= 200_000 else 6)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if quiet or (now - last[0] < 5.0 and done < total):
            return
        last[0] = now
        rate = done / max(now - t1, 1e-9)
        click.echo(f"  {done:,}/{total:,} events ({rate:,.0f}/s)", err=True)

    t1 = time.perf_counter()
    res = write_simulation(
        sim, out, fmt=fmt, compress_level=level, progress=progress, workers=workers
    )
    t_write = time.perf_counter() - t1
    total = time.perf_counter() - t0
    n_distill = sum(a.label == "distill" for a in sim.accounts)
    click.echo(
        f"wrote {res['events']:,} {fmt} events for {len(sim.accounts)} accounts "
        f"({n_distill} distill, {len(sim.campaigns)} campaigns) to {res['path']} "
        f"({res['bytes'] / 1e6:.1f} MB) in {total:.1f}s "
        f"[plan {t_plan:.1f}s, write {res['events'] / max(t_write, 1e-9):,.0f} events/s]; "
        f"labels {res['labels']}, meta {res['meta']}"
    )
    sys.stdout.flush()


def _simulate_wide(
    seed: int,
    days: float,
    accounts: int,
    fmt: str,
    out: str,
    start: str,
    mix: str | None,
    exclude_kinds: str,
    compress_level: int | None,
    quiet: bool,
) -> None:
    """``--generator wide``: run :mod:`distillsim` and write logs plus sidecars."""
    from distillsim import KINDS, WideConfig, generate, write

    excluded = tuple(k.strip() for k in exclude_kinds.split(",") if k.strip())
    for name in excluded:
        if name not in KINDS:
            raise click.BadParameter(f"unknown kind {name!r}; kinds: {', '.join(KINDS)}")
    config = WideConfig(
        seed=seed,
        accounts=accounts,
        days=days,
        start=start,
        mix=_parse_mix(mix, "wide"),
        exclude_kinds=excluded,
    )
    t0 = time.perf_counter()
    if not quiet:
        click.echo(
            f"[wide] generating {accounts} accounts over {days:g} days (seed {seed}) ...", err=True
        )
    sim = generate(config)
    t1 = time.perf_counter()
    paths = write(sim, out, fmt=fmt, compress_level=compress_level or 6)
    n_distill = int((sim.labels["label"] == "distill").sum())
    n_camp = sim.labels.loc[sim.labels["campaign_id"] != "", "campaign_id"].nunique()
    click.echo(
        f"wrote {len(sim.events):,} {fmt} events for {len(sim.labels)} accounts "
        f"({n_distill} distill, {n_camp} campaigns) to {paths['events']} in "
        f"{time.perf_counter() - t0:.1f}s [generate {t1 - t0:.1f}s]; "
        f"labels {paths['labels']}, params {paths['params']}"
    )
    sys.stdout.flush()
