"""Dask audit engine against the local engine on the same export, and how both scale.

The export is ``distillwatch simulate --generator wide --seed 9 --accounts 3000
--days 3 --format litellm`` (about 245,000 events), split in time into ``--files``
gzip files (the Dask engine's partitions are files); the 4x export is the same
population over 12 days. Both engines audit the same files with the same number of
worker processes (``--workers``, default 2); the Dask run includes starting its
LocalCluster. Each measurement runs in its own interpreter so its peak RSS is its own;
``accounts.csv`` and ``alerts.jsonl`` of the two engines are compared byte for byte.

``python bench/audit_dask.py [--repeat 2] [--files 4] [--workers 2] [--no-4x]``
"""

from __future__ import annotations

import argparse
import filecmp
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


def ensure_export(days: int, files: int, accounts: int = 3000, seed: int = 9) -> list[Path]:
    """Generate (once, cached under bench/out/) the export and its split into ``files``."""
    folder = OUT / f"dask-wide-s{seed}-{accounts}a-{days}d-{files}f"
    parts = [folder / f"part-{i:02d}.jsonl.gz" for i in range(files)]
    if all(p.exists() for p in parts):
        return parts
    folder.mkdir(parents=True, exist_ok=True)
    whole = folder / "whole.jsonl.gz"
    subprocess.run(
        [
            str(Path(sys.executable).with_name("distillwatch")),
            "simulate",
            "--generator",
            "wide",
            "--seed",
            str(seed),
            "--accounts",
            str(accounts),
            "--days",
            str(days),
            "--format",
            "litellm",
            "--out",
            str(whole),
            "--quiet",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with gzip.open(whole, "rb") as fh:
        lines = fh.readlines()
    n = len(lines)
    for i, part in enumerate(parts):  # contiguous ranges: the export is in time order
        part.write_bytes(gzip.compress(b"".join(lines[i * n // files : (i + 1) * n // files]), 1))
    whole.unlink()
    return parts


def _child(engine: str, workers: int, out: str, paths: list[str]) -> None:
    from detector.audit.outputs import write_accounts_csv, write_alerts
    from detector.audit.pipeline import AuditConfig, build_states, run_audit

    figures: dict[str, float] = {}
    if engine == "local":
        import functools

        import detector.audit.pipeline as pipeline

        # the same number of worker processes as the Dask cluster
        pipeline.build_states = functools.partial(build_states, workers=workers)  # type: ignore[assignment]
        t0 = time.perf_counter()
        result = run_audit(paths)
        figures["seconds"] = time.perf_counter() - t0
        worker_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    else:
        from distributed import Client, LocalCluster

        t0 = time.perf_counter()
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            figures["startup_seconds"] = time.perf_counter() - t0
            reduce = "tree" if engine == "dask-tree" else "ordered"
            config = AuditConfig(engine="dask", scheduler=client, dask_reduce=reduce)
            result = run_audit(paths, config)
            figures["seconds"] = time.perf_counter() - t0
            peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss).values()
            worker_kb = max(peaks)
    figures["events"] = result.n_events
    figures["accounts"] = len(result.features)
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["peak_worker_rss_mb"] = worker_kb / 1024
    write_accounts_csv(result, Path(out) / "accounts.csv")
    write_alerts(result, Path(out) / "alerts.jsonl")
    print(json.dumps(figures))


def run(engine: str, workers: int, paths: list[Path], out: Path) -> dict[str, float]:
    """One audit in a fresh interpreter; returns its JSON figures."""
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", engine, str(workers), str(out), *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _identical(a: Path, b: Path) -> bool:
    return all(
        filecmp.cmp(a / name, b / name, shallow=False) for name in ("accounts.csv", "alerts.jsonl")
    )


def main(argv: list[str] | None = None) -> int:
    """Print both engines' throughput, their ratio, parity and 1x -> 4x scaling."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="run the engines alternately this many times on the 1x export and keep the "
        "fastest of each (on a shared machine the fastest run is the least disturbed one)",
    )
    parser.add_argument("--no-4x", dest="four", action="store_false", help="skip the 4x export")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        engine, workers, out, *paths = args.child
        _child(engine, int(workers), out, paths)
        return 0
    try:
        import distributed  # noqa: F401
    except ImportError:
        print("(skipped: dask[distributed] is not installed: pip install 'distillwatch[dask]')")
        return 0
    x1 = ensure_export(3, args.files)
    x4 = ensure_export(12, args.files) if args.four else None
    ok = True
    with tempfile.TemporaryDirectory(prefix="dw-bench-dask-") as tmp:
        root = Path(tmp)
        runs: dict[str, list[dict[str, float]]] = {"local": [], "dask": []}
        for i in range(max(args.repeat, 1)):
            for engine in ("local", "dask"):
                runs[engine].append(run(engine, args.workers, x1, root / f"{engine}-{i}"))
        local = min(runs["local"], key=lambda r: r["seconds"])
        dask_ = min(runs["dask"], key=lambda r: r["seconds"])
        same = all(
            _identical(root / "local-0", root / f"{e}-{i}")
            for e in ("local", "dask")
            for i in range(max(args.repeat, 1))
        )
        ok &= same
        l_rate = local["events"] / local["seconds"]
        d_rate = dask_["events"] / dask_["seconds"]
        print(
            f"dask vs local audit (wide seed 9, {local['events']:,.0f} events, "
            f"{local['accounts']:,.0f} accounts, {args.files} files, {args.workers} workers)"
        )
        print(
            f"  local engine  : {l_rate:>9,.0f} events/s  {local['seconds']:6.1f} s  "
            f"peak {local['peak_rss_mb']:,.0f} MB (largest worker "
            f"{local['peak_worker_rss_mb']:,.0f} MB)"
        )
        print(
            f"  dask engine   : {d_rate:>9,.0f} events/s  {dask_['seconds']:6.1f} s  "
            f"peak {dask_['peak_rss_mb']:,.0f} MB (largest worker "
            f"{dask_['peak_worker_rss_mb']:,.0f} MB; cluster start "
            f"{dask_['startup_seconds']:.1f} s)"
        )
        print(f"  ratio dask/local speed : {d_rate / l_rate:.2f}  (target >= 0.7)")
        tree = run("dask-tree", args.workers, x1, root / "tree")
        same_tree = _identical(root / "local-0", root / "tree")
        print(
            f"  dask, reduce=tree : {tree['events'] / tree['seconds']:>9,.0f} events/s  "
            f"{tree['seconds']:6.1f} s  peak {tree['peak_rss_mb']:,.0f} MB; outputs "
            + ("identical" if same_tree else "differ (heavy-hitter merge order)")
        )
        print(
            "  parity (reduce=ordered): accounts.csv and alerts.jsonl "
            + ("identical" if same else "DIFFER")
            + f" over {2 * max(args.repeat, 1)} runs"
        )
        if x4 is not None:
            big = {e: run(e, args.workers, x4, root / f"{e}-4x") for e in ("local", "dask")}
            same4 = _identical(root / "local-4x", root / "dask-4x")
            ok &= same4
            small = {"local": local, "dask": dask_}
            for engine in ("local", "dask"):
                a, b = small[engine], big[engine]
                print(
                    f"  {engine:5s} 1x -> 4x: {b['events'] / a['events']:.1f}x events, "
                    f"time {b['seconds'] / a['seconds']:.2f}x "
                    f"({a['seconds']:.1f} -> {b['seconds']:.1f} s), peak client memory "
                    f"{b['peak_rss_mb'] / a['peak_rss_mb']:.2f}x "
                    f"({a['peak_rss_mb']:,.0f} -> {b['peak_rss_mb']:,.0f} MB), largest worker "
                    f"{b['peak_worker_rss_mb'] / a['peak_worker_rss_mb']:.2f}x"
                )
            print("  parity 4x: " + ("identical" if same4 else "DIFFER"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
