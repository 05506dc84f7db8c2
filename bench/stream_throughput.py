"""Streaming benchmark: ingest and worker throughput, Redis memory, detection delay.

Loopback only, bounded (a few minutes), against a private ``redis-server`` started on a
free port in a temp dir. Run ``python bench/stream_throughput.py`` (``--help``).

1. **Ingest**: parse + validate + text signals + idempotent XADD of the sample log
   (replicated ``--copies`` times with distinct accounts and request ids).
2. **Bare loop** vs **workers**, on the same pre-encoded stream (one copy per
   phase, under its own key prefix): a bare ``XREADGROUP 2000 + orjson parse + XACK``
   loop, then one ``distillwatch worker --no-score`` process, then two; events/s, the
   ratio to the bare loop, Redis' own CPU share (``INFO cpu``), the worker processes'
   CPU share (``/proc``) and the load average, to tell whether Redis or the cores
   saturate.
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

from service.stream.demo import start_redis, stop_redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "sample_logs" / "litellm-2d.jsonl.gz"
LABELS = ROOT / "sample_logs" / "litellm-2d.labels.csv"


def _redis_cpu(client: Any) -> float:
    """CPU seconds Redis used so far (summed over the nodes of a cluster)."""
    info = _info(client, "cpu")
    nodes = [info] if "used_cpu_user" in info else list(info.values())
    return sum(float(n["used_cpu_user"]) + float(n["used_cpu_sys"]) for n in nodes)


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
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


def _procs_cpu(procs: list[subprocess.Popen[bytes]]) -> float:
    """CPU seconds (user + system) used so far by running child processes (Linux)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for p in procs:
        try:
            fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def fill_partitions(client: Any, keys: Any, accounts: list[str], payloads: list[bytes]) -> None:
    """Put pre-encoded events on their partitions' streams (what ingest does, minus the
    parsing and dedupe)."""
    pipe = client.pipeline(transaction=False)
    for i, (acct, p) in enumerate(zip(accounts, payloads, strict=True)):
        pipe.xadd(keys.part_of(acct).events, {"e": p})
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()


def _info(client: Any, section: str) -> dict[str, Any]:
    """``INFO section`` of one Redis, or of every primary of a cluster (node -> reply)."""
    from service.redis_client import is_cluster

    if is_cluster(client):
        return client.info(section, target_nodes=client.PRIMARIES)
    return client.info(section)


def _used_memory(client: Any) -> int:
    info = _info(client, "memory")
    if "used_memory" in info:
        return int(info["used_memory"])
    return sum(int(v["used_memory"]) for v in info.values())  # a cluster: per node


def bench_workers(
    url: str,
    payloads: list[bytes],
    n_workers: int,
    prefix: str,
    *,
    accounts: list[str],
    partitions: int = 1,
) -> dict[str, Any]:
    """Drain the stream with ``n_workers`` worker processes (folding only, no scoring),
    on one Redis or a cluster (``redis+cluster://``), with ``partitions`` partitions."""
    from service.redis_client import connect
    from service.redis_keys import Keys
    from service.stream.layout import pipeline_stats

    client = connect(url)
    keys = Keys(prefix, partitions)
    fill_partitions(client, keys, accounts, payloads)
    m0 = _used_memory(client)
    env = {
        **os.environ,
        "DISTILLWATCH_KEY_PREFIX": prefix,
        "DISTILLWATCH_REDIS_URL": url,
        "DISTILLWATCH_PARTITIONS": str(partitions),
    }
    procs = [
        subprocess.Popen(_cli("worker", "--no-score", "--exit-when-idle", "2"), env=env, cwd=ROOT)
        for _ in range(n_workers)
    ]
    total = len(payloads)
    t_first = done_first = None
    cpu0 = wcpu0 = 0.0
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        done = int(pipeline_stats(client, keys).get("processed", 0))
        if t_first is None and done > 0:
            t_first, done_first, cpu0 = time.perf_counter(), done, _redis_cpu(client)
            wcpu0 = _procs_cpu(procs)
        if done >= total:
            break
        time.sleep(0.02)
    t_end = time.perf_counter()
    cpu1 = _redis_cpu(client)
    wcpu1 = _procs_cpu(procs)
    load = os.getloadavg()[0]
    for p in procs:
        p.wait(60)
    m1 = _used_memory(client)
    n_accounts = sum(client.zcard(p.accounts) for p in keys.parts())
    dt = t_end - (t_first or t_end)
    n = total - (done_first or 0)
    state_bytes = m1 - m0
    return {
        "workers": n_workers,
        "events": total,
        "events_per_s": round(n / dt) if dt > 0 else None,
        "per_worker_events_per_s": round(n / dt / n_workers) if dt > 0 else None,
        "redis_cpu_share": round((cpu1 - cpu0) / dt, 2) if dt > 0 else None,
        "workers_cpu_share": round((wcpu1 - wcpu0) / dt, 2) if dt > 0 else None,
        "load_average_1m": round(load, 1),
        "partitions": partitions,
        "accounts": n_accounts,
        "state_bytes": state_bytes,
        "state_bytes_per_account": round(state_bytes / max(n_accounts, 1)),
        "state_mb_per_million_events": round(state_bytes / total * 1e6 / 2**20, 1),
    }


def _blatant_events(
    tmp: Path, n_accounts: int, hours: float
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Events and kinds of ``n_accounts`` blatant harvesters to merge into the sample.

    They are planned with the sample's own configuration (from its ``.meta.json``) plus
    ``SimConfig.blatant``, which draws them from separate random streams (the sample's
    accounts are unchanged), with every run inside the replayed ``hours``. Only their
    events are kept; request ids get a prefix because the writers bind random ids to row
    positions, which would collide with the sample's.
    """
    from detector.ingest import read_events
    from distillsim.legacy.generate import SimConfig, Simulation, simulate
    from distillsim.legacy.profiles import BLATANT_KINDS
    from distillsim.legacy.writers import write_events

    meta = orjson.loads(SAMPLE.with_name("litellm-2d.meta.json").read_bytes())
    sim = simulate(
        SimConfig(
            seed=int(meta["seed"]),
            days=float(meta["days"]),
            accounts=int(meta["accounts"]),
            start=str(meta["start"]),
            blatant=n_accounts,
            blatant_window=(1.0, max(hours - 0.5, 1.5)),
        )
    )
    kinds = {a.account_id: a.kind for a in sim.accounts if a.kind in BLATANT_KINDS}
    index = np.array([a.index for a in sim.accounts if a.kind in BLATANT_KINDS])
    keep = np.isin(sim.events["acct"], index)
    only = Simulation(
        sim.config,
        sim.ctx,
        sim.accounts,
        sim.campaigns,
        {k: v[keep] for k, v in sim.events.items()},
        sim.scale,
    )
    path = tmp / "blatant.jsonl"
    write_events(only, path, "litellm")
    events, _ = read_events([str(path)])
    for e in events:
        e["request_id"] = f"blatant-{e['request_id']}"
    return events, kinds


def bench_delay(
    url: str,
    slice_min: float,
    hours: float,
    blatant: int = 6,
    tmp: Path | None = None,
    fine_slice_min: float = 1.0,
    fine_window_min: float = 15.0,
) -> dict[str, Any]:
    """First request of each campaign kind to its first alert, in simulated time.

    The replay is folded and scored in slices of ``slice_min`` simulated minutes, except
    for the first ``fine_window_min`` minutes of every blatant account's traffic, which
    are replayed in slices of ``fine_slice_min`` (a coarse slice ends where such a window
    starts), so the 5-minute target is measured with a 1-minute quantisation while the
    whole replay stays bounded in wall time.

    Parameters
    ----------
    url : str
        Private Redis.
    slice_min : float
        Simulated minutes folded and scored per step (the measurement's quantisation).
    hours : float
        Simulated hours of the sample replayed from its start.
    blatant : int
        Blatant harvesting accounts (``distillsim.legacy`` ``BLATANT_KINDS``) merged into
        the replay, their runs starting and ending within ``hours`` (0: none).
    tmp : Path, optional
        Scratch directory for the blatant accounts' log.
    fine_slice_min, fine_window_min : float
        Slice length inside the fine windows, and the windows' length.

    Returns
    -------
    dict
        Per kind: first request to first alert, accounts alerted / active, median
        per-account delay (minutes), plus the run's parameters and wall time.
    """
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
    if blatant > 0:
        extra, extra_kinds = _blatant_events(
            tmp or Path(tempfile.mkdtemp(prefix="dw-blatant-")), blatant, hours
        )
        if set(extra_kinds) & {e["account_id"] for e in events}:
            raise RuntimeError("blatant account ids collide with the sample's")
        events += extra
        kinds.update(extra_kinds)
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
    fine = fine_slice_min * 60
    starts: dict[str, float] = {}
    for e in events:
        if kinds.get(e["account_id"], "").startswith("blatant_"):
            starts.setdefault(e["account_id"], e["ts"])
    windows = sorted((t, t + fine_window_min * 60) for t in starts.values())
    i = 0
    t_end = events[0]["ts"]
    cursor = b"0-0"
    wall0 = time.perf_counter()
    n_slice = 0
    last_refresh = -np.inf
    while i < len(events):
        nxt = t_end + step
        for ws, we in windows:
            if ws <= t_end < we:
                nxt = t_end + fine
                break
            if t_end < ws < nxt:
                nxt = ws
                break
        t_end = nxt
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
        if t_end - last_refresh >= 1800:  # population snapshot every 30 simulated minutes
            scorer.refresh_population(force=True)
            last_refresh = t_end
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
        "fine_slice_minutes": fine_slice_min,
        "fine_window_minutes": fine_window_min,
        "slices": n_slice,
        "blatant_accounts": blatant,
        "events": len(events),
        "wall_s": round(time.perf_counter() - wall0),
        "by_kind": {},
    }
    for kind in sorted(first_req):
        accts = [a for a in acct_first if kinds[a] == kind]
        delays = [(acct_alert[a] - acct_first[a]) / 60 for a in accts if a in acct_alert]
        first = first_alert.get(kind)
        out["by_kind"][kind] = {
            "first_request_to_first_alert_min": (
                round((first - first_req[kind]) / 60, 1) if first is not None else None
            ),
            "accounts_active": len(accts),
            "accounts_alerted": len(delays),
            "median_account_delay_min": round(float(np.median(delays)), 1) if delays else None,
            "max_account_delay_min": round(float(np.max(delays)), 1) if delays else None,
        }
    rows = [
        "| kind | first request → first alert (min) | alerted / active | median | max |",
        "|---|---|---|---|---|",
    ]
    for kind, r in out["by_kind"].items():
        rows.append(
            f"| {kind} | {r['first_request_to_first_alert_min']} | "
            f"{r['accounts_alerted']} / {r['accounts_active']} | "
            f"{r['median_account_delay_min']} | {r['max_account_delay_min']} |"
        )
    print("\n".join(rows), file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a JSON summary."""
    ap = argparse.ArgumentParser(description="distillwatch streaming benchmark")
    ap.add_argument("--copies", type=int, default=10, help="sample log copies (10 = ~100k events)")
    ap.add_argument("--no-delay", dest="delay", action="store_false")
    ap.add_argument("--only-delay", action="store_true", help="skip the throughput phases")
    ap.add_argument("--slice-min", type=float, default=10.0)
    ap.add_argument("--hours", type=float, default=12.0, help="simulated hours replayed")
    ap.add_argument(
        "--blatant",
        type=int,
        default=6,
        help="blatant harvesting accounts merged into the delay replay (0: none)",
    )
    ap.add_argument(
        "--fine-slice-min",
        type=float,
        default=1.0,
        help="slice length over the first --fine-window-min minutes of each blatant account",
    )
    ap.add_argument("--fine-window-min", type=float, default=15.0)
    args = ap.parse_args(argv)
    if not SAMPLE.exists():
        print(f"{SAMPLE} is missing (distillwatch simulate)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="dw-bench-"))
    url, server = start_redis(tmp)
    results: dict[str, Any] = {"redis": url, "cores": os.cpu_count()}

    def delay() -> dict[str, Any]:
        return bench_delay(
            url,
            args.slice_min,
            args.hours,
            args.blatant,
            tmp,
            args.fine_slice_min,
            args.fine_window_min,
        )

    try:
        if args.only_delay:
            results["detection_delay"] = delay()
            return 0
        events = _load_events(args.copies)
        results["ingest"] = bench_ingest(url, events)
        from service.stream.codec import encode_events

        payloads = encode_events(events)
        results["bare_loop"] = bench_bare(url, payloads)
        accounts = [e["account_id"] for e in events]
        for n in (1, 2):
            results[f"workers_{n}"] = bench_workers(url, payloads, n, f"w{n}", accounts=accounts)
            bare = results["bare_loop"]["events_per_s"]
            results[f"workers_{n}"]["ratio_to_bare"] = round(
                (results[f"workers_{n}"]["events_per_s"] or 0) / bare, 3
            )
        if args.delay:
            results["detection_delay"] = delay()
    finally:
        stop_redis(server)
        shutil.rmtree(tmp, ignore_errors=True)
        print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
