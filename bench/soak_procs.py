"""Processes of the soak (``bench/soak.py``): Redis, the service, workers, sinks, a webhook.

Everything runs on loopback, on free ports, under one temp dir: a private
``redis-server`` with the append-only file on (restartable on the same port and dir), the
real CLI commands as subprocesses (``distillwatch serve``, ``worker`` ×N, ``sinks``) and a
thread HTTP server that receives the webhook sink's deliveries, whose behaviour the fault
schedule switches (``ok`` -> ``hang`` -> ``error`` -> ``ok``).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from service.redis_keys import Keys
from service.stream.local_redis import RedisServer, free_port, stop_process

__all__ = ["Cluster", "Receiver", "rss_kib"]

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "soak"
GATEWAY_TOKEN = "soak-gateway-token-000000000001"
INGEST_TOKEN = "soak-ingest-token-0000000000001"
ANALYST_TOKEN = "soak-analyst-token-000000000001"
#: a second gateway caller with a small quota of its own (the ``token_flood`` fault)
FLOOD_TOKEN = "soak-flood-token-00000000000001"
FLOOD_RATE = 100.0


def rss_kib(pid: int | None) -> int | None:
    """Resident set size of process ``pid`` (``VmRSS``, KiB), or None when it is gone."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class Receiver:
    """Loopback webhook receiver; records every alert id delivered.

    Modes: ``ok`` (200), ``hang`` (sleep ``hang_s`` then 200: past the sink's timeout,
    so the sink sees a timeout), ``error`` (500).
    """

    def __init__(self, hang_s: float) -> None:
        self.mode = "ok"
        self.hang_s = hang_s
        self.delivered: set[str] = set()
        self.requests: dict[str, int] = {"ok": 0, "hang": 0, "error": 0}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                return

            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(size)
                mode = receiver.mode
                with receiver.lock:
                    receiver.requests[mode] = receiver.requests.get(mode, 0) + 1
                if mode == "hang":
                    time.sleep(receiver.hang_s)
                if mode == "error":
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    ids = [str(a.get("id")) for a in json.loads(body).get("alerts", [])]
                except (ValueError, AttributeError):
                    ids = []
                if mode == "ok":  # a hung answer arrives after the sink gave up
                    with receiver.lock:
                        receiver.delivered.update(ids)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.thread.is_alive():  # shutdown() waits forever for a loop never started
            self.server.shutdown()
        self.server.server_close()

    def delivered_ids(self) -> set[str]:
        with self.lock:
            return set(self.delivered)


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("distillwatch")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from service.cli import main; sys.exit(main())"]


class Cluster:
    """The soak's processes. Call :meth:`stop` in a ``finally`` (also registered atexit
    by the caller).

    Parameters
    ----------
    workdir : pathlib.Path
        Redis ``--dir`` and the children's log files.
    env : mapping
        Extra ``DISTILLWATCH_*`` settings given to every child.
    workers : int
        Worker processes.
    hang_s : float
        How long the receiver sleeps in ``hang`` mode.
    """

    def __init__(
        self, workdir: Path, env: Mapping[str, str], workers: int = 2, hang_s: float = 3.0
    ) -> None:
        self.workdir = workdir
        self.redis = RedisServer(workdir, aof=True)
        self.port = free_port()
        self.n_workers = workers
        self.extra_env = dict(env)
        self.receiver = Receiver(hang_s)
        self.service: subprocess.Popen[bytes] | None = None
        self.sinks: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.retired: list[subprocess.Popen[bytes]] = []
        self._logs: list[Any] = []
        self.lognames: dict[int, str] = {}
        self.redis_paused = False

    # -- environment -------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DISTILLWATCH_")}
        tokens = [
            {"name": "soak-gateway", "role": "gateway", "token": GATEWAY_TOKEN},
            {"name": "soak-ingest", "role": "gateway", "token": INGEST_TOKEN},
            {"name": "soak-analyst", "role": "analyst", "token": ANALYST_TOKEN},
            {"name": "soak-flood", "role": "gateway", "token": FLOOD_TOKEN, "rate": FLOOD_RATE},
        ]
        env.update(
            DISTILLWATCH_REDIS_URL=self.redis.url,
            DISTILLWATCH_KEY_PREFIX=PREFIX,
            DISTILLWATCH_API_TOKENS=json.dumps(tokens),
            DISTILLWATCH_SINKS_IN_SERVICE="false",
            DISTILLWATCH_WEBHOOK_URL=self.receiver.url,
            DISTILLWATCH_WEBHOOK_SECRET="soak-webhook-secret",
            DISTILLWATCH_LOG_FORMAT="json",
        )
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("ab")
        self._logs.append(log)
        proc = subprocess.Popen(
            _cli() + args, env=self.env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        self.lognames[proc.pid] = name
        return proc

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> Cluster:
        """Start Redis, the receiver, the service, the workers and the sinks; wait until
        the service answers ``/readyz``."""
        self.redis.start()
        self.receiver.start()
        self.service = self._spawn(
            "service",
            ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
        )
        for _ in range(self.n_workers):
            self.start_worker()
        self.sinks = self._spawn("sinks", ["sinks"])
        self.wait_http("/readyz", timeout=60)
        self.wait_consumers(self.n_workers, timeout=90)
        return self

    def wait_consumers(self, n: int, timeout: float) -> None:
        """Wait until ``n`` workers joined the consumer group (they import for seconds)."""
        import redis

        client = self.redis.client()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                for name, proc in self.exited().items():
                    raise RuntimeError(f"{name} exited with {proc}")
                try:
                    stream = Keys(PREFIX).part(0).events  # the soak runs one partition
                    if len(client.xinfo_consumers(stream, "workers")) >= n:
                        return
                except redis.ResponseError:  # no group yet
                    pass
                time.sleep(0.1)
        finally:
            client.close()
        raise RuntimeError(f"{n} workers did not join within {timeout:g} s")

    def start_worker(self) -> subprocess.Popen[bytes]:
        """One more ``distillwatch worker``."""
        proc = self._spawn(f"worker-{len(self.workers) + len(self.retired)}", ["worker"])
        self.workers.append(proc)
        return proc

    def kill_worker(self, index: int = 0, freeze_s: float = 0.5) -> int:
        """``kill -9`` worker ``index`` (its pending entries must be reclaimed); returns
        its pid.

        It is frozen (``SIGSTOP``) ``freeze_s`` first: a worker blocked in
        ``XREADGROUP`` is then handed new entries it never acknowledges, so the kill always
        leaves pending entries behind (a kill between two batches would leave none).
        """
        proc = self.workers.pop(index)
        os.kill(proc.pid, signal.SIGSTOP)
        time.sleep(freeze_s)
        proc.kill()
        proc.wait(10)
        self.retired.append(proc)
        return proc.pid

    def kill_redis(self) -> None:
        """``kill -9`` Redis (the AOF, fsync always, keeps every acknowledged write)."""
        self.redis.stop(kill=True)

    def start_redis(self) -> float:
        """Start Redis again on the same port and dir; returns the seconds it took."""
        t0 = time.monotonic()
        self.redis.start()
        return time.monotonic() - t0

    def pause_redis(self) -> None:
        """Freeze Redis (``SIGSTOP``): connections hang, nothing is refused."""
        assert self.redis.proc is not None
        os.kill(self.redis.proc.pid, signal.SIGSTOP)
        self.redis_paused = True

    def resume_redis(self) -> None:
        """Resume a frozen Redis (``SIGCONT``)."""
        if self.redis.proc is not None:
            os.kill(self.redis.proc.pid, signal.SIGCONT)
        self.redis_paused = False

    def pids(self) -> dict[str, int | None]:
        """Current pid of every process (``soak`` is this one)."""
        out: dict[str, int | None] = {
            "redis": self.redis.proc.pid if self.redis.proc is not None else None,
            "service": self.service.pid if self.service is not None else None,
            "sinks": self.sinks.pid if self.sinks is not None else None,
            "soak": os.getpid(),
        }
        for i, w in enumerate(self.workers):
            out[f"worker{i}"] = w.pid
        return out

    def exited(self) -> dict[str, int]:
        """Children that exited on their own (log name, e.g. ``worker-2`` -> return code)."""
        out = {}
        for proc in (self.service, self.sinks, *self.workers):
            if proc is not None and proc.poll() is not None:
                out[self.lognames.get(proc.pid, str(proc.pid))] = int(proc.returncode)
        return out

    def stop(self) -> None:
        """Stop every child (SIGTERM, then SIGKILL after 10 s) and the receiver."""
        if self.redis_paused:
            self.resume_redis()
        for proc in [self.sinks, *self.workers, self.service]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in [self.sinks, *self.workers, self.service]:
            stop_process(proc)
        self.workers = []
        self.redis.stop()
        self.receiver.stop()
        for log in self._logs:
            log.close()

    def kill_all(self) -> None:
        """Last resort (the global deadline, atexit): SIGKILL every child at once."""
        procs = [self.service, self.sinks, self.redis.proc, *self.workers]
        for proc in procs:
            if proc is not None and proc.poll() is None:
                try:
                    if proc is self.redis.proc:
                        os.kill(proc.pid, signal.SIGCONT)
                    proc.kill()
                except OSError:
                    pass

    # -- HTTP helpers ------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,
    ) -> tuple[int, bytes, dict[str, str]]:
        """One request to the service; returns (status, body, lower-cased headers)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, data, {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()

    def wait_http(self, path: str, timeout: float) -> None:
        """Wait until ``path`` answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.service is not None and self.service.poll() is not None:
                raise RuntimeError(f"service exited with {self.service.returncode}")
            try:
                if self.request("GET", path, timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"service did not answer {path} within {timeout:g} s")

    def log_tail(self, name: str, lines: int = 20) -> str:
        """Last lines of a child's log (for a failure report)."""
        path = self.workdir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
