"""Soak and fault test of the whole pipeline (issue 15): bounded, loopback only.

``python -m bench.soak --minutes 30 --json soak.json`` (default 3 minutes; see
docs/reliability.md). It starts a private Redis (AOF on), ``distillwatch serve``, two
``distillwatch worker`` and ``distillwatch sinks`` (webhook to a loopback receiver), then
runs, all at once: gateway decisions at a fixed rate (a quarter of them for accounts that
must be blocked), log ingest at a fixed rate (unique request ids, retries, deliberate
re-sends), dashboard SSE clients and a sign-in churn; and injects faults on a schedule:
``kill -9`` of a worker, Redis ``kill -9`` + restart from its AOF, Redis frozen
(``SIGSTOP``), the webhook hanging then answering 500, a burst of malformed records, slow
(slowloris) and oversized bodies, and gateway load at twice the measured saturation rate.

It reports events offered vs folded into window state exactly once (per account), blocked
accounts allowed (Redis healthy / Redis down apart), p99 latency and 503s per phase, RSS of
every process, Redis memory and stream lengths over time (with a levelling-off rule),
dead-letter counts and recovery times per fault. Every child is killed at the end, at a
global deadline, and at exit.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from bench.soak_load import GatewayLoad, IngestLoad, SseClients, normal_id, slow_clients
from bench.soak_procs import (
    ANALYST_TOKEN,
    FLOOD_RATE,
    FLOOD_TOKEN,
    GATEWAY_TOKEN,
    PREFIX,
    Cluster,
    rss_kib,
)
from bench.soak_report import level_off, markdown, phase_table, table, verdict
from service.redis_keys import Keys
from service.store.score_record import ScoreRecord, write_score
from service.stream.layout import pipeline_stats, stream_lengths

__all__ = ["FAULTS", "main", "markdown", "run", "table"]

FAULTS = (
    "worker_kill",
    "redis_restart",
    "redis_pause",
    "sink_fault",
    "malformed",
    "slow_clients",
    "overload",
    "token_flood",
)
KEYS = Keys(PREFIX)


def _redis(url: str, timeout: float = 1.0) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


LAG_CAP = 20_000


def _lag(client: Any) -> int:
    """Entries not yet delivered (counted after the group's last-delivered id, at most
    ``LAG_CAP``) plus entries pending in the worker group.

    Not XINFO GROUPS ``lag``: after a Redis ``kill -9`` and restart from the AOF that
    figure stayed thousands of entries above 0 with the stream fully consumed
    (``last-delivered-id`` = ``last-generated-id``; see docs/reliability.md).
    """
    total = 0
    for part in KEYS.parts():
        for g in client.xinfo_groups(part.events):
            last = g["last-delivered-id"]
            last = last.decode() if isinstance(last, bytes) else str(last)
            ahead = client.xrange(part.events, min="(" + last, max="+", count=LAG_CAP)
            total += len(ahead) + int(g.get("pending") or 0)
    return total


def _xinfo_lag(client: Any) -> int | None:
    """The group's lag as XINFO GROUPS reports it (what the service's gauge uses)."""
    total: int | None = None
    for part in KEYS.parts():
        for g in client.xinfo_groups(part.events):
            lag = g.get("lag")
            if lag is None:
                return None
            total = (total or 0) + int(lag) + int(g.get("pending") or 0)
    return total


# -- state ----------------------------------------------------------------------------------


def seed_state(cluster: Cluster, n_allow: int, n_blocked: int) -> tuple[list[str], list[str]]:
    """Score hashes for gateway-only accounts: ``n_allow`` allowed, ``n_blocked`` blocked by
    score and ``n_blocked`` allowed by score but blocked by an analyst (confirm-block
    through the API). Returns (blocked accounts, other accounts)."""
    client = cluster.redis.client()
    pipe = client.pipeline(transaction=False)
    now = time.time()

    def score(acct: str, action: str, risk: float) -> None:
        record = ScoreRecord(
            risk=risk,
            action=action,
            reasons=[f"soak seed: {action}"],
            rule_ids=["harvest_cot_burst"] if action == "block" else [],
            model_version="soak-seed",
            scored_at="2026-01-01T00:00:00Z",
            as_of=now,
            n_events=100,
        )
        write_score(pipe, KEYS, acct, record)

    allow = [f"soak-fill-{i:05d}" for i in range(n_allow)]
    by_score = [f"soak-block-score-{i:03d}" for i in range(n_blocked)]
    by_analyst = [f"soak-block-analyst-{i:03d}" for i in range(n_blocked)]
    for a in allow + by_analyst:
        score(a, "allow", 0.05)
    for a in by_score:
        score(a, "block", 0.95)
    pipe.execute()
    client.close()
    for a in by_analyst:
        status, body, _ = cluster.request(
            "POST",
            f"/v1/accounts/{a}/confirm-block",
            body=b'{"note": "soak"}',
            headers={
                "Authorization": f"Bearer {ANALYST_TOKEN}",
                "Content-Type": "application/json",
            },
        )
        if status != 200:
            raise RuntimeError(f"confirm-block {a}: {status} {body[:200]!r}")
    return by_score + by_analyst, allow


_FLOOD_SCRIPT = """
import http.client, sys, threading, time
port, token, seconds, conns = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
counts = {}
lock = threading.Lock()
def run():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    body = b'{"account_id":"soak-flood-caller"}'
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            c.request("POST", "/v1/score", body, headers)
            r = c.getresponse(); r.read(); st = r.status
        except Exception:
            st = 0
            c.close(); c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        with lock:
            counts[st] = counts.get(st, 0) + 1
threads = [threading.Thread(target=run) for _ in range(conns)]
for t in threads: t.start()
for t in threads: t.join()
print(" ".join(f"{k}:{v}" for k, v in sorted(counts.items())))
"""


def token_flood(port: int, seconds: float, conns: int = 8) -> dict[str, Any]:
    """``POST /v1/score`` as fast as ``conns`` connections go, with the flood token (its
    own quota, :data:`bench.soak_procs.FLOOD_RATE`), from a separate process so that the
    soak's own load driver keeps its pace. Returns offered and served req/s and statuses."""
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _FLOOD_SCRIPT, str(port), FLOOD_TOKEN, f"{seconds:g}", str(conns)],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    statuses = {int(k): int(v) for k, v in (p.split(":") for p in out.split())}
    total = sum(statuses.values())
    return {
        "flood_seconds": seconds,
        "flood_statuses": {str(k): v for k, v in statuses.items()},
        "flood_offered_rps": round(total / seconds, 1),
        "flood_served_rps": round(statuses.get(200, 0) / seconds, 1),
        "flood_quota_rps": FLOOD_RATE,
    }


def saturation_rps(port: int, accounts: list[str], seconds: float = 3.0) -> float | None:
    """Closed-loop ``POST /v1/score`` req/s with ``wrk -t1 -c32`` (None without wrk)."""
    exe = shutil.which("wrk")
    if exe is None:
        return None
    lua = (
        "local accts = {" + ",".join(f'"{a}"' for a in accounts[:500]) + "}\n"
        "local headers = {}\nheaders['Content-Type'] = 'application/json'\n"
        f"headers['Authorization'] = 'Bearer {GATEWAY_TOKEN}'\n"
        "function request()\n  local a = accts[math.random(1, #accts)]\n"
        "  return wrk.format('POST', '/v1/score', headers, '{\"account_id\":\"' .. a .. '\"}')\n"
        "end\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
    try:
        out = subprocess.run(
            [exe, "-t1", "-c32", f"-d{seconds:g}s", "-s", f.name, f"http://127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
        ).stdout
    finally:
        os.unlink(f.name)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(m.group(1)) if m else None


# -- sampling -------------------------------------------------------------------------------


class Sampler:
    """Every ``every_s``: RSS of every process, Redis memory, stream lengths, group lag,
    live dashboard sessions, keys."""

    def __init__(self, cluster: Cluster, t0: float, every_s: float) -> None:
        self.cluster = cluster
        self.t0 = t0
        self.every_s = every_s
        self.samples: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def start(self) -> Sampler:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)

    def sample(self) -> dict[str, Any]:
        c = self.cluster
        s: dict[str, Any] = {"t": round(time.perf_counter() - self.t0, 2)}
        pids = c.pids()
        s["rss_kib"] = {name: rss_kib(pid) for name, pid in pids.items()}
        s["rss_kib"]["workers_max"] = max(
            (v or 0 for k, v in s["rss_kib"].items() if k.startswith("worker")), default=0
        )
        if c.redis_paused or c.redis.proc is None:
            s["redis"] = None
            return s
        try:
            r = _redis(c.redis.url)
            pipe = r.pipeline(transaction=False)
            pipe.info("memory")
            pipe.xlen(KEYS.quarantine)
            pipe.xlen(KEYS.alerts)
            pipe.xlen(KEYS.sink_deadletter("webhook"))
            pipe.dbsize()
            mem, qu, al, sdl, dbsize = pipe.execute()
            lengths = stream_lengths(r, KEYS)
            ev, dl = lengths["events"], lengths["deadletter"]
            sessions = sum(1 for _ in r.scan_iter(KEYS.session_pattern, count=1000))
            s["redis"] = {
                "used_memory": int(mem["used_memory"]),
                "xlen": {"events": ev, "quarantine": qu, "deadletter": dl, "alerts": al},
                "sink_deadletter": sdl,
                "keys": int(dbsize),
                "sessions": sessions,
                "lag": _lag(r),
                "xinfo_lag": _xinfo_lag(r),
            }
            r.close()
        except Exception:  # Redis restarting: a gap in the series
            s["redis"] = None
        return s

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.samples.append(self.sample())
            self.stopping.wait(self.every_s)


# -- faults and recovery --------------------------------------------------------------------


def _alert_ids(client: Any) -> set[str]:
    return {i.decode() for i, _ in client.xrange(KEYS.alerts)}


def _sink_deadlettered(client: Any) -> set[str]:
    out: set[str] = set()
    for _i, fields in client.xrange(KEYS.sink_deadletter("webhook")):
        out.update(orjson.loads(fields.get(b"ids", b"[]")))
    return out


def _dead_pending(client: Any, pid: int) -> int:
    """Entries still pending for the consumer of the worker process ``pid``."""
    mark = f"-{pid}-"
    return sum(
        int(c["pending"])
        for part in KEYS.parts()
        for c in client.xinfo_consumers(part.events, "workers")
        if mark in (c["name"].decode() if isinstance(c["name"], bytes) else c["name"])
    )


def recovery(
    cluster: Cluster,
    probe_acct: str,
    t_end: float,
    lag_max: int,
    timeout: float,
    dead_pid: int | None = None,
) -> dict[str, Any]:
    """Seconds from ``t_end`` until (a) ``/v1/score`` answers from state again, (b) the
    worker group's lag is under ``lag_max``, (c) every alert on the stream at ``t_end`` was
    delivered to the webhook (or dead-lettered by the sink), (d) a worker scored again
    (``last_scored_at`` of the stats hash moved past the fault's end) and, after a worker
    kill, (e) the dead worker's pending entries were reclaimed. None: not within
    ``timeout``."""
    out: dict[str, Any] = {"gateway_s": None, "lag_s": None, "sink_s": None, "score_s": None}
    wall_end = time.time()
    if dead_pid is not None:
        out["reclaim_s"] = None
    want: set[str] | None = None
    headers = {"Authorization": f"Bearer {GATEWAY_TOKEN}", "Content-Type": "application/json"}
    body = orjson.dumps({"account_id": probe_acct})
    client = _redis(cluster.redis.url, timeout=2.0)
    try:
        while time.perf_counter() - t_end < timeout:
            now = time.perf_counter() - t_end
            if out["gateway_s"] is None:
                try:
                    st, data, _ = cluster.request("POST", "/v1/score", body, headers, timeout=2)
                    if st == 200 and orjson.loads(data).get("source") == "analyst":
                        out["gateway_s"] = round(now, 3)
                except OSError:
                    pass
            try:
                if out["lag_s"] is None and _lag(client) <= lag_max:
                    out["lag_s"] = round(now, 3)
                if out.get("reclaim_s", 0) is None and _dead_pending(client, dead_pid or 0) == 0:
                    out["reclaim_s"] = round(now, 3)
                if out["score_s"] is None:
                    last = client.hget(KEYS.stats, "last_scored_at")
                    if last is not None and float(last) > wall_end:
                        out["score_s"] = round(now, 3)
                if want is None:
                    want = _alert_ids(client)
                if out["sink_s"] is None:
                    missing = want - cluster.receiver.delivered_ids()
                    if missing:
                        missing -= _sink_deadlettered(client)
                    if not missing:
                        out["sink_s"] = round(now, 3)
                        out["alerts_waited"] = len(want)
            except Exception:  # Redis not back yet
                pass
            if all(v is not None for k, v in out.items() if k.endswith("_s")):
                break
            time.sleep(0.05)
    finally:
        client.close()
    out["recovered"] = all(v is not None for k, v in out.items() if k.endswith("_s"))
    return out


def schedule(seconds: float, faults: tuple[str, ...], cycle_s: float) -> list[tuple[float, str]]:
    """Start time (s) of each fault: a warm-up, then the faults evenly spaced, repeated
    every ``cycle_s``."""
    warm = min(30.0, max(4.0, 0.1 * seconds))
    span = seconds - warm
    cycles = max(1, int(span // cycle_s))
    slot = span / (cycles * len(faults))
    return [
        (warm + (c * len(faults) + i) * slot, f)
        for c in range(cycles)
        for i, f in enumerate(faults)
    ]


class Faults:
    """Injects the faults; records what happened and how long recovery took."""

    def __init__(
        self, cluster: Cluster, ingest: IngestLoad, gateway: GatewayLoad, **kw: Any
    ) -> None:
        self.cluster = cluster
        self.ingest = ingest
        self.gateway = gateway
        self.hold_s: float = kw["hold_s"]
        self.recover_timeout_s: float = kw["recover_timeout_s"]
        self.lag_max: int = kw["lag_max"]
        self.probe: str = kw["probe"]
        self.overload_rate: float | None = kw["overload_rate"]
        self.t0: float = kw["t0"]
        self.log: list[dict[str, Any]] = []

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def inject(self, name: str) -> dict[str, Any]:
        c, hold = self.cluster, self.hold_s
        rec: dict[str, Any] = {"fault": name, "start_s": round(self.now(), 2)}
        if name == "worker_kill":
            pid = c.workers[0].pid
            rec["killed_pid"] = c.kill_worker(0)
            with contextlib.suppress(Exception):
                r = _redis(c.redis.url)
                rec["pending_at_kill"] = _dead_pending(r, pid)
                r.close()
            time.sleep(min(1.0, hold))  # the supervisor restarts it a second later
            c.start_worker()
        elif name == "redis_restart":
            c.kill_redis()
            time.sleep(hold)
            rec["redis_start_s"] = round(c.start_redis(), 3)
        elif name == "redis_pause":
            c.pause_redis()
            time.sleep(hold)
            c.resume_redis()
        elif name == "sink_fault":
            c.receiver.mode = "hang"
            time.sleep(hold)
            c.receiver.mode = "error"
            time.sleep(hold)
            c.receiver.mode = "ok"
        elif name == "malformed":
            rec["answer"] = self.ingest.malformed_burst(n_bad=200, n_good=100)
        elif name == "slow_clients":
            rec.update(slow_clients(c.port, seconds=max(hold * 2, 6.0)))
        elif name == "overload":
            if self.overload_rate:
                base, sent0 = self.gateway.rate, self.gateway.sent
                self.gateway.rate = self.overload_rate
                time.sleep(hold * 2)
                self.gateway.rate = base
                rec["target_rps"] = self.overload_rate
                rec["offered_rps"] = round((self.gateway.sent - sent0) / (hold * 2), 1)
                # the phase lasts until the queue of requests it left behind has drained
                t = time.perf_counter()
                while self.gateway.inflight > max(20, base * 0.1) and time.perf_counter() - t < 60:
                    time.sleep(0.1)
                rec["backlog_drain_s"] = round(time.perf_counter() - t, 2)
            else:
                rec["skipped"] = "no saturation figure (wrk missing)"
        elif name == "token_flood":
            rec.update(token_flood(c.port, seconds=max(hold * 2, 4.0)))
        rec["end_s"] = round(self.now(), 2)
        rec["recovery"] = recovery(
            c,
            self.probe,
            time.perf_counter(),
            self.lag_max,
            self.recover_timeout_s,
            dead_pid=rec.get("killed_pid"),
        )
        rec["recovered_at_s"] = round(self.now(), 2)
        self.log.append(rec)
        return rec


# -- exactly once ---------------------------------------------------------------------------


def exactly_once(cluster: Cluster, offered: Counter, timeout: float) -> dict[str, Any]:
    """Wait for the workers to drain, then compare events offered per account with the
    events in its window state (``n``): lost and doubled events, plus the stats hash."""
    from service.stream.state_store import read_states, window_hours

    client = _redis(cluster.redis.url, timeout=10)
    t = time.perf_counter()
    while time.perf_counter() - t < timeout and _lag(client) > 0:
        time.sleep(0.2)
    drained_s = round(time.perf_counter() - t, 2)
    lag = _lag(client)
    accounts = sorted(offered)
    hours = sorted({h for h in window_hours(time.time(), 3)})
    states = read_states(client, KEYS, accounts, hours)
    lost = doubled = 0
    bad: dict[str, tuple[int, int]] = {}
    for acct in accounts:
        n = round(states[acct].get("n")) if acct in states else 0
        want = int(offered[acct])
        lost += max(0, want - n)
        doubled += max(0, n - want)
        if n != want and len(bad) < 10:
            bad[acct] = (want, n)
    stats = {k: int(float(v)) for k, v in pipeline_stats(client, KEYS).items()}
    client.close()
    return {
        "offered": int(sum(offered.values())),
        "in_state": int(sum(round(s.get("n")) for s in states.values())),
        "accounts": len(accounts),
        "lost": lost,
        "doubled": doubled,
        "mismatched_accounts": bad,
        "drain_s": drained_s,
        "lag_after_drain": lag,
        "stats": stats,
    }


def ttl_audit(cluster: Cluster, limit: int = 20_000) -> dict[str, Any]:
    """Keys by kind with and without a TTL (the seeded gateway-only accounts excluded)."""
    kinds = [
        ("dedupe", re.compile(r"^soak:\{p\d+\}:d:")),
        ("bucket", re.compile(r"^soak:\{p\d+\}:a:.*:r:\d+$")),
        ("account_score", re.compile(r"^soak:\{p\d+\}:a:.*:(score|features)$")),
        ("account_history", re.compile(r"^soak:\{p\d+\}:a:.*:history$")),
        ("account_alert", re.compile(r"^soak:\{p\d+\}:a:.*:alert$")),
        ("account_other", re.compile(r"^soak:\{p\d+\}:a:")),
        ("alert", re.compile(r"^soak:alert:\{[^}]+\}$")),
        ("alert_notes", re.compile(r"^soak:alert:\{[^}]+\}:notes$")),
        ("session", re.compile(r"^soak:session:")),
        ("rate_limit", re.compile(r"^soak:rl:")),
    ]
    client = _redis(cluster.redis.url, timeout=10)
    out: dict[str, Counter] = {}
    examples: list[str] = []
    for i, raw in enumerate(client.scan_iter("soak:*", count=1000)):
        if i >= limit:
            break
        key = raw.decode()
        if "soak-fill-" in key or "soak-block-" in key:
            continue
        kind = next((k for k, rx in kinds if rx.search(key)), "global")
        c = out.setdefault(kind, Counter())
        c["keys"] += 1
        if kind != "global" and client.ttl(key) == -1:
            c["no_ttl"] += 1
            if len(examples) < 5:
                examples.append(key)
    client.close()
    res: dict[str, Any] = {k: dict(v) for k, v in out.items()}
    res["no_ttl_examples"] = examples
    return res


def service_metrics(cluster: Cluster) -> dict[str, float]:
    """The service's fail-mode, Redis-error, shed and body-limit counters at the end."""
    wanted = (
        "distillwatch_fallback_decisions_total",
        "distillwatch_redis_errors_total",
        "distillwatch_shed_requests_total",
        "distillwatch_redis_budget_extensions_total",
        "distillwatch_request_body_timeouts_total",
    )
    try:
        text = cluster.request("GET", "/metrics", timeout=10)[1].decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(wanted) and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            if float(value):
                out[name] = float(value)
    return out


# -- the run --------------------------------------------------------------------------------


def run(
    minutes: float = 3.0,
    rate: float = 300.0,
    ingest_rate: float = 500.0,
    seed: int = 7,
    faults: tuple[str, ...] = FAULTS,
    cycle_s: float = 240.0,
    hold_s: float | None = None,
    sample_s: float | None = None,
    events_maxlen: int | None = None,
    workdir: Path | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Run the soak; returns the report (see docs/reliability.md for each figure).

    Parameters
    ----------
    minutes : float
        Length of the loaded part (faults included); setup and drain come on top.
    rate, ingest_rate : float
        Gateway requests/s and ingested events/s.
    seed : int
        Random seed of the load.
    faults : tuple of str
        Faults to inject (a subset of :data:`FAULTS`), in this order, every ``cycle_s``.
    hold_s : float, optional
        How long each fault lasts (default: from the slot length, 1.5 to 8 s).
    sample_s : float, optional
        Sampling period (default: ~40 samples, 1 to 5 s).
    events_maxlen : int, optional
        ``DISTILLWATCH_EVENTS_MAXLEN`` of the run (the events stream's bound). Default:
        a quarter of the run's events, between 5,000 and 100,000, so that the stream
        reaches its bound (and the memory its plateau) in the first third of the run.
    """
    seconds = minutes * 60.0
    plan = schedule(seconds, faults, cycle_s)
    slot = (seconds - plan[0][0]) / max(len(plan), 1)
    hold = hold_s if hold_s is not None else min(8.0, max(1.5, slot * 0.2))
    every = sample_s if sample_s is not None else min(5.0, max(1.0, seconds / 40))
    short = seconds < 120
    if events_maxlen is None:
        events_maxlen = int(min(100_000, max(5_000, ingest_rate * seconds / 4)))
    # dedupe markers live a quarter of the run (30 s to 5 min): longer than any retry of
    # the run, short enough for their number to plateau within the first third
    dedupe_ttl = int(min(300, max(30, seconds / 4)))
    env = {
        "DISTILLWATCH_EVENTS_MAXLEN": str(events_maxlen),
        "DISTILLWATCH_DEDUPE_TTL_S": str(dedupe_ttl),
        "DISTILLWATCH_CLAIM_IDLE_MS": "3000" if short else "5000",
        "DISTILLWATCH_CLAIM_EVERY_S": "1",
        # a killed population-lease holder stalls scoring for up to this TTL (90 s by
        # default; the long runs keep the default so the report shows it)
        **({"DISTILLWATCH_POPULATION_LEASE_TTL_S": "8"} if short else {}),
        "DISTILLWATCH_SCORE_DEBOUNCE_S": "1" if short else "2",
        "DISTILLWATCH_SINK_TIMEOUT_S": "1",
        "DISTILLWATCH_SINK_BACKOFF_S": "0.2",
        "DISTILLWATCH_SINK_BACKOFF_MAX_S": "2",
        "DISTILLWATCH_SINK_MAX_ATTEMPTS": "12",
        "DISTILLWATCH_SESSION_IDLE_S": str(8 if short else 30),
        "DISTILLWATCH_SESSION_TOUCH_S": "1",
        "DISTILLWATCH_MAX_BODY_SECONDS": "3",
        "DISTILLWATCH_MAX_EVENTS_BODY_SECONDS": "5",
    }
    own = workdir is None
    wd = Path(tempfile.mkdtemp(prefix="dw-soak-")) if workdir is None else workdir
    cluster = Cluster(wd, env, workers=2, hang_s=2.0)
    atexit.register(cluster.kill_all)
    report: dict[str, Any] = {
        "config": {
            "minutes": minutes,
            "rate": rate,
            "ingest_rate": ingest_rate,
            "seed": seed,
            "faults": list(faults),
            "hold_s": hold,
            "sample_s": every,
            "env": env,
            "cores": os.cpu_count(),
            "load_avg_before": os.getloadavg(),
        }
    }
    # global deadline: whatever happens, no child outlives the run by much
    hard = seconds + 480.0
    watchdog = threading.Timer(hard, cluster.kill_all)
    watchdog.daemon = True
    watchdog.start()
    say = (lambda *_a: None) if quiet else (lambda *a: print(*a, flush=True))
    loads: list[Any] = []
    try:
        t_setup = time.perf_counter()
        cluster.start()
        blocked, allow = seed_state(cluster, 2000, 20)
        report["setup_s"] = round(time.perf_counter() - t_setup, 2)
        sat = (
            saturation_rps(cluster.port, allow, 2.0 if short else 3.0)
            if "overload" in faults
            else None
        )
        report["saturation_rps"] = sat
        say(
            f"soak: processes up in {report['setup_s']} s; saturation {sat} req/s; "
            f"{len(plan)} faults over {seconds:g} s"
        )
        ingest = IngestLoad(
            cluster.port,
            ingest_rate,
            seed=seed,
            harvest_every_s=2.0 if short else 10.0,
            harvest_share=0.2 if short else 0.1,
        )
        others = allow + [normal_id(i) for i in range(ingest.n_accounts)]
        t0 = time.perf_counter()
        gateway = GatewayLoad(cluster.port, rate, blocked, others, seed=seed, max_conns=300)
        sampler = Sampler(cluster, t0, every)
        sse = SseClients(cluster.port, n=3, churn_s=1.0)
        loads = [sampler.start(), gateway.start(t0), ingest.start(), sse.start()]
        runner = Faults(
            cluster,
            ingest,
            gateway,
            hold_s=hold,
            recover_timeout_s=20.0 if short else 120.0,
            lag_max=int(max(1000, 3 * ingest_rate)),
            probe=blocked[-1],
            overload_rate=2 * sat if sat else None,
            t0=t0,
        )
        skipped: list[str] = []
        for at, name in plan:
            wait = at - (time.perf_counter() - t0)
            if wait > 0:
                time.sleep(wait)
            if time.perf_counter() - t0 > seconds - 2 * hold:  # slow recoveries slid it out
                skipped.append(name)
                continue
            rec = runner.inject(name)
            say(f"  {rec['start_s']:7.1f} s {name}: recovery {rec['recovery']}")
        rest = seconds - (time.perf_counter() - t0)
        if rest > 0:
            time.sleep(rest)
        load_end = time.perf_counter() - t0
        ingest.stop()
        gateway.stop()
        sse.stop()
        report["ingest_drained"] = ingest.drain(30.0)
        sampler.stop()
        report["load_s"] = round(load_end, 1)
        report["exactly_once"] = exactly_once(cluster, ingest.offered, 60.0)
        report["ingest"] = {
            "accepted_batches": ingest.accepted_batches,
            "failed_posts": ingest.failed_posts,
            "resent_events": ingest.resent_events,
            "duplicates_answered": ingest.duplicates_answered,
            "added_answered": ingest.added_answered,
            "quarantined_answered": ingest.quarantined_answered,
            "malformed_sent": ingest.malformed_sent,
            "statuses": {str(k): v for k, v in ingest.statuses.items()},
            "unconfirmed_batches": len(ingest.pending),
        }
        report["gateway"] = phase_table(gateway.seconds, runner.log, load_end)
        report["gateway"]["sent"] = gateway.sent
        report["faults"] = runner.log
        report["faults_skipped"] = skipped
        report["sse"] = dict(sse.stats)
        report["samples"] = sampler.samples
        report["level_off"] = level_off(sampler.samples, load_end)
        report["ttl_audit"] = ttl_audit(cluster)
        final = sampler.sample()
        report["final"] = final
        report["dead_letters"] = final["redis"] and {
            "events": final["redis"]["xlen"]["deadletter"],
            "quarantine": final["redis"]["xlen"]["quarantine"],
            "sink_webhook": final["redis"]["sink_deadletter"],
        }
        report["sink"] = {
            "delivered_alerts": len(cluster.receiver.delivered_ids()),
            "receiver_requests": dict(cluster.receiver.requests),
        }
        report["service_metrics"] = service_metrics(cluster)
        report["children_exited"] = cluster.exited()
        report["children_logs"] = {
            name: cluster.log_tail(name, 15) for name in report["children_exited"]
        }
        report["load_avg_after"] = os.getloadavg()
        report["config"]["events_maxlen"] = events_maxlen
        report["verdict"] = verdict(report, events_maxlen)
    except BaseException:
        for name in ("service", "worker-0", "sinks"):
            tail = cluster.log_tail(name, 15)
            if tail:
                print(f"--- {name} log tail\n{tail}", flush=True)
        raise
    finally:
        for load in loads:  # after an error: every load thread ends by itself
            if isinstance(load, Sampler):
                load.stopping.set()
            else:
                load.stopping = True
        watchdog.cancel()
        cluster.stop()
        atexit.unregister(cluster.kill_all)
        if own:
            shutil.rmtree(wd, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.soak``: run, print the table, write ``--json``; 1 when a check
    fails."""
    ap = argparse.ArgumentParser(description="distillwatch soak and fault test (loopback)")
    ap.add_argument("--minutes", type=float, default=3.0, help="loaded time (default 3)")
    ap.add_argument("--rate", type=float, default=300.0, help="gateway requests/s")
    ap.add_argument("--ingest-rate", type=float, default=500.0, help="ingested events/s")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cycle-s", type=float, default=240.0, help="fault schedule period")
    ap.add_argument(
        "--events-maxlen", type=int, default=None, help="events stream bound (default: auto)"
    )
    ap.add_argument("--faults", default=",".join(FAULTS), help="comma-separated subset")
    ap.add_argument("--json", type=Path, default=None, help="write the full report here")
    ap.add_argument("--markdown", type=Path, default=None, help="write the report's tables here")
    args = ap.parse_args(argv)
    faults = tuple(f for f in args.faults.split(",") if f)
    unknown = set(faults) - set(FAULTS)
    if unknown:
        ap.error(f"unknown faults: {sorted(unknown)}")
    r = run(
        minutes=args.minutes,
        rate=args.rate,
        ingest_rate=args.ingest_rate,
        seed=args.seed,
        faults=faults,
        cycle_s=args.cycle_s,
        events_maxlen=args.events_maxlen,
    )
    print(table(r))
    if args.json:
        args.json.write_text(json.dumps(r, indent=1, default=str))
    if args.markdown:
        args.markdown.write_text(markdown(r) + "\n")
    return 0 if r["verdict"]["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
