"""Run the configured sinks: inside the service's event loop or as ``distillwatch sinks``.

A sink is configured when its URL is set (``DISTILLWATCH_WEBHOOK_URL``,
``DISTILLWATCH_ALERTMANAGER_URL``). Each runs as its own asyncio task with its own
consumer group, so one stuck receiver never holds up another. The sinks share one
``redis.asyncio`` pool of their own (the service's gateway client has a sub-second
timeout, too short for blocking reads).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Sequence
from typing import Any

from service import metrics
from service.settings import ServiceSettings
from service.sinks.alertmanager import AlertmanagerSink
from service.sinks.base import HttpSink
from service.sinks.consumer import DEFAULT_BATCH, SinkConsumer
from service.sinks.webhook import WebhookSink

__all__ = ["SinkRunner", "build_sinks", "run_sinks", "start_sinks"]

log = logging.getLogger("distillwatch.sinks")


def _batch(settings: ServiceSettings) -> int:
    return int(getattr(settings, "sink_batch", DEFAULT_BATCH) or DEFAULT_BATCH)


def build_sinks(settings: ServiceSettings) -> list[HttpSink]:
    """The sinks whose URL is configured (webhook first, then Alertmanager)."""
    sinks: list[HttpSink] = []
    if settings.webhook_url:
        sinks.append(
            WebhookSink(settings.webhook_url, settings.webhook_secret, settings.sink_timeout_s)
        )
    if settings.alertmanager_url:
        sinks.append(
            AlertmanagerSink(
                settings.alertmanager_url,
                settings.sink_timeout_s,
                resend_s=float(getattr(settings, "alertmanager_resend_s", 60.0)),
                batch=_batch(settings),
            )
        )
    return sinks


def _redis(settings: ServiceSettings) -> Any:
    from service.redis_client import connect_async

    return connect_async(
        settings.redis_url,
        socket_timeout=settings.block_ms / 1000.0 + 5.0,
        socket_connect_timeout=2.0,
    )


class SinkRunner:
    """The consumers of a set of sinks, in one event loop.

    Parameters
    ----------
    settings : ServiceSettings
        Redis, key prefix, sink URLs and retry knobs.
    sinks : sequence of HttpSink, optional
        Default: :func:`build_sinks`.
    consumer : str, optional
        Consumer name in every sink's group (default: host-pid-random).
    start_id : str
        Where a group created now starts: ``$`` (new alerts) or ``0`` (whole stream).
    heartbeat_s : float, optional
        Every this many seconds, PING Redis (``distillwatch_redis_up`` of the sinks
        process) and stamp :attr:`heartbeat` (its ``/healthz``). None: no heartbeat
        task (sinks inside the service, whose own probes cover Redis).
    """

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        sinks: Sequence[HttpSink] | None = None,
        consumer: str | None = None,
        start_id: str = "$",
        heartbeat_s: float | None = None,
    ) -> None:
        from service.stream.worker import default_consumer_name

        self.settings = settings
        self.sinks = build_sinks(settings) if sinks is None else list(sinks)
        self.consumer = consumer or default_consumer_name()
        self.start_id = start_id
        self.consumers: list[SinkConsumer] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False
        self.heartbeat_s = heartbeat_s
        #: time.monotonic() of the event loop's last heartbeat
        self.heartbeat = time.monotonic()
        self._tasks: list[asyncio.Task[Any]] = []

    def alive(self, stall_s: float = 120.0) -> bool:
        """True while the event loop's heartbeat is fresh and a sink task runs."""
        if self._loop is None:  # starting
            return time.monotonic() - self.heartbeat < stall_s
        running = any(not t.done() for t in self._tasks)
        return running and time.monotonic() - self.heartbeat < stall_s

    async def _beat(self, client: Any) -> None:
        """Stamp the heartbeat and PING Redis until stopped (never raises)."""
        assert self.heartbeat_s is not None
        up = True
        while not self._stopped:
            self.heartbeat = time.monotonic()
            try:
                await asyncio.wait_for(client.ping(), timeout=min(self.heartbeat_s, 2.0))
                metrics.SINKS_REDIS_UP.set(1)
                up = True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if up:  # say it once per outage
                    log.warning("sinks: Redis unavailable (%s)", exc)
                metrics.SINKS_REDIS_UP.set(0)
                up = False
            waited = 0.0
            while waited < self.heartbeat_s and not self._stopped:
                await asyncio.sleep(min(0.1, self.heartbeat_s))
                waited += 0.1

    async def run(self, stop_after: float | None = None) -> dict[str, dict[str, Any]]:
        """Run every sink until :meth:`stop`, ``stop_after`` seconds, or cancellation.

        Returns
        -------
        dict
            Counters per sink name.
        """
        self._loop = asyncio.get_running_loop()
        client = _redis(self.settings)
        self.consumers = [
            SinkConsumer(
                sink,
                client,
                self.settings,
                consumer=self.consumer,
                batch=_batch(self.settings),
                start_id=self.start_id,
                count_transitions=i == 0,
            )
            for i, sink in enumerate(self.sinks)
        ]
        if self._stopped:
            self._stop_all()
        tasks = [asyncio.create_task(c.run(), name=f"sink-{c.sink.name}") for c in self.consumers]
        self._tasks = tasks
        beat = None
        if self.heartbeat_s is not None:
            beat = asyncio.create_task(self._beat(client), name="sinks-heartbeat")
        timer = None
        if stop_after is not None:
            timer = self._loop.call_later(stop_after, self._stop_all)
        try:
            # asyncio.wait, not gather: cancelling this task must not cancel the consumers
            # in the middle of a Redis command (redis.asyncio may then hang on the
            # connection); they are asked to stop and given a grace period instead
            await asyncio.wait(tasks)
        except asyncio.CancelledError:
            self._stop_all()
            await asyncio.wait(tasks, timeout=self._grace_s())
            raise
        finally:
            if timer is not None:
                timer.cancel()
            if beat is not None:  # it sees _stopped within 0.1 s; a PING takes 2 s at most
                self._stopped = True
                await asyncio.wait([beat], timeout=3.0)
                if not beat.done():
                    beat.cancel()
            left = [t for t in tasks if not t.done()]
            for t in left:  # last resort
                t.cancel()
            if left:
                await asyncio.wait(left, timeout=1.0)
            for t in tasks:
                if t.done() and not t.cancelled() and t.exception() is not None:
                    log.error("sink task %s failed: %r", t.get_name(), t.exception())
            with contextlib.suppress(Exception):
                await client.aclose()
        return self.stats()

    def _grace_s(self) -> float:
        """How long a cancelled runner waits for its consumers: a blocking read plus the
        delivery attempt in flight (at most 5 s of it)."""
        s = self.settings
        return s.block_ms / 1000.0 + min(s.sink_timeout_s, 5.0) + 0.5

    def stats(self) -> dict[str, dict[str, Any]]:
        """Counters per sink name."""
        return {c.sink.name: c.stats.as_dict() for c in self.consumers}

    def _stop_all(self) -> None:
        self._stopped = True
        for c in self.consumers:
            c.stop()

    def stop(self) -> None:
        """Stop every sink after its attempt in flight (safe from any thread)."""
        self._stopped = True
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._stop_all()
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._stop_all)


def start_sinks(services: Any) -> list[asyncio.Task[Any]]:
    """Start the configured sinks in the running loop (the service's lifespan).

    Nothing starts when ``sinks_in_service`` is off or no sink is configured. Cancelling
    the returned task stops every sink (a batch in flight stays pending and is delivered
    again later: at least once).

    Parameters
    ----------
    services : service.api.context.Services
        Its ``settings`` are used; the runner is kept in ``services.extras["sinks"]``.

    Returns
    -------
    list of asyncio.Task
        Zero or one task.
    """
    settings = services.settings
    if not getattr(settings, "sinks_in_service", True):
        return []
    runner = SinkRunner(settings)
    if not runner.sinks:
        return []
    services.extras["sinks"] = runner
    log.info("alert sinks in the service: %s", ", ".join(s.name for s in runner.sinks))
    return [asyncio.create_task(runner.run(), name="distillwatch-sinks")]


def run_sinks(
    settings: ServiceSettings,
    stop_after: float | None = None,
    *,
    consumer: str | None = None,
    start_id: str = "$",
    install_signals: bool = True,
) -> dict[str, dict[str, Any]]:
    """Run the configured sinks until SIGTERM / SIGINT (or ``stop_after`` seconds).

    Parameters
    ----------
    settings : ServiceSettings
        Sink URLs, retry knobs, Redis.
    stop_after : float, optional
        Stop after this many seconds.
    consumer : str, optional
        Consumer name (default: host-pid-random).
    start_id : str
        Start of groups created now: ``$`` (new alerts) or ``0`` (the whole stream).
    install_signals : bool
        Stop on SIGTERM / SIGINT (main thread only).

    With ``settings.metrics_port`` set, a listener on ``metrics_host:metrics_port`` serves
    the sinks' ``/metrics`` (:data:`service.metrics.SINKS_REGISTRY`), ``/healthz`` (the
    event loop's heartbeat is fresh) and ``/readyz`` (Redis answers a PING) while the
    sinks run.

    Returns
    -------
    dict
        Counters per sink.

    Raises
    ------
    ValueError
        When no sink is configured.
    """
    runner = SinkRunner(settings, consumer=consumer, start_id=start_id, heartbeat_s=5.0)
    if not runner.sinks:
        raise ValueError(
            "no sink configured: set DISTILLWATCH_WEBHOOK_URL and/or DISTILLWATCH_ALERTMANAGER_URL"
        )
    listener = None
    if settings.metrics_port:
        from service.ops.http_listener import OpsListener, redis_ping_check

        stall_s = settings.healthz_stall_s
        listener = OpsListener(
            metrics.SINKS_REGISTRY,
            host=settings.metrics_host,
            port=settings.metrics_port,
            alive=lambda: runner.alive(stall_s),
            ready=redis_ping_check(settings.redis_url),
            role="sinks",
        ).start()

    async def main() -> dict[str, dict[str, Any]]:
        if install_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                    loop.add_signal_handler(sig, runner.stop)
        return await runner.run(stop_after)

    try:
        return asyncio.run(main())
    finally:
        if listener is not None:
            listener.stop()
