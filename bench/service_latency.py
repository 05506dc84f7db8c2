"""Benchmark: the gateway path of ``distillwatch serve`` against a bare Starlette baseline.

Loopback only, bounded (about a minute), against a private ``redis-server`` started on a
free port in a temp dir (never the shared 6379). Run
``.venv/bin/python -m bench.service_latency`` (``--help``).

1. **State**: ``--accounts`` (100,000) score hashes written the way the scorer writes
   them (``risk``, ``action``, ``reasons`` JSON, ``rule_ids``, ``cluster_id``,
   ``model_version``, ``scored_at``, ``as_of``, ``n_events``, ...); 2 % block, 3 %
   throttle, 5 % review.
2. **Processes**: ``distillwatch serve`` (real uvicorn, uvloop + httptools, no access
   log) with a gateway token, and, as the baseline, a bare Starlette app served by
   uvicorn with the same loop/http settings whose one endpoint parses the JSON body,
   does one ``HGETALL`` with ``redis.asyncio`` and answers the hash as JSON.
3. **Saturation** (``wrk``, one thread, ``--connections`` keep-alive connections, a Lua
   script posting ``{"account_id": <random filled account>}`` with the bearer token):
   requests/s of ``POST /v1/score`` on each server, alternated ``--rounds`` times; the
   ratio is service / baseline of the medians, from the same run.
4. **Fixed rate** (``--rate``, 1,000 req/s): Debian's ``wrk`` 4.1 has no ``-R`` (that is
   wrk2), so latency at a fixed rate is measured two ways: an open-loop driver of this
   module (asyncio + uvloop, raw HTTP/1.1 on a pool of keep-alive connections; each
   request has a scheduled send time and its latency is counted *from that time*, so a
   stall cannot hide queued requests: no coordinated omission) and, as a cross-check,
   ``wrk -c 4`` paced by a Lua ``delay()`` (closed loop: each connection waits
   ``connections / rate`` between requests; latency from the actual send).
5. **Redis down**: Redis frozen (``SIGSTOP``: a hung server, the time budget path) and
   then killed (refused connections); sequential ``/v1/score`` and ``/v1/check`` calls
   on a fail-open and a fail-closed service, their latency and answers; then Redis is
   resumed / restarted (from an RDB snapshot taken before the kill) and the time until
   the service answers from state again is measured.

Every client shares the machine's cores with the servers and Redis (the figures are what
this box gives with everything on loopback).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import orjson

from service.stream.local_redis import RedisNotInstalled, RedisServer, free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]

PREFIX = "bench"
GATEWAY_TOKEN = "gw-bench-token-0001"
ACCOUNT_HEADER = "x-distillwatch-account"

# -- processes ------------------------------------------------------------------------------


def _tokens_env() -> str:
    return json.dumps([{"name": "bench-gateway", "role": "gateway", "token": GATEWAY_TOKEN}])


def _wait_http(port: int, proc: subprocess.Popen[bytes], path: str = "/healthz") -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not answer {path}")


def start_service(
    redis_url: str, fail_mode: str = "open", redis_timeout_s: float | None = None
) -> tuple[int, subprocess.Popen[bytes]]:
    """``distillwatch serve`` on a free loopback port; returns (port, process).

    ``redis_timeout_s`` overrides the Redis budget of the gateway path (default: the
    service's own default).
    """
    port = free_port()
    env = dict(os.environ)
    if redis_timeout_s is not None:
        env["DISTILLWATCH_REDIS_TIMEOUT_S"] = str(redis_timeout_s)
    env.update(
        DISTILLWATCH_API_TOKENS=_tokens_env(),
        DISTILLWATCH_REDIS_URL=redis_url,
        DISTILLWATCH_KEY_PREFIX=PREFIX,
        DISTILLWATCH_FAIL_MODE=fail_mode,
        DISTILLWATCH_SINKS_IN_SERVICE="0",
    )
    code = "import sys; from service.cli import main; sys.exit(main())"
    args = [sys.executable, "-c", code, "serve", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(args, env=env, cwd=ROOT)
    _wait_http(port, proc)
    return port, proc


def start_baseline(redis_url: str) -> tuple[int, subprocess.Popen[bytes]]:
    """The bare Starlette baseline (``--baseline-serve``) on a free loopback port."""
    port = free_port()
    args = [sys.executable, "-m", "bench.service_latency", "--baseline-serve", str(port)]
    args += ["--redis-url", redis_url]
    proc = subprocess.Popen(args, cwd=ROOT)
    _wait_http(port, proc)
    return port, proc


def fallbacks(port: int) -> int:
    """Decisions the service took from its fail mode so far (its ``/metrics``)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("distillwatch_fallback_decisions_total{")
        )
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads) so far, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measured(port: int, pid: int, service: bool, fn: Any, *args: Any) -> dict[str, Any]:
    """``fn(*args)`` plus the server's CPU per request and, for the service, its fail-mode
    answers during the run (``fallbacks``).

    CPU per request does not depend on how much of the machine the server got, so it
    compares the two servers fairly on a shared box.
    """
    before = fallbacks(port) if service else 0
    cpu0 = cpu_seconds(pid)
    res = fn(*args)
    cpu = cpu_seconds(pid) - cpu0
    n = res.get("requests") or res.get("sent") or 0
    res["cpu_us_per_req"] = round(cpu / n * 1e6, 1) if n else float("nan")
    if service:
        res["fallbacks"] = fallbacks(port) - before
    return res


# -- the baseline app -----------------------------------------------------------------------


def serve_baseline(port: int, redis_url: str) -> None:
    """Serve the baseline: ``POST /v1/score`` = parse body, one HGETALL, answer JSON."""
    import redis.asyncio as aredis
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    from service.redis_keys import Keys

    client = aredis.Redis.from_url(redis_url, decode_responses=True)
    keys = Keys(PREFIX)

    async def score(request: Request) -> JSONResponse:
        body = orjson.loads(await request.body())
        state = await client.hgetall(keys.score(body["account_id"]))
        return JSONResponse(state)

    async def healthz(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[Route("/v1/score", score, methods=["POST"]), Route("/healthz", healthz)]
    )
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        server_header=False,
    )


# -- state ----------------------------------------------------------------------------------


def account_id(i: int) -> str:
    """The ``i``-th benchmark account."""
    return f"acct-{i:06d}"


def fill_state(url: str, n: int) -> dict[str, Any]:
    """``n`` score hashes as the scorer writes them; returns counts and the fill time."""
    import redis

    from service.redis_keys import Keys
    from service.store.score_record import ScoreRecord, write_score

    keys = Keys(PREFIX)
    client = redis.Redis.from_url(url)
    t0 = time.perf_counter()
    actions: dict[str, int] = {}
    pipe = client.pipeline(transaction=False)
    now = time.time()
    for i in range(n):
        u = (i * 2654435761 % 2**32) / 2**32  # spread the actions over the id space
        if u < 0.02:
            action, risk, rules = "block", 0.92, "harvest_cot_burst,hydra_cluster"
            reasons = ["rule harvest_cot_burst: 38% of prompts elicit chain of thought"]
        elif u < 0.05:
            action, risk, rules = "throttle", 0.78, "probing_logprob_burst"
            reasons = ["rule probing_logprob_burst: 61% of requests ask for logprobs"]
        elif u < 0.10:
            action, risk, rules = "review", 0.55, ""
            reasons = ["anomaly score in the top 3% of the population"]
        else:
            action, risk, rules, reasons = "allow", round(u * 0.3, 4), "", []
        actions[action] = actions.get(action, 0) + 1
        record = ScoreRecord(
            risk=risk,
            action=action,
            reasons=reasons,
            rule_ids=[rules] if rules else [],
            anomaly_percentile=round(u * 100, 2),
            cluster_id=f"c{i % 97}" if action == "block" else "",
            model_version="iforest-bench-1",
            scored_at="2025-01-01T00:00:00Z",
            as_of=now,
            window_hours=24,
            n_events=20 + i % 500,
        )
        write_score(pipe, keys, account_id(i), record)
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    client.set(keys.model_active, "iforest-bench-1")
    dt = time.perf_counter() - t0
    mem = client.info("memory")["used_memory"]
    client.close()
    return {"accounts": n, "fill_s": round(dt, 2), "redis_used_mb": round(mem / 2**20, 1)}


# -- wrk ------------------------------------------------------------------------------------

_LUA_SCORE = """
local n = {n}
local headers = {{}}
headers["Content-Type"] = "application/json"
headers["Authorization"] = "Bearer {token}"
local pace_ms = {pace_ms}
function setup(thread) thread:set("seed", math.random(1, 2^30)) end
function init(args) math.randomseed(seed or os.time()) end
function request()
  local body = string.format('{{"account_id":"acct-%06d"}}', math.random(0, n - 1))
  return wrk.format("POST", "/v1/score", headers, body)
end
function delay() return pace_ms end
"""

_LUA_CHECK = """
local n = {n}
local pace_ms = {pace_ms}
function setup(thread) thread:set("seed", math.random(1, 2^30)) end
function init(args) math.randomseed(seed or os.time()) end
function request()
  local headers = {{}}
  headers["Authorization"] = "Bearer {token}"
  headers["{header}"] = string.format("acct-%06d", math.random(0, n - 1))
  return wrk.format("GET", "/v1/check", headers, nil)
end
function delay() return pace_ms end
"""


def write_lua(tmp: Path, name: str, n: int, pace_ms: float = 0.0) -> Path:
    """The wrk script ``score`` or ``check`` (``pace_ms`` > 0 paces each connection)."""
    template = _LUA_SCORE if name == "score" else _LUA_CHECK
    text = template.format(n=n, token=GATEWAY_TOKEN, header=ACCOUNT_HEADER, pace_ms=pace_ms)
    path = tmp / f"{name}-{pace_ms:g}.lua"
    path.write_text(text)
    return path


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)$", text.strip())
    if not m:
        raise ValueError(f"cannot read a wrk duration from {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def run_wrk(port: int, script: Path, seconds: float, connections: int) -> dict[str, Any]:
    """One wrk run (1 thread); req/s, non-2xx count and latency percentiles (ms)."""
    exe = shutil.which("wrk")
    if exe is None:
        raise SystemExit("wrk is not on PATH (apt-get install wrk)")
    args = [exe, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script)]
    args.append(f"http://127.0.0.1:{port}")
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 30).stdout
    res: dict[str, Any] = {"connections": connections}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    res["socket_errors"] = m.group(1).strip() if m else ""
    for q in ("50", "90", "99"):
        m = re.search(rf"^\s+{q}%\s+(\S+)", out, re.M)
        if m:
            res[f"p{q}_ms"] = round(_ms(m.group(1)), 3)
    return res


# -- the open-loop driver -------------------------------------------------------------------


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection answering one request at a time."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.lost = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport  # uvloop's transports are not asyncio.Transport subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection lost"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        m = re.search(rb"content-length:\s*(\d+)", head)
        total = end + 4 + (int(m.group(1)) if m else 0)
        if len(self.buf) < total:
            return
        status = int(head[9:12])
        del self.buf[:total]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(status)

    async def send(self, payload: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return await self.waiter


def _score_request(port: int, acct: str) -> bytes:
    body = orjson.dumps({"account_id": acct})
    head = (
        f"POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {GATEWAY_TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _open_loop(
    port: int, rate: float, seconds: float, warmup_s: float, n_accounts: int, max_conns: int
) -> dict[str, Any]:
    import random

    loop = asyncio.get_running_loop()
    rng = random.Random(7)
    idle: deque[_Conn] = deque()
    waiting: deque[asyncio.Future[_Conn]] = deque()
    opened = 0

    async def acquire() -> _Conn:
        nonlocal opened
        if idle:
            return idle.popleft()
        if opened < max_conns:
            opened += 1
            _t, proto = await loop.create_connection(_Conn, "127.0.0.1", port)
            return proto
        fut: asyncio.Future[_Conn] = loop.create_future()
        waiting.append(fut)  # queued: its wait counts in the latency from the schedule
        return await fut

    def release(conn: _Conn) -> None:
        nonlocal opened
        if conn.lost:
            opened -= 1
            return
        while waiting:
            fut = waiting.popleft()
            if not fut.done():
                fut.set_result(conn)
                return
        idle.append(conn)

    for _ in range(8):
        release(await acquire())
    total = int(rate * (warmup_s + seconds))
    n_warm = int(rate * warmup_s)
    from_sched: list[float] = []
    from_send: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    tasks: set[asyncio.Task[None]] = set()

    async def one(i: int, scheduled: float) -> None:
        nonlocal errors
        conn = await acquire()
        sent = time.perf_counter()
        try:
            status = await conn.send(_score_request(port, account_id(rng.randrange(n_accounts))))
        except ConnectionError:
            errors += 1
            release(conn)
            return
        done = time.perf_counter()
        release(conn)
        if i >= n_warm:
            from_sched.append(done - scheduled)
            from_send.append(done - sent)
            statuses[status] = statuses.get(status, 0) + 1

    t0 = time.perf_counter() + 0.05
    i = 0
    while i < total:
        now = time.perf_counter()
        while i < total and t0 + i / rate <= now:
            task = asyncio.create_task(one(i, t0 + i / rate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        if i < total:
            await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
    elapsed = time.perf_counter() - t0  # sending time: the rate actually offered
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    except TimeoutError:
        errors += len(tasks)
    for conn in idle:
        if conn.transport is not None:
            conn.transport.close()

    def pct(xs: list[float], q: float) -> float:
        xs = sorted(xs)
        return round(xs[min(len(xs) - 1, int(q * len(xs)))] * 1e3, 3) if xs else float("nan")

    return {
        "target_rps": rate,
        "offered_rps": round(total / elapsed, 1),
        "sent": total,
        "measured": len(from_sched),
        "connections": opened,
        "statuses": statuses,
        "errors": errors,
        "p50_ms": pct(from_sched, 0.50),
        "p90_ms": pct(from_sched, 0.90),
        "p99_ms": pct(from_sched, 0.99),
        "max_ms": pct(from_sched, 1.0),
        "service_p50_ms": pct(from_send, 0.50),
        "service_p99_ms": pct(from_send, 0.99),
    }


def open_loop(
    port: int, rate: float, seconds: float, warmup_s: float, n_accounts: int, max_conns: int = 64
) -> dict[str, Any]:
    """Open-loop ``POST /v1/score`` at ``rate`` req/s; latency from the scheduled send."""
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    return runner(_open_loop(port, rate, seconds, warmup_s, n_accounts, max_conns))


# -- Redis down -----------------------------------------------------------------------------


class Prober:
    """Sequential keep-alive calls of ``/v1/score`` and ``/v1/check`` on one service."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)

    def score(self, acct: str) -> tuple[float, int, dict[str, Any]]:
        body = orjson.dumps({"account_id": acct})
        headers = {"Authorization": f"Bearer {GATEWAY_TOKEN}", "Content-Type": "application/json"}
        t = time.perf_counter()
        self.conn.request("POST", "/v1/score", body=body, headers=headers)
        resp = self.conn.getresponse()
        data = orjson.loads(resp.read())
        return (time.perf_counter() - t) * 1e3, resp.status, data

    def check(self, acct: str) -> tuple[float, int, dict[str, str]]:
        headers = {"Authorization": f"Bearer {GATEWAY_TOKEN}", ACCOUNT_HEADER: acct}
        t = time.perf_counter()
        self.conn.request("GET", "/v1/check", headers=headers)
        resp = self.conn.getresponse()
        resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders() if k.lower().startswith("x-dist")}
        return (time.perf_counter() - t) * 1e3, resp.status, hdrs

    def close(self) -> None:
        self.conn.close()


def probe_outage(probes: dict[str, Prober], accounts: list[str], seconds: float) -> dict[str, Any]:
    """Every 10 ms, call score and check on each service in turn for ``seconds``.

    Returns, per fail mode, the latencies and answers seen.
    """
    seen: dict[str, dict[str, Any]] = {
        mode: {"score": [], "check": [], "sources": {}, "statuses": {}, "reason": ""}
        for mode in probes
    }
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        acct = accounts[i % len(accounts)]
        for mode, prober in probes.items():
            s = seen[mode]
            ms, _status, data = prober.score(acct)
            s["score"].append(ms)
            src = data.get("source", "?")
            s["sources"][src] = s["sources"].get(src, 0) + 1
            ms, status, hdrs = prober.check(acct)
            s["check"].append(ms)
            s["statuses"][status] = s["statuses"].get(status, 0) + 1
            s["reason"] = hdrs.get("x-distillwatch-reason", s["reason"])
        i += 1
        time.sleep(0.01)
    return {
        mode: {
            "calls": len(s["score"]),
            "score_p50_ms": round(statistics.median(s["score"]), 2),
            "score_max_ms": round(max(s["score"]), 2),
            "check_p50_ms": round(statistics.median(s["check"]), 2),
            "check_max_ms": round(max(s["check"]), 2),
            "score_sources": s["sources"],
            "check_statuses": s["statuses"],
            "deny_reason": s["reason"],
        }
        for mode, s in seen.items()
    }


def time_recovery(probes: dict[str, Prober], acct: str, t0: float) -> dict[str, float]:
    """Per service, seconds from ``t0`` until ``/v1/score`` answers from state again.

    The services are polled in turn every 10 ms (for at most 10 s).
    """
    out: dict[str, float] = {}
    while len(out) < len(probes) and time.perf_counter() - t0 < 10.0:
        for mode, prober in probes.items():
            if mode in out:
                continue
            _ms, status, data = prober.score(acct)
            if status == 200 and data.get("source") == "state":
                out[mode] = round(time.perf_counter() - t0, 3)
        time.sleep(0.01)
    return {mode: out.get(mode, float("nan")) for mode in probes}


def bench_redis_down(
    server: RedisServer, open_port: int, closed_port: int, seconds: float
) -> dict[str, Any]:
    """Freeze, then kill Redis; time both services' answers and their recovery."""
    import redis

    probes = {"open": Prober(open_port), "closed": Prober(closed_port)}
    accts = [account_id(i) for i in range(0, 1000, 7)]
    out: dict[str, Any] = {}
    try:
        for p in probes.values():  # warm connections
            for a in accts[:20]:
                p.score(a)
                p.check(a)
        assert server.proc is not None
        # hung Redis: the process is stopped, connections hang (the time budget path)
        os.kill(server.proc.pid, signal.SIGSTOP)
        for mode, d in probe_outage(probes, accts, seconds).items():
            out[f"hung/{mode}"] = d
        os.kill(server.proc.pid, signal.SIGCONT)
        for mode, r in time_recovery(probes, accts[0], time.perf_counter()).items():
            out[f"hung/{mode}"]["recovery_s"] = r
        # dead Redis: snapshot, kill; connections are refused until the restart
        client = redis.Redis.from_url(server.url)
        client.save()
        client.close()
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(5)
        server.proc = None
        for mode, d in probe_outage(probes, accts, seconds).items():
            out[f"down/{mode}"] = d
        t = time.perf_counter()
        server.start()
        restart_s = round(time.perf_counter() - t, 3)
        for mode, r in time_recovery(probes, accts[0], t).items():
            out[f"down/{mode}"]["restart_s"] = restart_s
            out[f"down/{mode}"]["recovery_s"] = r
    finally:
        for p in probes.values():
            p.close()
    return out


# -- driver ---------------------------------------------------------------------------------


def _table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table and a JSON summary."""
    ap = argparse.ArgumentParser(description="distillwatch service latency benchmark")
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each wrk phase")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections (saturation)")
    ap.add_argument("--rounds", type=int, default=2, help="alternated saturation rounds")
    ap.add_argument("--rate", type=float, default=1000.0, help="fixed rate, req/s")
    ap.add_argument("--outage-s", type=float, default=2.5, help="probing time per outage")
    ap.add_argument("--json", type=Path, default=None, help="also write the summary here")
    ap.add_argument("--baseline-serve", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--redis-url", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.baseline_serve is not None:
        serve_baseline(args.baseline_serve, args.redis_url)
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="dw-bench-svc-"))
    server = RedisServer(tmp)
    procs: list[subprocess.Popen[bytes]] = []
    results: dict[str, Any] = {"cores": os.cpu_count(), "load_avg_before": os.getloadavg()}
    try:
        server.start()
        results["state"] = fill_state(server.url, args.accounts)
        svc_port, p = start_service(server.url, "open")
        procs.append(p)
        # the same service with a 1 s Redis budget: under saturation the default 25 ms
        # budget (which includes the wait in the event loop's queue) trips and answers
        # from the fail mode; this one reads Redis for every answer, like the baseline
        full_port, p = start_service(server.url, "open", redis_timeout_s=1.0)
        procs.append(p)
        base_port, p = start_baseline(server.url)
        procs.append(p)
        score_lua = write_lua(tmp, "score", args.accounts)
        check_lua = write_lua(tmp, "check", args.accounts)

        servers = {
            "service": (svc_port, procs[0].pid, True),
            "service_1s": (full_port, procs[1].pid, True),
            "baseline": (base_port, procs[2].pid, False),
        }

        def measure(name: str, fn: Any, *fargs: Any) -> dict[str, Any]:
            port, pid, is_service = servers[name]
            return _measured(port, pid, is_service, fn, port, *fargs)

        for name in servers:  # warm up (imports, connection pools)
            measure(name, run_wrk, score_lua, 1, args.connections)
        sat: dict[str, Any] = {name: [] for name in servers}
        for _ in range(args.rounds):  # alternated, so a busy spell of the box hits all three
            for name in servers:
                sat[name].append(measure(name, run_wrk, score_lua, args.seconds, args.connections))
        for name in servers:
            sat[f"{name}_rps"] = statistics.median(r["rps"] for r in sat[name])
            sat[f"{name}_cpu_us"] = statistics.median(r["cpu_us_per_req"] for r in sat[name])
        base = sat["baseline_rps"]
        sat["ratio"] = round(sat["service_rps"] / base, 3) if base else float("nan")
        sat["ratio_1s"] = round(sat["service_1s_rps"] / base, 3) if base else float("nan")
        sat["cpu_ratio_1s"] = round(sat["baseline_cpu_us"] / sat["service_1s_cpu_us"], 3)
        results["saturation"] = sat
        results["saturation_check"] = measure(
            "service", run_wrk, check_lua, args.seconds, args.connections
        )

        results["fixed_rate_open_loop"] = {
            name: measure(name, open_loop, args.rate, args.seconds, 1.0, args.accounts)
            for name in ("service", "baseline")
        }
        pace_conns = 4
        paced = write_lua(tmp, "score", args.accounts, pace_ms=pace_conns * 1000 / args.rate)
        results["fixed_rate_wrk_paced"] = {
            name: measure(name, run_wrk, paced, args.seconds, pace_conns)
            for name in ("service", "baseline")
        }

        for _ in range(2):  # baseline and service_1s are done; room for the fail-closed one
            stop_process(procs.pop())
        closed_port, p = start_service(server.url, "closed")
        procs.append(p)
        results["redis_down"] = bench_redis_down(server, svc_port, closed_port, args.outage_s)
        results["load_avg_after"] = os.getloadavg()
    except RedisNotInstalled as exc:
        raise SystemExit(str(exc)) from None
    finally:
        for p in procs:
            stop_process(p)
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    _print(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


def _fb(res: dict[str, Any]) -> str:
    return f", {res['fallbacks']} fail-open" if "fallbacks" in res else ""


def _print(r: dict[str, Any], args: argparse.Namespace) -> None:
    s = r["saturation"]
    ol = r["fixed_rate_open_loop"]
    wp = r["fixed_rate_wrk_paced"]
    rows = [
        ("accounts filled", f"{r['state']['accounts']:,} ({r['state']['redis_used_mb']} MB)"),
        ("cores / load avg before", f"{r['cores']} / {r['load_avg_before'][0]:.2f}"),
        (
            "saturation POST /v1/score",
            f"service {s['service_rps']:,.0f} req/s, service (1 s budget) "
            f"{s['service_1s_rps']:,.0f} req/s, baseline {s['baseline_rps']:,.0f} req/s"
            f" (median of {args.rounds}; wrk -t1 -c{args.connections} {args.seconds:g}s)",
        ),
        (
            "  rounds",
            " | ".join(
                f"{name} " + ", ".join(f"{x['rps']:,.0f}{_fb(x)}" for x in s[name])
                for name in ("service", "service_1s", "baseline")
            ),
        ),
        (
            "  server CPU per request",
            " | ".join(
                f"{name} {s[name + '_cpu_us']:.0f} us"
                for name in ("service", "service_1s", "baseline")
            )
            + f" -> baseline/service_1s {s['cpu_ratio_1s']:.2f}",
        ),
        (
            "  ratio service/baseline",
            f"{s['ratio']:.2f}; with the 1 s budget {s['ratio_1s']:.2f} (target >= 0.70)",
        ),
        (
            "saturation GET /v1/check",
            f"service {r['saturation_check']['rps']:,.0f} req/s"
            f" ({r['saturation_check']['non_2xx']} deny answers,"
            f" {r['saturation_check']['fallbacks']} fail-open)",
        ),
    ]
    for name in ("service", "baseline"):
        o = ol[name]
        rows.append(
            (
                f"open loop {o['target_rps']:g}/s {name}",
                f"offered {o['offered_rps']:,.0f}/s, p50 {o['p50_ms']:.2f} ms, p90 "
                f"{o['p90_ms']:.2f}, p99 {o['p99_ms']:.2f}, max {o['max_ms']:.2f} ms "
                f"(from send: p50 {o['service_p50_ms']:.2f}, p99 {o['service_p99_ms']:.2f};"
                f" {o['connections']} conns, {o['errors']} errors,"
                f" {o['cpu_us_per_req']:.0f} us CPU/req"
                f"{_fb(o)})",
            )
        )
    for name in ("service", "baseline"):
        w = wp[name]
        rows.append(
            (
                f"wrk paced -c4 {name}",
                f"achieved {w['rps']:,.0f}/s, p50 {w.get('p50_ms', float('nan')):.2f} ms, "
                f"p90 {w.get('p90_ms', float('nan')):.2f}, p99 {w.get('p99_ms', float('nan')):.2f}"
                f", {w['cpu_us_per_req']:.0f} us CPU/req"
                f"{_fb(w)}",
            )
        )
    for phase, d in r["redis_down"].items():
        extra = f", restart {d['restart_s']} s" if "restart_s" in d else ""
        rows.append(
            (
                f"redis {phase}",
                f"score p50/max {d['score_p50_ms']}/{d['score_max_ms']} ms, check p50/max "
                f"{d['check_p50_ms']}/{d['check_max_ms']} ms; sources {d['score_sources']}, "
                f"check {d['check_statuses']}; recovery {d['recovery_s']} s{extra}",
            )
        )
        if d.get("deny_reason"):
            rows.append(("  deny reason", d["deny_reason"]))
    print(_table(rows))
    print(json.dumps(r, default=str))


if __name__ == "__main__":
    raise SystemExit(main())
