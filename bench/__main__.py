"""``python -m bench`` (``make bench``): run every benchmark and print its figures.

Each benchmark is a module of this folder with a ``main()``; a failing one is reported
and the others still run. ``python -m bench NAME...`` runs only those.
"""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = (
    "text_signals_speed",
    "audit_throughput",
    "audit_dask",
    "linking",
    "stream_throughput",
    "stream_cluster",
    "service_latency",
)


def main(argv: list[str] | None = None) -> int:
    """Run the named (default: all) benchmarks in order."""
    names = list(argv if argv is not None else sys.argv[1:]) or list(BENCHMARKS)
    failed = []
    for name in names:
        print(f"\n=== bench/{name}.py", flush=True)
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            print(f"(skipped: {exc})")
            continue
        try:
            rc = module.main([]) if module.main.__code__.co_argcount else module.main()
        except Exception as exc:  # report and go on with the others
            print(f"FAILED: {type(exc).__name__}: {exc}")
            rc = 1
        if rc:
            failed.append(name)
        print(f"({time.perf_counter() - t0:.1f} s)", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
