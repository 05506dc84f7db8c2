"""Streaming on a Redis Cluster vs one Redis: worker events/s with 1 and 2 workers.

Loopback only, bounded: a private ``redis-server`` and a private 3-primary cluster
(``redis-cli --cluster create``), each started here on free ports in a temp dir and
stopped at the end. The same pre-encoded events (the sample log, ``--copies`` times with
distinct accounts) are put on the partitions' streams, then drained by ``distillwatch
worker --no-score`` processes; figures from :func:`bench.stream_throughput.bench_workers`.

Rows: one Redis with 1 partition (the default layout, the baseline), one Redis with
``--partitions`` partitions, and the cluster with ``--partitions`` partitions; each with
1 and 2 workers. The ratio is each row's events/s over the baseline with as many
workers. On 2 shared cores the cluster's three Redis processes compete with the workers
for CPU, so this measures the layout's overhead, not the cluster's capacity.

Run ``python -m bench.stream_cluster [--copies N] [--partitions P]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from bench.stream_throughput import SAMPLE, _load_events, bench_workers
from service.stream.local_redis import RedisClusterServer, RedisNotInstalled, RedisServer


def run(copies: int, partitions: int) -> dict[str, Any]:
    """Run every row; returns the figures."""
    from service.stream.codec import encode_events

    events = _load_events(copies)
    payloads = encode_events(events)
    accounts = [e["account_id"] for e in events]
    tmp = Path(tempfile.mkdtemp(prefix="dw-bench-cluster-"))
    single = RedisServer(tmp / "single")
    (tmp / "single").mkdir()
    cluster = RedisClusterServer(tmp / "cluster", nodes=3)
    out: dict[str, Any] = {"events": len(events), "partitions": partitions, "rows": []}
    try:
        single.start()
        cluster.start()
        setups = (
            ("one Redis, 1 partition", single.url, 1),
            (f"one Redis, {partitions} partitions", single.url, partitions),
            (f"cluster (3 primaries), {partitions} partitions", cluster.url, partitions),
        )
        base: dict[int, float] = {}
        for i, (name, url, parts) in enumerate(setups):
            for n in (1, 2):
                got = bench_workers(
                    url, payloads, n, f"s{i}w{n}", accounts=accounts, partitions=parts
                )
                eps = float(got["events_per_s"] or 0.0)
                base.setdefault(n, eps)
                out["rows"].append(
                    {
                        "setup": name,
                        "workers": n,
                        "events_per_s": round(eps),
                        "ratio_to_one_redis": round(eps / base[n], 3) if base[n] else None,
                        "redis_cpu_share": got["redis_cpu_share"],
                        "workers_cpu_share": got["workers_cpu_share"],
                        "load_average_1m": got["load_average_1m"],
                    }
                )
    finally:
        cluster.stop()
        single.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table and a JSON summary."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=3, help="sample log copies (3 = ~30k events)")
    ap.add_argument("--partitions", type=int, default=8)
    args = ap.parse_args(argv)
    if not SAMPLE.exists():
        print(f"{SAMPLE} is missing (distillwatch simulate)", file=sys.stderr)
        return 2
    try:
        res = run(args.copies, args.partitions)
    except RedisNotInstalled as exc:
        print(f"(skipped: {exc})")
        return 0
    print(f"{res['events']:,} events per row")
    head = ("setup", "workers", "events/s", "ratio", "redis cpu", "workers cpu")
    print(f"{head[0]:<36} {head[1]:>7} {head[2]:>9} {head[3]:>6} {head[4]:>9} {head[5]:>11}")
    for r in res["rows"]:
        print(
            f"{r['setup']:<36} {r['workers']:>7} {r['events_per_s']:>9,} "
            f"{r['ratio_to_one_redis']:>6} {r['redis_cpu_share']:>9} {r['workers_cpu_share']:>11}"
        )
    print(orjson.dumps(res, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
