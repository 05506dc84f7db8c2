"""Audit throughput and peak memory beside a bare baseline, in the same run.

Baseline: read the same export, ``orjson.loads`` every line, and count events per
account with a pandas group-by (what any script would do first). Audit: the real
``distillwatch audit`` path (parse, validate, text signals, aggregates, features,
rules, forest, fusion) without writing the report.

Each measurement runs in its own subprocess so its peak RSS is its own. Peak memory
is measured on two export sizes to show it does not grow with the export.

``python bench/audit_throughput.py [--events 1000000] [--format openai] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


def ensure_export(events: int, fmt: str, accounts: int = 4000, seed: int = 101) -> Path:
    """Generate (once, cached under bench/out/) an export of about ``events`` events.

    The number of accounts is fixed, so two sizes differ only in events per account.
    """
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"export-{fmt}-{accounts}a-{events}.jsonl.gz"
    if not path.exists():
        subprocess.run(
            [
                str(Path(sys.executable).with_name("distillwatch")),
                "simulate",
                "--seed",
                str(seed),
                "--days",
                "7",
                "--accounts",
                str(accounts),
                "--target-events",
                str(events),
                "--format",
                fmt,
                "--compress-level",
                "1",
                "--out",
                str(path),
                "--quiet",
            ],
            check=True,
        )
    return path


def _baseline(path: str) -> dict[str, float]:
    import orjson
    import pandas as pd

    t0 = time.perf_counter()
    n = 0
    chunk: list[str] = []
    counts: pd.Series | None = None
    with gzip.open(path, "rb") as fh:
        for line in fh:
            rec = orjson.loads(line)
            chunk.append(
                rec.get("account_id") or rec.get("metadata", {}).get("user_api_key_org_id")
            )
            n += 1
            if len(chunk) >= 100_000:
                part = pd.Series(chunk).value_counts()
                counts = part if counts is None else counts.add(part, fill_value=0)
                chunk = []
    if chunk:
        part = pd.Series(chunk).value_counts()
        counts = part if counts is None else counts.add(part, fill_value=0)
    elapsed = time.perf_counter() - t0
    return {"events": n, "seconds": elapsed, "accounts": 0 if counts is None else len(counts)}


def _audit(path: str) -> dict[str, float]:
    from detector.audit.pipeline import run_audit

    t0 = time.perf_counter()
    result = run_audit([path])
    elapsed = time.perf_counter() - t0
    return {"events": result.n_events, "seconds": elapsed, "accounts": len(result.features)}


def _child(kind: str, path: str) -> None:
    out = _baseline(path) if kind == "baseline" else _audit(path)
    # parent and worker processes: the largest resident set of either (workers have ended)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out["peak_rss_mb"] = own / 1024
    out["peak_worker_rss_mb"] = children / 1024
    print(json.dumps(out))


def run(kind: str, path: Path) -> dict[str, float]:
    """Run one measurement in a fresh interpreter; returns its JSON figures."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Print throughput (events/s), the ratio to the baseline, and peak memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--format", default="openai", choices=["openai", "litellm", "canonical"])
    parser.add_argument("--accounts", type=int, default=4000)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run baseline and audit alternately this many times and keep the fastest of "
        "each (on a shared machine the fastest run is the least disturbed one)",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    big = ensure_export(args.events, args.format, args.accounts)
    small = ensure_export(max(args.events // 4, 10_000), args.format, args.accounts)
    bases, audits = [], []
    for _ in range(max(args.repeat, 1)):
        bases.append(run("baseline", big))
        audits.append(run("audit", big))
    base = min(bases, key=lambda r: r["seconds"])
    audit = min(audits, key=lambda r: r["seconds"])
    audit_small = run("audit", small)
    b_rate = base["events"] / base["seconds"]
    a_rate = audit["events"] / audit["seconds"]
    print(
        f"audit throughput ({args.format}, {audit['events']:,} events, "
        f"{audit['accounts']:,} accounts)"
    )
    print(
        f"  baseline orjson+groupby : {b_rate:>10,.0f} events/s  peak {base['peak_rss_mb']:,.0f} MB"
    )
    print(
        f"  distillwatch audit      : {a_rate:>10,.0f} events/s  "
        f"peak {audit['peak_rss_mb']:,.0f} MB "
        f"(largest worker {audit['peak_worker_rss_mb']:,.0f} MB)"
    )
    print(f"  ratio audit/baseline    : {a_rate / b_rate:.2f}  (target >= 0.33)")
    print(
        f"  peak memory {audit_small['events']:,} events: {audit_small['peak_rss_mb']:,.0f} MB; "
        f"{audit['events']:,} events: {audit['peak_rss_mb']:,.0f} MB "
        f"(ratio {audit['peak_rss_mb'] / audit_small['peak_rss_mb']:.2f} for "
        f"{audit['events'] / max(audit_small['events'], 1):.1f}x the events)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
