"""Load of the soak (``bench/soak.py``): gateway decisions, log ingest, dashboard clients.

* :class:`GatewayLoad`: open-loop ``POST /v1/score`` at a fixed (switchable) rate on a
  pool of keep-alive connections, in a thread running its own event loop. Latency is
  counted from each request's *scheduled* send time (no coordinated omission). Answers
  are aggregated per second of the run: latencies, statuses, fail-open answers, and the
  answers given for accounts that must be blocked.
* :class:`IngestLoad`: ``POST /v1/events`` of OpenAI-style records at a fixed rate, each
  with a unique request id; failed posts are retried (same ids) until accepted, and some
  accepted batches are re-sent on purpose: the events offered per account are known
  exactly, so the window state can be checked for lost and doubled events.
* :class:`SseClients`: dashboard users (sign in, ``GET /ui/events``, sign in again when
  the session ends) and a sign-in churn that leaves sessions to expire.
* :func:`slow_clients`: slowloris bodies (a huge ``Content-Length`` dribbled a byte at a
  time) and an oversized body.
"""

from __future__ import annotations

import asyncio
import http.client
import random
import re
import socket
import threading
import time
import uuid
from array import array
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from bench.soak_procs import ANALYST_TOKEN, GATEWAY_TOKEN, INGEST_TOKEN

__all__ = [
    "GatewayLoad",
    "IngestLoad",
    "Second",
    "SseClients",
    "harvester_id",
    "normal_id",
    "slow_clients",
]

_COT = (
    "Solve the following problem. Think step by step and show your complete reasoning "
    "before giving the final answer in a box. Problem {i}: if {a} workers build a wall "
    "in {b} days, how many days do {c} workers need?"
)
_TOPICS = [
    "How do I sort a list of dictionaries by a key in Python?",
    "Write a haiku about autumn leaves falling on a quiet pond.",
    "Summarise the causes of the French revolution in three sentences.",
    "What is the capital of Australia and why was it chosen?",
    "Explain the difference between TCP and UDP for a beginner.",
    "Give me a recipe for a vegetarian lasagna for six people.",
]


def normal_id(i: int) -> str:
    """The ``i``-th ordinary ingest account."""
    return f"soak-user-{i:04d}"


def harvester_id(i: int) -> str:
    """The ``i``-th chain-of-thought harvester (a new one every few seconds: alerts)."""
    return f"soak-harvest-{i:04d}"


# -- gateway --------------------------------------------------------------------------------


@dataclass(slots=True)
class Second:
    """What the gateway load saw for requests *scheduled* in one second of the run."""

    lat_ms: array = field(default_factory=lambda: array("f"))
    statuses: Counter = field(default_factory=Counter)
    errors: int = 0
    fail_open: int = 0
    blocked: int = 0
    blocked_allowed: int = 0
    blocked_allowed_fail_open: int = 0
    blocked_allowed_state: int = 0


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with one request at a time; returns status and
    body."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.lost = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

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
        body = bytes(self.buf[end + 4 : total])
        del self.buf[:total]
        if b"connection: close" in head and self.transport is not None:
            self.lost = True
            self.transport.close()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((status, body))

    async def send(self, payload: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return await self.waiter


class GatewayLoad:
    """Open-loop ``POST /v1/score`` load; ``rate`` may be changed while it runs.

    Parameters
    ----------
    port : int
        The service.
    rate : float
        Requests per second.
    blocked : list of str
        Accounts that must always be answered ``block`` (a share ``blocked_share`` of
        the requests go to them).
    others : list of str
        Every other account asked about.
    seed : int
        Random seed of the account choice.
    """

    def __init__(
        self,
        port: int,
        rate: float,
        blocked: list[str],
        others: list[str],
        seed: int = 0,
        blocked_share: float = 0.25,
        max_conns: int = 64,
    ) -> None:
        self.port = port
        self.rate = float(rate)
        self.blocked = blocked
        self.others = others
        self.blocked_share = blocked_share
        self.max_conns = max_conns
        self.rng = random.Random(seed)
        self.seconds: dict[int, Second] = {}
        self.t0 = 0.0
        self.sent = 0
        self.inflight = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="soak-gateway", daemon=True)
        self._reqs: dict[str, bytes] = {}

    def start(self, t0: float) -> GatewayLoad:
        """Start sending; ``t0`` (``time.perf_counter()``) is second 0 of the run."""
        self.t0 = t0
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping = True
        self.thread.join(40)

    def _request(self, acct: str) -> bytes:
        req = self._reqs.get(acct)
        if req is None:
            body = orjson.dumps({"account_id": acct})
            head = (
                f"POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Authorization: Bearer {GATEWAY_TOKEN}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            req = self._reqs[acct] = head.encode() + body
        return req

    def _run(self) -> None:
        try:
            import uvloop

            uvloop.run(self._main())
        except ImportError:  # pragma: no cover
            asyncio.run(self._main())

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        idle: deque[_Conn] = deque()
        waiting: deque[asyncio.Future[_Conn]] = deque()
        opened = 0
        tasks: set[asyncio.Task[None]] = set()

        async def acquire() -> _Conn:
            nonlocal opened
            while idle:
                conn = idle.popleft()
                if not conn.lost:
                    return conn
                opened -= 1
            if opened < self.max_conns:
                opened += 1
                try:
                    _t, proto = await asyncio.wait_for(
                        loop.create_connection(_Conn, "127.0.0.1", self.port), 5
                    )
                except (OSError, TimeoutError):
                    opened -= 1
                    raise ConnectionError("connect failed") from None
                return proto
            fut: asyncio.Future[_Conn] = loop.create_future()
            waiting.append(fut)
            return await fut

        def release(conn: _Conn) -> None:
            nonlocal opened
            if conn.lost:
                opened -= 1
                if waiting and opened < self.max_conns:  # let a waiter open a new one
                    fut = waiting.popleft()
                    if not fut.done():
                        fut.set_exception(ConnectionError("retry"))
                return
            while waiting:
                fut = waiting.popleft()
                if not fut.done():
                    fut.set_result(conn)
                    return
            idle.append(conn)

        async def one(scheduled: float, acct: str, is_blocked: bool) -> None:
            self.inflight += 1
            try:
                await one_request(scheduled, acct, is_blocked)
            finally:
                self.inflight -= 1

        async def one_request(scheduled: float, acct: str, is_blocked: bool) -> None:
            sec = self.seconds.setdefault(int(scheduled - self.t0), Second())
            try:
                conn = await acquire()
            except ConnectionError:
                sec.errors += 1
                return
            try:
                status, body = await asyncio.wait_for(conn.send(self._request(acct)), 30)
            except (ConnectionError, TimeoutError):
                conn.lost = True
                if conn.transport is not None:
                    conn.transport.close()
                release(conn)
                sec.errors += 1
                return
            release(conn)
            sec.lat_ms.append((time.perf_counter() - scheduled) * 1e3)
            sec.statuses[status] += 1
            if status != 200:
                return
            d = orjson.loads(body)
            source = d.get("source", "")
            fail_open = source == "fail_open"
            sec.fail_open += fail_open
            if is_blocked:
                sec.blocked += 1
                if d.get("action") != "block":
                    sec.blocked_allowed += 1
                    if fail_open:
                        sec.blocked_allowed_fail_open += 1
                    else:
                        sec.blocked_allowed_state += 1

        next_t = time.perf_counter()
        rng = self.rng
        while not self.stopping:
            now = time.perf_counter()
            while next_t <= now:
                is_blocked = rng.random() < self.blocked_share
                pool = self.blocked if is_blocked else self.others
                task = asyncio.create_task(one(next_t, pool[rng.randrange(len(pool))], is_blocked))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                self.sent += 1
                next_t += 1.0 / self.rate
            await asyncio.sleep(max(0.0, next_t - time.perf_counter()))
        if tasks:
            await asyncio.wait(tasks, timeout=35)
        for conn in idle:
            if conn.transport is not None:
                conn.transport.close()


# -- ingest ---------------------------------------------------------------------------------


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class IngestLoad:
    """``POST /v1/events`` at ``rate`` events/s in batches; tracks what was accepted.

    Parameters
    ----------
    port : int
        The service.
    rate : float
        Events per second.
    accounts : int
        Ordinary accounts (a new harvester joins every ``harvest_every_s``).
    seed : int
        Random seed.
    resend_every : int
        Re-send every n-th accepted batch on purpose (a gateway's retry): adds nothing.
    """

    def __init__(
        self,
        port: int,
        rate: float,
        accounts: int = 200,
        seed: int = 0,
        resend_every: int = 20,
        harvest_every_s: float = 10.0,
        harvest_share: float = 0.1,
    ) -> None:
        self.port = port
        self.rate = float(rate)
        self.n_accounts = accounts
        self.rng = random.Random(seed + 1)
        self.resend_every = resend_every
        self.harvest_every_s = harvest_every_s
        self.harvest_share = harvest_share
        self.batch = max(10, int(self.rate / 10))
        self.lock = threading.Lock()
        self.offered: Counter = Counter()  # accepted unique events per account
        self.pending: deque[tuple[bytes, Counter]] = deque()  # to retry
        self.accepted_batches = 0
        self.failed_posts = 0
        self.resent_events = 0
        self.duplicates_answered = 0
        self.added_answered = 0
        self.quarantined_answered = 0
        self.malformed_sent = 0
        self.statuses: Counter = Counter()
        self.stopping = False
        self.paused = False
        self.t_start = 0.0
        self.seq = 0
        self.run_id = uuid.uuid4().hex[:8]
        self.thread = threading.Thread(target=self._run, name="soak-ingest", daemon=True)
        self.conn: http.client.HTTPConnection | None = None

    # -- records -----------------------------------------------------------------------
    def record(self, acct: str, harvest: bool) -> dict[str, Any]:
        """One OpenAI-style log record with a unique request id."""
        self.seq += 1
        rng = self.rng
        now = time.time()
        if harvest:
            a, b, c = (rng.randint(2, 50) for _ in range(3))
            prompt = _COT.format(i=self.seq, a=a, b=b, c=c)
            system = "Always reason step by step and show all of your work."
            usage = {"prompt_tokens": rng.randint(60, 90), "completion_tokens": 3500}
            extra: dict[str, Any] = {"max_tokens": 4096, "temperature": 1.0}
            finish = "length" if self.seq % 3 == 0 else "stop"
            ip = f"192.0.2.{rng.randint(1, 200)}"
        else:
            prompt = _TOPICS[rng.randrange(len(_TOPICS))] + f" (v{self.seq % 7})"
            system = "You are a helpful assistant."
            usage = {
                "prompt_tokens": rng.randint(20, 80),
                "completion_tokens": rng.randint(50, 400),
            }
            extra = {"temperature": 0.7}
            finish = "stop"
            ip = f"198.51.100.{rng.randint(1, 3)}"
        return {
            "timestamp": _iso(now),
            "account_id": acct,
            "request_id": f"soak-{self.run_id}-{self.seq}",
            "api_key": f"key-{acct}",
            "ip": ip,
            "user_agent": "python-requests/2.31",
            "endpoint": "/v1/chat/completions",
            "status_code": 200,
            "latency_s": 1.2,
            "request": {
                "model": "gpt-4o-mini",
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": prompt},
                ],
                **extra,
            },
            "response": {
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "[soak]"},
                        "finish_reason": finish,
                    }
                ],
                "usage": {**usage, "total_tokens": sum(usage.values())},
            },
        }

    def harvester_now(self) -> int:
        """Index of the harvester active now."""
        return int((time.monotonic() - self.t_start) // self.harvest_every_s)

    def make_batch(self, n: int) -> tuple[list[bytes], Counter]:
        lines: list[bytes] = []
        counts: Counter = Counter()
        h = harvester_id(self.harvester_now())
        for _ in range(n):
            harvest = self.rng.random() < self.harvest_share
            acct = h if harvest else normal_id(self.rng.randrange(self.n_accounts))
            lines.append(orjson.dumps(self.record(acct, harvest)))
            counts[acct] += 1
        return lines, counts

    # -- sending -----------------------------------------------------------------------
    def post(
        self, body: bytes, timeout: float = 10.0, own: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """One ``POST /v1/events?format=openai`` on the ingest thread's keep-alive
        connection, or on a connection of its own (``own``: other threads)."""
        headers = {
            "Authorization": f"Bearer {INGEST_TOKEN}",
            "Content-Type": "application/x-ndjson",
        }
        conn = None if own else self.conn
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        if not own:
            self.conn = conn
        try:
            conn.request("POST", "/v1/events?format=openai", body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            if not own:
                self.conn = None
            self.statuses["error"] += 1
            return 0, {}
        self.statuses[resp.status] += 1
        if own or resp.getheader("connection", "").lower() == "close":
            conn.close()
            if not own:
                self.conn = None
        try:
            return resp.status, orjson.loads(data) if resp.status == 200 else {}
        except orjson.JSONDecodeError:
            return resp.status, {}

    def _accept(self, answer: dict[str, Any], counts: Counter) -> None:
        with self.lock:
            self.offered.update(counts)
            self.accepted_batches += 1
            self.added_answered += int(answer.get("added", 0))
            self.duplicates_answered += int(answer.get("duplicates", 0))
            self.quarantined_answered += int(answer.get("quarantined", 0))

    def send(self, body: bytes, counts: Counter) -> bool:
        """Post a batch; on failure queue it for a retry. True when accepted."""
        status, answer = self.post(body)
        if status == 200:
            self._accept(answer, counts)
            return True
        self.failed_posts += 1
        self.pending.append((body, counts))
        return False

    def retry_pending(self) -> None:
        """Re-send failed batches (same request ids) until one fails again."""
        while self.pending:
            body, counts = self.pending[0]
            status, answer = self.post(body)
            if status != 200:
                self.failed_posts += 1
                return
            self.pending.popleft()
            self._accept(answer, counts)

    def malformed_burst(self, n_bad: int, n_good: int) -> dict[str, Any]:
        """One post of ``n_good`` valid records with ``n_bad`` garbage lines among them;
        returns the service's answer (expect ``quarantined == n_bad``)."""
        lines, counts = self.make_batch(n_good)
        garbage = [
            b'{"timestamp": "not a time", "account_id": "x", "request_id": "bad"}',
            b'{"truncated": ',
            b"\xff\xfe not json at all",
            b"42",
            b'{"account_id": "", "request_id": "", "timestamp": "2025-01-01T00:00:00Z"}',
        ]
        for i in range(n_bad):
            pos = self.rng.randrange(len(lines) + 1)
            lines.insert(pos, garbage[i % len(garbage)])
        body = b"\n".join(lines) + b"\n"
        with self.lock:
            self.malformed_sent += n_bad
        for _ in range(50):
            status, answer = self.post(body, own=True)
            if status == 200:
                self._accept(answer, counts)
                return {"status": status, **answer}
            time.sleep(0.2)
        with self.lock:
            self.failed_posts += 1
        self.pending.append((body, counts))  # deque: safe to append from this thread
        return {"status": status}

    def start(self) -> IngestLoad:
        self.t_start = time.monotonic()
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping = True
        self.thread.join(30)

    def _run(self) -> None:
        period = self.batch / self.rate
        next_t = time.monotonic()
        since_resend = 0
        while not self.stopping:
            if self.paused:
                time.sleep(0.05)
                next_t = time.monotonic()
                continue
            if self.pending:
                self.retry_pending()
            lines, counts = self.make_batch(self.batch)
            body = b"\n".join(lines) + b"\n"
            if self.send(body, counts):
                since_resend += 1
                if since_resend >= self.resend_every:  # a gateway retrying: adds nothing
                    since_resend = 0
                    status, answer = self.post(body)
                    if status == 200:
                        with self.lock:
                            self.resent_events += len(lines)
                            self.duplicates_answered += int(answer.get("duplicates", 0))
                            self.added_answered += int(answer.get("added", 0))
            next_t += period
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -5:  # far behind (the service was down): do not burst to catch up
                next_t = time.monotonic()

    def drain(self, timeout: float) -> bool:
        """After :meth:`stop`: retry what is still pending; True when nothing is left."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            self.retry_pending()
            if self.pending:
                time.sleep(0.3)
        return not self.pending


# -- dashboard clients ----------------------------------------------------------------------


def login(port: int, timeout: float = 5.0) -> str | None:
    """Sign in with the analyst token; returns the session cookie value."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        body = f"token={ANALYST_TOKEN}&next=/ui/".encode()
        conn.request(
            "POST",
            "/ui/login",
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        resp = conn.getresponse()
        resp.read()
        cookie = resp.getheader("set-cookie") or ""
        m = re.search(r"dw_session=([^;]+)", cookie)
        return m.group(1) if resp.status == 303 and m else None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


class SseClients:
    """``n`` dashboard users reading ``/ui/events`` plus a sign-in churn.

    Each user signs in, reads the event stream until it ends (session expiry sends
    ``signed-out``; a Redis outage an ``error`` event or a closed stream), then signs
    in / reconnects after a second. The churn signs in every ``churn_s`` seconds and never
    signs out, so sessions only end by expiring (their count must level off).
    """

    def __init__(self, port: int, n: int = 3, churn_s: float = 1.0) -> None:
        self.port = port
        self.n = n
        self.churn_s = churn_s
        self.stopping = False
        self.lock = threading.Lock()
        self.stats: Counter = Counter()
        self.threads = [
            threading.Thread(target=self._user, name=f"soak-sse-{i}", daemon=True) for i in range(n)
        ]
        if churn_s > 0:
            self.threads.append(threading.Thread(target=self._churn, daemon=True))

    def _count(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.stats[key] += n

    def start(self) -> SseClients:
        for t in self.threads:
            t.start()
        return self

    def stop(self) -> None:
        self.stopping = True
        for t in self.threads:
            t.join(20)

    def _churn(self) -> None:
        while not self.stopping:
            self._count("churn_logins" if login(self.port) else "churn_login_failures")
            time.sleep(self.churn_s)

    def _user(self) -> None:
        cookie: str | None = None
        while not self.stopping:
            if cookie is None:
                cookie = login(self.port)
                if cookie is None:
                    self._count("login_failures")
                    time.sleep(1.0)
                    continue
                self._count("logins")
            ended = self._read(cookie)
            if ended == "signed-out":
                cookie = None
            if not self.stopping:
                time.sleep(1.0)

    def _read(self, cookie: str) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=12)
        try:
            conn.request("GET", "/ui/events", headers={"Cookie": f"dw_session={cookie}"})
            resp = conn.getresponse()
            if resp.status != 200:
                resp.read()
                self._count(f"status_{resp.status}")
                return "signed-out" if resp.status in (401, 403, 303) else "error"
            self._count("streams")
            while not self.stopping:
                line = resp.readline()
                if not line:
                    self._count("closed")
                    return "closed"
                if line.startswith(b"event: alert"):
                    self._count("alert_events")
                elif line.startswith(b"event: signed-out"):
                    self._count("signed_out")
                    return "signed-out"
                elif line.startswith(b"event: error"):
                    self._count("error_events")
                elif line.startswith(b": heartbeat"):
                    self._count("heartbeats")
            return "stopped"
        except (OSError, http.client.HTTPException):
            self._count("read_errors")
            return "error"
        finally:
            conn.close()


# -- slow and oversized bodies --------------------------------------------------------------


def _slow_one(port: int, path: str, length: int, seconds: float, out: list[Any]) -> None:
    """Announce ``length`` bytes and dribble one every 0.5 s; record the answer."""
    t0 = time.monotonic()
    status = "no answer"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            head = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {INGEST_TOKEN}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {length}\r\n\r\n"
            )
            s.sendall(head.encode() + b"[")
            s.settimeout(0.5)
            while time.monotonic() - t0 < seconds:
                try:
                    data = s.recv(4096)
                    if not data:
                        status = "closed"
                        break
                    status = data[9:12].decode(errors="replace")
                    break
                except TimeoutError:
                    pass
                try:
                    s.sendall(b" ")
                except OSError:
                    status = "closed"
                    break
    except OSError as exc:
        status = f"error: {type(exc).__name__}"
    out.append((status, round(time.monotonic() - t0, 2)))


def _oversized(port: int, size: int, out: list[Any]) -> None:
    t0 = time.monotonic()
    status = "no answer"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            head = (
                f"POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {GATEWAY_TOKEN}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {size}\r\n\r\n"
            )
            s.sendall(head.encode())
            chunk = b" " * 65536
            sent = 0
            try:
                while sent < size:
                    s.sendall(chunk[: size - sent])
                    sent += min(len(chunk), size - sent)
            except OSError:
                pass  # the server answered and closed early: read its answer
            data = s.recv(4096)
            status = data[9:12].decode(errors="replace") if data else "closed"
    except OSError as exc:
        status = f"error: {type(exc).__name__}"
    out.append((status, round(time.monotonic() - t0, 2)))


def slow_clients(port: int, seconds: float, n: int = 16, oversized: int = 4) -> dict[str, Any]:
    """Run ``n`` slowloris clients (half on ``/v1/events``, half on ``/v1/score``) and
    ``oversized`` 2 MB bodies on ``/v1/score`` for at most ``seconds``; returns the
    answers (status -> count) and how long the slow ones were held."""
    slow: list[Any] = []
    big: list[Any] = []
    threads = [
        threading.Thread(
            target=_slow_one,
            # under the size limits (16 MiB events, 1 MiB others): only the time limit helps
            args=(
                port,
                *(("/v1/events", 4_000_000) if i % 2 else ("/v1/score", 500_000)),
                seconds,
                slow,
            ),
            daemon=True,
        )
        for i in range(n)
    ]
    threads += [
        threading.Thread(target=_oversized, args=(port, 2 * 2**20, big), daemon=True)
        for _ in range(oversized)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 15)
    return {
        "slow_statuses": dict(Counter(s for s, _ in slow)),
        "slow_held_max_s": max((t for _, t in slow), default=0.0),
        "oversized_statuses": dict(Counter(s for s, _ in big)),
    }
