"""Slow-body clients get 408 and a closed connection; everybody else is served meanwhile.

A real ``distillwatch serve`` subprocess (uvicorn + httptools) and raw sockets that send
their headers at once, then dribble the body a byte at a time.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.service.api.test_ratelimit_replicas import Serve, bearer, hammer, serve_env, serving

pytestmark = pytest.mark.redis

BODY_S = 1.0
EVENTS_BODY_S = 2.5
#: scheduling slack on a loaded test machine
SLACK_S = 1.5


@pytest.fixture(scope="module")
def server(redis_server, tmp_path_factory) -> Iterator[Serve]:
    env = serve_env(
        redis_server.url,
        "slowbody",
        max_body_seconds=BODY_S,
        max_events_body_seconds=EVENTS_BODY_S,
    )
    with serving(env, tmp_path_factory.mktemp("slow"), count=1) as (serve,):
        yield serve


def _dribble(
    serve: Serve, path: str, *, chunked: bool = False, every_s: float = 0.2, give_up_s: float = 10
) -> tuple[float, bytes, bool]:
    """Send headers, then one body byte every ``every_s``: (seconds to the answer, the
    answer, whether the server closed the connection after it)."""
    token = bearer("gw-1")["Authorization"]
    framing = "Transfer-Encoding: chunked" if chunked else "Content-Length: 4096"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {token}\r\n"
        f"Content-Type: application/json\r\n{framing}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", serve.port), timeout=give_up_s)
    try:
        sock.sendall(head)
        t0 = time.monotonic()
        sock.setblocking(False)
        answer = b""
        while time.monotonic() - t0 < give_up_s:
            # the server may have closed its side already: then read what it said
            with contextlib.suppress(OSError):
                sock.sendall(b"1\r\n{\r\n" if chunked else b"{")
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                data = None
            if data:
                answer += data
                if b"\r\n\r\n" in answer:
                    break
            elif data == b"":
                break
            time.sleep(every_s)
        elapsed = time.monotonic() - t0
        sock.setblocking(True)
        sock.settimeout(3.0)
        closed = False
        try:
            while True:
                more = sock.recv(65536)
                if not more:
                    closed = True
                    break
                answer += more
        except ConnectionResetError:
            closed = True
        except TimeoutError:
            closed = False
        return elapsed, answer, closed
    finally:
        sock.close()


def _status(answer: bytes) -> int:
    m = re.match(rb"HTTP/1\.1 (\d{3})", answer)
    assert m, answer[:200]
    return int(m.group(1))


def _metric(serve: Serve, limit: str) -> float:
    text = httpx.get(f"{serve.url}/metrics").text
    m = re.search(
        rf'^distillwatch_request_body_timeouts_total\{{limit="{limit}"\}} (\S+)$', text, re.M
    )
    return float(m.group(1)) if m else 0.0


def test_dribbled_body_gets_408_while_others_are_served(server: Serve) -> None:
    before = _metric(server, "default")
    results: list[tuple[float, bytes, bool]] = []
    slow = threading.Thread(target=lambda: results.append(_dribble(server, "/v1/score")))
    slow.start()
    # a normal client sends /v1/score every 0.1 s on another connection meanwhile
    served = hammer(
        server.url,
        "POST",
        "/v1/score",
        bearer("gw-2"),
        time.monotonic() + BODY_S + 1.0,
        json={"account_id": "acct-n"},
        pause_s=0.1,
    )
    slow.join(30)
    elapsed, answer, closed = results[0]
    assert _status(answer) == 408, answer[:300]
    assert b"not received within" in answer
    assert BODY_S - 0.1 <= elapsed <= BODY_S + SLACK_S, elapsed
    assert closed, "the connection stays open after the 408"
    assert len(served.rows) >= 10
    assert served.count(200) == len(served.rows), served.rows
    assert max(served.latencies) < 0.5  # nobody waited behind the slow client
    assert _metric(server, "default") == before + 1


def test_events_have_their_own_longer_limit(server: Serve) -> None:
    before = _metric(server, "events")
    elapsed, answer, closed = _dribble(server, "/v1/events")
    # FastAPI reads this body (not the fast path): the 408 replaces its parsing error
    assert _status(answer) == 408, answer[:300]
    assert EVENTS_BODY_S - 0.1 <= elapsed <= EVENTS_BODY_S + SLACK_S, elapsed
    assert closed
    assert _metric(server, "events") == before + 1


def test_chunked_dribble_gets_408(server: Serve) -> None:
    elapsed, answer, closed = _dribble(server, "/v1/score", chunked=True)
    assert _status(answer) == 408, answer[:300]
    assert elapsed <= BODY_S + SLACK_S and closed


def test_a_body_in_pieces_within_the_limit_is_served(server: Serve) -> None:
    body = b'{"account_id": "acct-pieces"}'
    head = (
        "POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {bearer('gw-2')['Authorization']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        for i in range(0, len(body), 10):
            time.sleep(0.15)
            sock.sendall(body[i : i + 10])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert _status(answer) == 200, answer[:300]
    assert b'"account_id":"acct-pieces"' in answer.replace(b" ", b"")


def test_overlapping_slow_clients_each_get_their_own_deadline(server: Serve) -> None:
    # the events client (2.5 s) starts first; the score client (1 s) starts later but
    # its deadline comes first: one shared timer must serve both in order
    results: dict[str, tuple[float, bytes, bool]] = {}

    def run(name: str, path: str, delay: float) -> None:
        time.sleep(delay)
        results[name] = _dribble(server, path)

    threads = [
        threading.Thread(target=run, args=("events", "/v1/events", 0.0)),
        threading.Thread(target=run, args=("score", "/v1/score", 0.3)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for name, limit in (("events", EVENTS_BODY_S), ("score", BODY_S)):
        elapsed, answer, closed = results[name]
        assert _status(answer) == 408, (name, answer[:300])
        assert limit - 0.1 <= elapsed <= limit + SLACK_S, (name, elapsed)
        assert closed, name
