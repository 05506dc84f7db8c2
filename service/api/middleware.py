"""Pure ASGI middleware: request size limits, latency metrics, the gateway fast path.

Written against the raw ASGI interface (not Starlette's ``BaseHTTPMiddleware``) so the
gateway path pays microseconds, not a task switch, per request.

:class:`FastPath` serves the per-request gateway endpoints (``POST /v1/score``,
``GET /v1/check``) without FastAPI's routing, dependency injection and exit stacks,
which cost about as much CPU as everything else in the request together (profile in
``bench/service_latency.py``). A fast handler answers only when the request is valid
and authorised (auth failures get the same JSON the app's handler gives); anything else
falls through, body replayed, to the FastAPI route, which stays the reference behaviour
and documents the endpoint in the OpenAPI schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI, HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service import metrics

__all__ = [
    "AdmissionMiddleware",
    "BodyLimitMiddleware",
    "FastHandler",
    "FastPath",
    "MetricsMiddleware",
    "add_fast_route",
]

Scope = dict[str, Any]


async def _send_json(send: Any, status: int, body: dict[str, Any]) -> None:
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class AdmissionMiddleware:
    """Bound the gateway requests in flight; shed the excess with 503/429 + ``Retry-After``.

    Past ``limit`` concurrent requests on the gateway paths, a new one is answered at
    once, before its body is read, instead of queueing behind the others until every
    answer is late. Shed requests are counted in ``distillwatch_shed_requests_total``
    (reason ``inflight``). A gateway treats the 503 as it treats any error of the scoring
    service (nginx ``auth_request`` denies, see ``docs/service.md``); it is never an allow.

    Parameters
    ----------
    app : ASGI app
    limit : int
        Gateway requests allowed in flight at once (0: no limit).
    endpoints : dict
        Path prefix -> endpoint label (``score``, ``check``, ``guardrail``).
    statuses : dict, optional
        Endpoint label -> status of a shed request (default 503;
        :data:`service.api.decisions.SHED_STATUS`).
    """

    def __init__(
        self,
        app: Any,
        limit: int,
        endpoints: dict[str, str],
        statuses: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.statuses = statuses or {}
        self.endpoints = sorted(endpoints.items(), key=lambda kv: -len(kv[0]))
        self.inflight = 0

    def _endpoint(self, path: str) -> str | None:
        for prefix, name in self.endpoints:
            if path == prefix or path.startswith(prefix + "/"):
                return name
        return None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.limit <= 0:
            await self.app(scope, receive, send)
            return
        endpoint = self._endpoint(scope["path"])
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.limit:
            metrics.child(metrics.SHED_REQUESTS, endpoint, "inflight").inc()
            payload = orjson.dumps({"detail": "service overloaded (inflight); retry later"})
            await send(
                {
                    "type": "http.response.start",
                    "status": self.statuses.get(endpoint, 503),
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                        (b"retry-after", b"1"),
                        (b"cache-control", b"no-store"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return
        self.inflight += 1
        metrics.GATEWAY_INFLIGHT.set(self.inflight)
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1
            metrics.GATEWAY_INFLIGHT.set(self.inflight)


class _BodyRefused(Exception):
    """The body broke a limit (size or time); the middleware answers for the app."""


class _Reaper:
    """Cancel body reads past their deadline, with one loop timer for all of them.

    A timer per request (``asyncio.timeout``) costs the gateway path several
    microseconds; here a read only registers its task (a dict insert and pop) and one
    ``call_at`` handle, armed for the earliest deadline, wakes up to cancel the reads
    that are late and re-arms for the next.
    """

    def __init__(self) -> None:
        self._reading: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._when = 0.0

    def watch(self, task: asyncio.Task[Any], deadline: float) -> None:
        """``task`` is waiting for body bytes until ``deadline`` (loop time)."""
        self._reading[task] = deadline
        loop = task.get_loop()
        if self._handle is None or self._loop is not loop or deadline < self._when:
            self._arm(loop, deadline)

    def unwatch(self, task: asyncio.Task[Any]) -> None:
        """``task`` got its message (or gave up)."""
        self._reading.pop(task, None)

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """Whether the reaper cancelled ``task`` (its cancellation then undone)."""
        if task not in self._expired:
            return False
        self._expired.discard(task)
        task.uncancel()
        return True

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = loop.call_at(when, self._reap)
        self._loop, self._when = loop, when

    def _reap(self) -> None:
        self._handle = None
        loop = self._loop
        assert loop is not None
        now = loop.time()
        following = None
        for task, deadline in list(self._reading.items()):
            if task.get_loop() is not loop:
                continue
            if deadline <= now:
                del self._reading[task]
                self._expired.add(task)
                task.cancel()
            elif following is None or deadline < following:
                following = deadline
        if following is not None:
            self._arm(loop, following)


class BodyLimitMiddleware:
    """Refuse bodies over a size (413) or arriving too slowly (408), then close.

    The size is checked on ``Content-Length`` and again while the body streams in. The
    time limit bounds how long the whole body may take to arrive, counted from when the
    request reached the app (after its headers): a client dribbling a body a byte at a
    time gets 408 and its connection is closed (``Connection: close``) instead of holding
    a request slot for as long as it likes. 408s are counted in
    ``distillwatch_request_body_timeouts_total{limit}``. Slow *headers* are not seen
    here (the server has not handed the request over yet): see the Security section of
    ``docs/service.md`` (a reverse proxy in front bounds them).

    Parameters
    ----------
    app : ASGI app
    default_limit : int
        Bytes allowed on most routes.
    limits : dict of str to int
        Path prefix -> bytes allowed (e.g. a larger limit for ``/v1/events``).
    default_seconds : float
        Longest time to receive a whole body on most routes (0: no time limit).
    seconds : dict of str to float, optional
        Path prefix -> its own time limit; the metric's ``limit`` label is the prefix's
        last segment (``events`` for ``/v1/events``), else ``default``.
    """

    def __init__(
        self,
        app: Any,
        default_limit: int,
        limits: dict[str, int],
        default_seconds: float = 0.0,
        seconds: dict[str, float] | None = None,
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = sorted(limits.items(), key=lambda kv: -len(kv[0]))
        self.default_seconds = default_seconds
        self.seconds = sorted((seconds or {}).items(), key=lambda kv: -len(kv[0]))
        self._reaper = _Reaper()

    def _limit(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.default_limit

    def _time_limit(self, path: str) -> tuple[float, str]:
        for prefix, secs in self.seconds:
            if path.startswith(prefix):
                return secs, prefix.rstrip("/").rsplit("/", 1)[-1] or "default"
        return self.default_seconds, "default"

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, {"detail": "invalid Content-Length"})
                    return
                if declared > limit:
                    await _send_json(send, 413, {"detail": f"request body over {limit} bytes"})
                    return
                break
        seconds, label = self._time_limit(scope["path"])
        deadline = asyncio.get_running_loop().time() + seconds if seconds > 0 else None
        seen = 0
        complete = False
        started = False
        replaced = False
        refused: tuple[int, str] | None = None

        async def limited_receive() -> Any:
            nonlocal seen, complete, refused
            if complete or deadline is None:
                message = await receive()
            else:
                task = asyncio.current_task()
                assert task is not None
                self._reaper.watch(task, deadline)
                try:
                    message = await receive()
                except asyncio.CancelledError:
                    if not self._reaper.expired(task):
                        raise
                    refused = (408, f"request body not received within {seconds:g} s")
                    metrics.child(metrics.BODY_TIMEOUTS, label).inc()
                    raise _BodyRefused from None
                finally:
                    self._reaper.unwatch(task)
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = (413, f"request body over {limit} bytes")
                    raise _BodyRefused
                if not message.get("more_body", False):
                    complete = True
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started, replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                if refused is not None and not started:
                    # the app turned the refusal into an answer of its own (FastAPI: 400
                    # "error parsing the body"): give the real reason instead
                    replaced = True
                    await _send_json(send, refused[0], {"detail": refused[1]})
                    return
                started = True
            await send(message)

        with contextlib.suppress(_BodyRefused):
            await self.app(scope, limited_receive, tracking_send)
        if refused is not None and not started and not replaced:
            await _send_json(send, refused[0], {"detail": refused[1]})


#: long-lived streams (server-sent events) are not requests with a latency
_UNTIMED = frozenset({"/ui/events"})


class MetricsMiddleware:
    """Latency histogram by route template, method and status (no ids in labels)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in _UNTIMED:
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def capture(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            metrics.child(metrics.HTTP_LATENCY, template, scope["method"], str(status)).observe(
                time.perf_counter() - t0
            )


#: ``handler(request, body)``: a response, or None to let the FastAPI route answer
FastHandler = Callable[[Request, bytes], Awaitable[Response | None]]


def http_error(exc: HTTPException) -> Response:
    """The answer the app's handler gives for ``exc`` (``{"detail": ...}``)."""
    return JSONResponse(
        {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers or None
    )


class FastPath:
    """Serve a few hot ``(method, path)`` routes with plain handlers before FastAPI routes.

    Parameters
    ----------
    app : ASGI app
    routes : dict
        ``(method, path) -> (route, handler)``; ``route`` is the FastAPI route of the same
        endpoint (put in ``scope["route"]`` so metrics label it the same way).
    """

    def __init__(self, app: Any, routes: dict[tuple[str, str], tuple[Any, FastHandler]]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        entry = (
            self.routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if entry is None:
            await self.app(scope, receive, send)
            return
        route, handler = entry
        messages: list[Any] = []
        body = b""
        if scope["method"] not in ("GET", "HEAD"):
            chunks = []
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":  # disconnected: let the app see it
                    await self.app(scope, _replay(messages, receive), send)
                    return
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
        request = Request(scope, receive)
        try:
            response = await handler(request, body)
        except HTTPException as exc:
            response = http_error(exc)
        if response is None:
            await self.app(scope, _replay(messages, receive), send)
            return
        scope["route"] = route
        await response(scope, receive, send)


def _replay(messages: list[Any], receive: Any) -> Any:
    pending = list(messages)

    async def replay() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def add_fast_route(app: FastAPI, method: str, path: str, handler: FastHandler) -> None:
    """Serve ``method path`` through :class:`FastPath` (installed on first use).

    The FastAPI route of the same method and path must already be included.

    Raises
    ------
    LookupError
        When the app has no such route.
    """
    route = _find_route(app, method, path)
    if route is None:
        raise LookupError(f"no route {method} {path} to serve fast")
    routes = getattr(app.state, "fast_routes", None)
    if routes is None:
        routes = app.state.fast_routes = {}
        app.add_middleware(FastPath, routes=routes)
    routes[(method, path)] = (route, handler)


def _find_route(app: FastAPI, method: str, path: str) -> Any:
    """The route object FastAPI puts in ``scope["route"]`` for ``method path``, or None."""
    for r in app.router.routes:
        candidates = getattr(r, "effective_candidates", None)
        if candidates is not None:  # an included router (FastAPI >= 0.16x)
            for ctx in candidates() if callable(candidates) else candidates:
                if ctx.path == path and method in (ctx.methods or ()):
                    return ctx.original_route
        elif getattr(r, "path", None) == path and method in (getattr(r, "methods", None) or ()):
            return r
    return None
