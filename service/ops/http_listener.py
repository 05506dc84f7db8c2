"""The small HTTP listener of the worker and sinks processes (``--metrics-port``).

``GET /metrics``  Prometheus text exposition of one registry;
``GET /healthz``  200 while the process's loop is alive (its heartbeat is fresh), else 503;
``GET /readyz``   200 when Redis answers a ``PING`` within a short timeout, else 503.

Health bodies are JSON shaped like the HTTP service's: ``{"status": ..., "checks": {...}}``.
The listener is a :class:`~http.server.ThreadingHTTPServer` in a daemon thread: a scrape
never waits on the process's loop, and the loop never waits on a scrape.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = ["OpsListener", "redis_ping_check"]

log = logging.getLogger("distillwatch.ops")

#: a readiness check: name -> "ok" or what is wrong
ReadyCheck = Callable[[], Mapping[str, str]]


def redis_ping_check(url: str, timeout_s: float = 1.0) -> ReadyCheck:
    """A readiness check that PINGs Redis with its own client (no retries).

    Parameters
    ----------
    url : str
        Redis URL.
    timeout_s : float
        Connect and read timeout of the PING, seconds.

    Returns
    -------
    callable
        Returns ``{"redis": "ok"}`` or ``{"redis": "unreachable (<error>)"}``.
    """
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from service.redis_client import connect

    client = connect(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )

    def check() -> dict[str, str]:
        try:
            client.ping()
        except Exception as exc:  # any failure means "not ready"; say which
            return {"redis": f"unreachable ({type(exc).__name__}: {exc})"[:300]}
        return {"redis": "ok"}

    return check


class OpsListener:
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` on ``host:port`` in a thread.

    Parameters
    ----------
    registry : prometheus_client.CollectorRegistry
        What ``/metrics`` exposes.
    host : str
        Bind address (``127.0.0.1`` unless configured otherwise).
    port : int
        Port; 0 picks a free one (see :attr:`port` after :meth:`start`).
    alive : callable, optional
        ``() -> bool``: is the process's loop alive? (default: always).
    ready : callable, optional
        ``() -> {check: "ok" or reason}``, e.g. :func:`redis_ping_check` (default: none,
        always ready).
    role : str
        Process role shown in the health bodies (``worker``, ``sinks``).
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        alive: Callable[[], bool] | None = None,
        ready: ReadyCheck | None = None,
        role: str = "worker",
    ) -> None:
        self.registry = registry
        self.host = host
        self.port = port
        self.alive = alive or (lambda: True)
        self.ready = ready or (lambda: {})
        self.role = role
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL (``http://host:port``)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> OpsListener:
        """Bind and serve in a daemon thread.

        Raises
        ------
        OSError
            When the address cannot be bound (port in use).
        """
        server = ThreadingHTTPServer((self.host, self.port), self._handler())
        server.daemon_threads = True
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            daemon=True,
            name=f"dw-{self.role}-listener",
        )
        self._thread.start()
        log.info("%s metrics and health on %s", self.role, self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> OpsListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answers -------------------------------------------------------------------
    def health(self) -> tuple[int, dict[str, Any]]:
        """Status code and body of ``/healthz``."""
        try:
            ok = bool(self.alive())
        except Exception as exc:  # a broken probe is not a live loop
            log.warning("liveness probe failed: %s", exc)
            ok = False
        body = {"status": "ok" if ok else "stalled", "role": self.role}
        return (200 if ok else 503), body

    def readiness(self) -> tuple[int, dict[str, Any]]:
        """Status code and body of ``/readyz``."""
        try:
            checks = dict(self.ready())
        except Exception as exc:
            checks = {"probe": f"failed ({type(exc).__name__}: {exc})"[:300]}
        ok = all(v == "ok" for v in checks.values())
        body = {"status": "ready" if ok else "not ready", "role": self.role, "checks": checks}
        return (200 if ok else 503), body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "distillwatch"
            sys_version = ""

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    try:
                        body = generate_latest(owner.registry)
                    except Exception:
                        log.exception("collecting metrics failed")
                        self._send(500, b"collecting metrics failed\n", "text/plain")
                        return
                    self._send(200, body, CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    self._json(*owner.health())
                elif path == "/readyz":
                    self._json(*owner.readiness())
                else:
                    self._json(404, {"detail": "not found"})

            def _json(self, status: int, doc: dict[str, Any]) -> None:
                self._send(status, orjson.dumps(doc), "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s %s", self.address_string(), format % args)

        return Handler
