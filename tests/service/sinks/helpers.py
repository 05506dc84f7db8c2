"""Test helpers for the sinks: recording HTTP receivers, sink runners in threads, alerts.

Receivers listen on 127.0.0.1 only; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from detector.alerts import account_alert
from service.redis_keys import Keys
from service.settings import ServiceSettings, get_service_settings
from service.sinks.runner import SinkRunner
from service.stream.alert_store import sync_account_alert
from service.stream.local_redis import free_port

PREFIX = "sk"
KEYS = Keys(PREFIX)


@dataclass
class Request:
    """One request a receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return orjson.loads(self.body)


class Receiver:
    """A threaded HTTP server on 127.0.0.1 recording every POST.

    Parameters
    ----------
    port : int, optional
        Port to listen on (default: a free one). :meth:`start` may be called later, so a
        sink can first find nobody listening.
    statuses : iterable of int
        Answers to the first requests, in order; 200 afterwards.
    delay_s : float
        Sleep before answering each request (a slow receiver).
    """

    def __init__(
        self, port: int | None = None, statuses: Iterable[int] = (), delay_s: float = 0.0
    ) -> None:
        self.port = port or free_port()
        self.statuses = list(statuses)
        self.delay_s = delay_s
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if owner.delay_s:
                    time.sleep(owner.delay_s)
                with owner.lock:
                    status = owner.statuses.pop(0) if owner.statuses else 200
                    owner.requests.append(
                        Request(
                            self.path, {k.lower(): v for k, v in self.headers.items()}, body, status
                        )
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.block_on_close = False  # type: ignore[attr-defined]
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def ok(self) -> list[Request]:
        """Requests answered 2xx."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def all(self) -> list[Request]:
        with self.lock:
            return list(self.requests)


def sink_settings(url: str, **overrides: Any) -> ServiceSettings:
    """Settings for sinks on the test Redis: short timeouts and backoff."""
    base: dict[str, Any] = {
        "redis_url": url,
        "key_prefix": PREFIX,
        "auth_disabled": True,
        "block_ms": 50,
        "claim_idle_ms": 400,
        "claim_every_s": 0.1,
        "sink_timeout_s": 3.0,
        "sink_max_attempts": 4,
        "sink_backoff_s": 0.02,
        "sink_backoff_max_s": 0.1,
    }
    base.update(overrides)
    return get_service_settings(**base)


class RunnerThread:
    """A :class:`SinkRunner` running its own event loop in a thread."""

    def __init__(self, settings: ServiceSettings, **kwargs: Any) -> None:
        kwargs.setdefault("start_id", "0")
        self.runner = SinkRunner(settings, **kwargs)
        self.result: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        try:
            self.result = asyncio.run(self.runner.run())
        except BaseException as exc:  # surfaced by stop()
            self.error = exc

    def start(self) -> RunnerThread:
        self.thread.start()
        wait_for(lambda: len(self.runner.consumers) == len(self.runner.sinks), 5)
        return self

    def stop(self, timeout: float = 10.0) -> dict[str, Any]:
        self.runner.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "sink runner did not stop"
        if self.error is not None:
            raise self.error
        return self.result or {}

    def __enter__(self) -> RunnerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.thread.is_alive():
            self.stop()


def wait_for(cond: Callable[[], Any], timeout: float = 5.0, step: float = 0.01) -> Any:
    """Poll ``cond`` until truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(step)


def make_alert(account: str, *, action: str = "block", risk: float = 0.9) -> dict[str, Any]:
    """An Alertmanager-shaped alert for ``account`` (nested evidence)."""
    return account_alert(
        account,
        risk=risk,
        action=action,
        reasons=["many near-duplicate prompts", "burst of requests"],
        rule_ids=["harvest_burst", "template_sweep"],
        evidence={"prompt_dup_rate": 0.93, "percentiles": {"prompt_dup_rate": 0.999}},
        starts_at=1_700_000_000.0,
        generator_url=f"http://127.0.0.1:8000/ui/accounts/{account}",
    )


def fire(client: Any, account: str, **kwargs: Any) -> str:
    """Fire an alert for ``account`` through the alert store; returns its fingerprint."""
    alert = make_alert(account, **kwargs)
    outcome = sync_account_alert(
        client, KEYS, account, alert, as_of=1_700_000_100.0, maxlen=100_000, ttl=3_600
    )
    assert outcome == "fired"
    return str(alert["fingerprint"])


def resolve(client: Any, account: str) -> None:
    """Resolve the open alert of ``account``."""
    outcome = sync_account_alert(
        client, KEYS, account, None, as_of=1_700_000_200.0, maxlen=100_000, ttl=3_600
    )
    assert outcome == "resolved"


def delivered_ids(receiver: Receiver) -> list[str]:
    """Stream ids of every alert the webhook receiver accepted, in order."""
    return [a["id"] for r in receiver.ok() for a in r.json()["alerts"]]


def pending(client: Any, group: str) -> int:
    """Entries of the alerts stream pending in ``group``."""
    return int(client.xpending(KEYS.alerts, group)["pending"])
