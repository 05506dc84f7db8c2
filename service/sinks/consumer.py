"""One sink's consumer-group loop on the alerts stream.

At-least-once delivery, never blocking anyone else:

* the sink reads the alerts stream through its own group (``sink-<name>``): the scorer
  only ``XADD``\\ s and never waits for a sink; each sink lags (or not) on its own;
* a batch (up to ``batch`` entries, in stream order) is one request; it is acknowledged
  (``XACK``) only after the receiver answered 2xx;
* a failed attempt that may succeed later (transport error, timeout, 408, 429, 5xx) is
  retried after ``sink_backoff_s`` × 2^(attempt - 1), capped at ``sink_backoff_max_s``,
  with jitter (``Retry-After`` is honoured up to the cap), up to ``sink_max_attempts``
  attempts; then the batch is written to the sink's dead-letter stream and acknowledged
  in one transaction. Other 4xx are not retried; 400, 413 and 422 first retry the batch
  alert by alert, so one bad alert cannot take the others with it;
* while a batch is in hand its entries' idle time is reset every ``claim_idle_ms`` / 3
  (``XCLAIM ... JUSTID``), so a live consumer's slow batch is never reclaimed;
* entries left pending by a dead consumer (idle longer than ``claim_idle_ms``) are taken
  over with ``XAUTOCLAIM`` every ``claim_every_s`` and delivered again;
* on stop, the attempt in flight finishes; a batch waiting for a retry stays pending
  (reclaimed by the next consumer) instead of being dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from detector.alerts import rfc3339
from service import metrics
from service.redis_keys import Keys
from service.redis_values import text as _text
from service.settings import ServiceSettings
from service.sinks.base import AlertEntry, DeliveryError, HttpSink, backoff_delay, decode_entry

__all__ = ["DEFAULT_BATCH", "ConsumerStats", "SinkConsumer"]

log = logging.getLogger("distillwatch.sinks")

DEFAULT_BATCH = 100
Raw = tuple[Any, Any]


@dataclass(slots=True)
class ConsumerStats:
    """Counters of one sink consumer (alerts, not requests)."""

    read: int = 0
    delivered: int = 0
    skipped: int = 0
    retried: int = 0
    dead_lettered: int = 0
    reclaimed: int = 0
    errors: int = 0
    started: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return {
            "read": self.read,
            "delivered": self.delivered,
            "skipped": self.skipped,
            "retried": self.retried,
            "dead_lettered": self.dead_lettered,
            "reclaimed": self.reclaimed,
            "errors": self.errors,
        }


@dataclass(slots=True)
class _Outcome:
    status: str  # delivered, failed, stopped
    sent: int = 0
    error: DeliveryError | None = None
    attempts: int = 0


class SinkConsumer:
    """Deliver the alerts stream to one sink, through the group ``sink-<name>``.

    Parameters
    ----------
    sink : HttpSink
        Where alerts go.
    client : redis.asyncio.Redis
        Connection pool; its socket timeout must exceed ``block_ms``.
    settings : ServiceSettings
        Retry knobs (``sink_*``), ``block_ms``, ``claim_idle_ms``, ``claim_every_s``,
        ``deadletter_maxlen``, ``key_prefix``.
    consumer : str
        Consumer name, unique per process (see
        :func:`service.stream.worker.default_consumer_name`).
    batch : int
        Entries per read and per request.
    start_id : str
        Where a new group starts: ``$`` (alerts added from now on) or ``0`` (the whole
        stream). An existing group keeps its position.
    count_transitions : bool
        Count entries in ``distillwatch_alert_transitions_total`` (one consumer per
        process does, so two sinks do not count each transition twice).
    rng : random.Random, optional
        Jitter source (tests).
    """

    def __init__(
        self,
        sink: HttpSink,
        client: Any,
        settings: ServiceSettings,
        *,
        consumer: str,
        batch: int = DEFAULT_BATCH,
        start_id: str = "$",
        count_transitions: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self.sink = sink
        self.client = client
        self.settings = settings
        self.keys = Keys.of(settings)
        self.stream = self.keys.alerts
        self.group = f"sink-{sink.name}"
        self.deadletter = self.keys.sink_deadletter(sink.name)
        self.consumer = consumer
        self.batch = max(int(batch), 1)
        self.start_id = start_id
        self.count_transitions = count_transitions
        self.rng = rng or random.Random()
        self.stats = ConsumerStats()
        self._stop = asyncio.Event()

    # -- control ----------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to exit after the attempt in flight (call from its event loop)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when woken by :meth:`stop`."""
        if seconds <= 0:
            return self._stop.is_set()
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            return False
        return True

    # -- the loop ---------------------------------------------------------------------
    async def ensure_group(self) -> None:
        """Create the group (and the stream) if missing."""
        import redis

        try:
            await self.client.xgroup_create(
                self.stream, self.group, id=self.start_id, mkstream=True
            )
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self) -> None:
        """Consume until :meth:`stop` (or cancellation); Redis errors are retried."""
        s = self.settings
        own_pending = True  # first re-read what this consumer name holds (a restart)
        grouped = False
        next_claim = 0.0
        failures = 0
        try:
            while not self._stop.is_set():
                try:
                    if not grouped:
                        await self.ensure_group()
                        grouped = True
                    if time.monotonic() >= next_claim:
                        next_claim = time.monotonic() + s.claim_every_s
                        await self.reclaim()
                    entries = await self._read("0" if own_pending else ">")
                    if own_pending and not entries:
                        own_pending = False
                    elif entries:
                        await self.handle(entries)
                    await self.sink.tick(self.client, self.keys)
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    self.stats.errors += 1
                    if "NOGROUP" in str(exc):
                        grouped = False
                    own_pending = True  # entries read but not acknowledged: read them again
                    if failures == 1 or failures % 30 == 0:
                        log.warning("sink %s: %r (retrying)", self.sink.name, exc)
                    await self._sleep(backoff_delay(failures, 0.1, 5.0, self.rng))
        finally:
            with contextlib.suppress(Exception):
                await self.sink.close()

    async def _read(self, from_id: str) -> list[Raw]:
        block = None if from_id != ">" else max(int(self.settings.block_ms), 1)
        resp = await self.client.xreadgroup(
            self.group, self.consumer, {self.stream: from_id}, count=self.batch, block=block
        )
        out: list[Raw] = []
        for _stream, entries in resp or []:
            out.extend(entries)
        return out

    async def reclaim(self) -> int:
        """Take over entries idle longer than ``claim_idle_ms`` (dead consumers) and
        deliver them; returns how many were taken."""
        total = 0
        cursor: Any = "0-0"
        for _ in range(100):  # bounded per round; the rest waits for the next round
            resp = await self.client.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                min_idle_time=int(self.settings.claim_idle_ms),
                start_id=cursor,
                count=self.batch,
            )
            cursor, claimed = resp[0], resp[1]
            claimed = [e for e in claimed if e and e[1]]
            if claimed:
                total += len(claimed)
                self.stats.reclaimed += len(claimed)
                log.info("sink %s: reclaimed %d entries", self.sink.name, len(claimed))
                await self.handle(claimed)
            if _text(cursor) == "0-0" or self._stop.is_set():
                break
        await self._forget_dead_consumers()
        return total

    async def _forget_dead_consumers(self, idle_ms: int = 86_400_000) -> None:
        """Remove consumers idle for a day with nothing pending (names of dead processes)."""
        for c in await self.client.xinfo_consumers(self.stream, self.group):
            name = _text(c["name"])
            if name != self.consumer and int(c["pending"]) == 0 and int(c["idle"]) > idle_ms:
                await self.client.xgroup_delconsumer(self.stream, self.group, name)

    # -- one batch --------------------------------------------------------------------
    async def handle(self, entries: Sequence[Raw]) -> None:
        """Decode, enrich and deliver entries read from the stream (then ack them)."""
        alerts: list[AlertEntry] = []
        gone: list[str] = []
        bad: list[tuple[str, dict[str, str], str]] = []
        for entry_id, raw in entries:
            eid = _text(entry_id)
            if not raw:  # trimmed from the stream while pending
                gone.append(eid)
                continue
            try:
                alerts.append(decode_entry(eid, raw))
            except ValueError as exc:
                bad.append((eid, {_text(k): _text(v) for k, v in raw.items()}, str(exc)))
        self.stats.read += len(entries)
        if gone:
            await self.client.xack(self.stream, self.group, *gone)
        for eid, fields, reason in bad:
            await self._dead_letter([eid], [fields], f"undecodable: {reason}", None, 0)
        if not alerts:
            return
        await self._enrich(alerts)
        if self.count_transitions:
            for a in alerts:
                metrics.ALERT_TRANSITIONS.labels(a.status).inc()
        await self.deliver(alerts)

    async def _enrich(self, alerts: list[AlertEntry]) -> None:
        """Fill in the alert of entries that carry none (resolutions) from its hash."""
        missing = [a for a in alerts if a.alert is None]
        if not missing:
            return
        pipe = self.client.pipeline(transaction=False)
        for a in missing:
            pipe.hget(self.keys.alert(a.fingerprint), "alert")
        for a, blob in zip(missing, await pipe.execute(), strict=True):
            if blob is None:
                continue
            with contextlib.suppress(orjson.JSONDecodeError):
                doc = orjson.loads(blob)
                if isinstance(doc, dict):
                    a.alert = doc

    async def deliver(self, alerts: list[AlertEntry]) -> None:
        """Deliver one batch with retries; ack it, dead-letter it, or leave it pending
        (stop requested)."""
        outcome = await self._attempts(alerts)
        ids = [a.id for a in alerts]
        name = self.sink.name
        if outcome.status == "delivered":
            await self.client.xack(self.stream, self.group, *ids)
            self.stats.delivered += outcome.sent
            self.stats.skipped += len(alerts) - outcome.sent
            metrics.SINK_DELIVERIES.labels(name, "delivered").inc(outcome.sent)
            return
        if outcome.status == "stopped":
            return
        err = outcome.error
        assert err is not None
        if err.splittable and len(alerts) > 1:
            log.warning(
                "sink %s: batch of %d refused (%s): delivering alert by alert",
                name,
                len(alerts),
                err,
            )
            for a in alerts:
                if self._stop.is_set():
                    return
                await self.deliver([a])
            return
        log.warning(
            "sink %s: dead-lettering %d alerts after %d attempts: %s",
            name,
            len(alerts),
            outcome.attempts,
            err,
        )
        await self._dead_letter(
            ids, [a.as_json() for a in alerts], str(err), err.status, outcome.attempts
        )

    async def _attempts(self, alerts: list[AlertEntry]) -> _Outcome:
        s = self.settings
        max_attempts = max(int(s.sink_max_attempts), 1)
        done = asyncio.Event()
        beat = asyncio.create_task(self._heartbeat([a.id for a in alerts], done))
        try:
            for attempt in range(1, max_attempts + 1):
                try:
                    sent = await self.sink.send(alerts)
                    return _Outcome("delivered", sent=sent, attempts=attempt)
                except DeliveryError as exc:
                    err = exc
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a bug building the payload: do not loop on it
                    log.exception("sink %s: cannot send a batch", self.sink.name)
                    err = DeliveryError(f"{type(exc).__name__}: {exc}", retryable=False)
                if not err.retryable or attempt == max_attempts:
                    return _Outcome("failed", error=err, attempts=attempt)
                self.stats.retried += len(alerts)
                metrics.SINK_DELIVERIES.labels(self.sink.name, "retried").inc(len(alerts))
                delay = backoff_delay(attempt, s.sink_backoff_s, s.sink_backoff_max_s, self.rng)
                if err.retry_after is not None:
                    delay = min(max(delay, err.retry_after), s.sink_backoff_max_s)
                log.info(
                    "sink %s: attempt %d/%d failed (%s), retrying in %.2fs",
                    self.sink.name,
                    attempt,
                    max_attempts,
                    err,
                    delay,
                )
                if await self._sleep(delay):
                    return _Outcome("stopped", error=err, attempts=attempt)
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            done.set()  # never cancel a Redis command: redis.asyncio may wedge the connection
            with contextlib.suppress(Exception):
                await beat

    async def _heartbeat(self, ids: list[str], done: asyncio.Event) -> None:
        """Keep the batch's entries from looking idle (and being reclaimed) while in hand,
        until ``done`` is set."""
        interval = max(self.settings.claim_idle_ms / 3000.0, 0.05)
        while True:
            try:
                await asyncio.wait_for(done.wait(), interval)
                return
            except TimeoutError:
                pass
            with contextlib.suppress(Exception):
                await self.client.xclaim(
                    self.stream, self.group, self.consumer, 0, ids, justid=True
                )

    async def _dead_letter(
        self,
        ids: list[str],
        entries: list[dict[str, Any]],
        reason: str,
        status: int | None,
        attempts: int,
    ) -> None:
        """Record a batch in the sink's dead-letter stream and ack it, atomically."""
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(
            self.deadletter,
            {
                "sink": self.sink.name,
                "reason": reason[:500],
                "status": "" if status is None else str(status),
                "attempts": str(attempts),
                "at": rfc3339(time.time()),
                "consumer": self.consumer,
                "ids": orjson.dumps(ids),
                "entries": orjson.dumps(entries, option=orjson.OPT_SERIALIZE_NUMPY),
            },
            maxlen=self.settings.deadletter_maxlen,
            approximate=True,
        )
        pipe.xack(self.stream, self.group, *ids)
        await pipe.execute()
        self.stats.dead_lettered += len(ids)
        metrics.SINK_DELIVERIES.labels(self.sink.name, "dropped").inc(len(ids))
