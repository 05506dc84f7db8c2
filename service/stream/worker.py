"""Stream workers: a consumer group folding events into per-account window state.

Exactly-once effect on the state, with at-least-once delivery underneath:

* each batch's state updates (one ``EVALSHA`` per account-hour), the dirty marks, the
  stream clock and the ``XACK`` of the batch go in ONE MULTI/EXEC: a worker that dies
  before EXEC applies nothing and leaves its entries pending; one that dies after has
  applied and acknowledged everything;
* fencing: a worker WATCHes its own lease key from the moment it reads a batch until
  EXEC. Reclaiming entries from another consumer (``XCLAIM`` of entries idle longer
  than ``claim_idle_ms``) bumps that consumer's lease in the same transaction, so a
  worker that was only slow (not dead) has its EXEC refused instead of counting the
  reclaimed entries a second time. ``XPENDING ... IDLE`` + ``XCLAIM`` is used rather
  than ``XAUTOCLAIM`` because fencing needs to know the previous owner;
* entries delivered ``max_deliveries`` times (poison) go to the dead-letter stream and
  are acknowledged, in one transaction; undecodable entries go there at once;
* after a refused EXEC or an error, the worker re-reads its own pending entries
  (``XREADGROUP ... 0``) before new ones; a batch that fails as a whole is retried
  entry by entry so one bad entry cannot take 1,999 good ones to the dead-letter stream;
* SIGTERM / SIGINT: the batch in hand is finished (committed), then the worker exits.

Partitions: a worker consumes every partition's stream (one consumer group per
partition, :class:`service.redis_keys.PartitionKeys`), a batch at a time, in turn. A
batch holds entries of one partition only, so its transaction touches one Redis Cluster
slot; its lease, dead letters and counters are that partition's.

Between batches the worker runs the continuous scorer (:mod:`service.stream.scoring`).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import redis

from service import metrics
from service.redis_client import is_cluster
from service.redis_keys import Keys, PartitionKeys
from service.redis_values import text as _text
from service.settings import StreamSettings
from service.stream.codec import columns_from_rows, decode_entries
from service.stream.layout import check_layout
from service.stream.scripts import SET_MAX, run_script
from service.stream.state_store import BatchDeltas, compact_buckets, fold_batch, queue_deltas

__all__ = ["Worker", "WorkerStats", "default_consumer_name", "ensure_group"]

log = logging.getLogger("distillwatch.worker")
#: Buckets longer than this after an append are compacted into one record (then again
#: each time they double). Default of ``DISTILLWATCH_COMPACT_BYTES``.
COMPACT_BYTES = 8_192
Entry = tuple[Any, dict[bytes, bytes]]


def default_consumer_name() -> str:
    """``host-pid-random``: unique per process, so a restarted worker never inherits a
    dead one's identity by accident (its pending entries are reclaimed instead)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def ensure_group(client: Any, keys: Keys, group: str) -> None:
    """Create each partition's consumer group (and stream) if missing, from the start."""
    for part in keys.parts():
        try:
            client.xgroup_create(part.events, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


@dataclass(slots=True)
class _Batch:
    """A folded batch, ready to commit."""

    ids: list[Any]
    rows: list[list[Any]]
    bad: list[tuple[Any, dict[bytes, bytes], str]]
    deltas: BatchDeltas
    clock: float  # largest event time
    part: int = 0  # the partition the entries came from
    started: float = 0.0  # time.monotonic() when folding began (batch duration metric)


@dataclass(slots=True)
class WorkerStats:
    """Counters of one worker process."""

    batches: int = 0
    events: int = 0
    buckets: int = 0
    compacted: int = 0
    dead_lettered: int = 0
    reclaimed: int = 0
    fenced: int = 0
    errors: int = 0
    started: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return {
            "batches": self.batches,
            "events": self.events,
            "buckets": self.buckets,
            "compacted": self.compacted,
            "dead_lettered": self.dead_lettered,
            "reclaimed": self.reclaimed,
            "fenced": self.fenced,
            "errors": self.errors,
            "events_per_s": round(self.events / elapsed, 1),
        }


class Worker:
    """One consumer of the events stream.

    Parameters
    ----------
    client : redis.Redis
        Connection (a pool; the worker holds one connection for its WATCHed reads).
    settings : StreamSettings
        Group, batch size, claim idle time, dead-letter threshold, window.
    consumer : str, optional
        Consumer name (default :func:`default_consumer_name`).
    scorer : service.stream.scoring.Scorer or None
        Continuous scorer run between batches; ``None`` to only fold events.
    keys : Keys, optional
        Key names.
    """

    def __init__(
        self,
        client: Any,
        settings: StreamSettings,
        *,
        consumer: str | None = None,
        scorer: Any = None,
        keys: Keys | None = None,
    ) -> None:
        self.client = client
        # same pool; XREADGROUP replies are left raw (redis-py's per-entry parsing costs
        # about as much as decoding the entries) and turned into (id, fields) in C loops
        if is_cluster(client):  # no single pool: replies parsed by redis-py
            self._reader = client
        else:
            self._reader = redis.Redis(connection_pool=client.connection_pool)
            self._reader.set_response_callback("XREADGROUP", _raw)
        self.settings = settings
        self.keys = keys or Keys.of(settings)
        self.consumer = consumer or default_consumer_name()
        self.scorer = scorer
        self.stats = WorkerStats()
        self.stopping = False
        #: the partition read next (each step moves on to the following one)
        self.part_index = 0
        # per partition: "0" re-reads our own pending entries first (none for a new name)
        self._next_id = dict.fromkeys(range(self.keys.partitions), "0")
        self._idle_reads = 0  # consecutive reads that found nothing
        self._last_claim = 0.0
        self._last_score = 0.0
        self._compacted: dict[str, int] = {}  # bucket -> its length after our compaction
        self._committer = ThreadPoolExecutor(1, thread_name_prefix="dw-commit")
        self._inflight: tuple[Future[Any], Any, _Batch] | None = None
        self._inflight_n = 0
        self.compact_bytes = int(settings.compact_bytes)
        #: time.monotonic() of the loop's last turn (the /healthz of the worker process)
        self.heartbeat = time.monotonic()
        self._published: dict[str, int] = {}  # stats already counted in the metrics
        check_layout(client, self.keys)
        ensure_group(client, self.keys, settings.group)
        metrics.WORKER_REDIS_UP.set(1)

    @property
    def pk(self) -> PartitionKeys:
        """Key names of the partition being read."""
        return self.keys.part(self.part_index)

    @property
    def lease(self) -> str:
        """This consumer's lease key in the partition being read."""
        return self.pk.lease(self.consumer)

    # -- lifecycle -------------------------------------------------------------------
    def alive(self, stall_s: float = 120.0) -> bool:
        """True while the loop turned within the last ``stall_s`` seconds."""
        return time.monotonic() - self.heartbeat < stall_s

    def publish_metrics(self) -> None:
        """Add the counters' growth since the last call to the worker's Prometheus
        counters (once per loop turn: nothing is counted per event)."""
        s = self.stats
        done = self._published
        for name, value, counter in (
            ("events", s.events, metrics.WORKER_EVENTS),
            ("batches", s.batches, metrics.WORKER_BATCHES),
            ("errors", s.errors, metrics.WORKER_ERRORS),
            ("dead_lettered", s.dead_lettered, metrics.WORKER_DEADLETTERED),
            ("reclaimed", s.reclaimed, metrics.WORKER_RECLAIMED),
        ):
            delta = value - done.get(name, 0)
            if delta > 0:
                counter.inc(delta)
                done[name] = value

    def install_signal_handlers(self) -> None:
        """SIGTERM / SIGINT finish the batch in hand, then :meth:`run` returns."""

        def stop(signum: int, _frame: Any) -> None:
            log.info("signal %s: finishing the batch in hand", signum)
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def run(self, *, exit_when_idle: float | None = None, max_events: int | None = None) -> None:
        """Consume until stopped.

        Parameters
        ----------
        exit_when_idle : float, optional
            Return after this many seconds without new entries (tests, replays, benches),
            once pending entries are settled and dirty accounts scored.
        max_events : int, optional
            Return after processing at least this many events.
        """
        idle_since: float | None = None
        try:
            while not self.stopping:
                self.heartbeat = time.monotonic()
                try:
                    n = self.step(settle=False)
                    if not n:
                        self.settle()
                    metrics.WORKER_REDIS_UP.set(1)
                except (redis.ConnectionError, redis.WatchError) as exc:
                    # a WatchError getting here is redis-py's report of a connection lost
                    # while WATCHing (XREADGROUP under WATCH); fenced commits never get here
                    log.warning("Redis unavailable (%s); retrying", exc)
                    metrics.WORKER_REDIS_UP.set(0)
                    self.stats.errors += 1
                    self._reread_all()
                    self.publish_metrics()
                    time.sleep(0.5)
                    continue
                finally:
                    self.heartbeat = time.monotonic()
                self.publish_metrics()
                if max_events is not None and self.stats.events + self._inflight_n >= max_events:
                    break
                if n or self._idle_reads < self.keys.partitions:
                    # work, or partitions not yet looked at in this round: not idle
                    idle_since = None
                    continue
                now = time.monotonic()
                idle_since = idle_since or now
                idle_for = now - idle_since
                if (
                    exit_when_idle is not None
                    and idle_for >= exit_when_idle
                    and not self._own_pending()
                ):
                    break
        finally:
            try:
                self.settle()  # SIGTERM, exit, error: the batch in flight is committed first
            finally:
                self.publish_metrics()
        if self.scorer is not None and not self.stopping:
            self.scorer.tick(flush=True)

    def _own_pending(self) -> int:
        return sum(
            len(
                self.client.xpending_range(
                    part.events, self.settings.group, "-", "+", 1, consumername=self.consumer
                )
            )
            for part in self.keys.parts()
        )

    def _reread_all(self) -> None:
        """After a lost connection: re-read our own pending entries of every partition."""
        for i in self._next_id:
            self._next_id[i] = "0"

    # -- one step --------------------------------------------------------------------
    def step(self, *, settle: bool = True) -> int:
        """Reclaim if due, read and commit one batch, score if due; returns events done.

        Parameters
        ----------
        settle : bool
            Wait for the batch's transaction before returning. ``False`` (what
            :meth:`run` does) leaves it executing in the background while the next
            step reads and folds the next batch; :meth:`settle` waits for it.
        """
        now = time.monotonic()
        if now - self._last_claim >= self.settings.claim_every_s:
            self._last_claim = now
            self.settle()
            for i in range(self.keys.partitions):
                self.part_index = i
                self.reclaim()
            self.part_index = 0
        history = self._next_id[self.part_index] != ">"
        n = self._read_and_commit(pipelined=not settle)
        if n:
            self._idle_reads = 0
        elif not history:  # a re-read of our own pending entries says nothing about load
            self._idle_reads += 1
        self.part_index = (self.part_index + 1) % self.keys.partitions
        if settle:
            self.settle()
        if self.scorer is not None and time.monotonic() - self._last_score >= min(
            1.0, self.settings.score_debounce_s
        ):
            self._last_score = time.monotonic()
            try:
                self.scorer.poll_model()
                self.scorer.tick()
            except redis.ConnectionError:
                raise
            except Exception:
                log.exception("scoring failed")
                self.stats.errors += 1
        return n

    def _block_ms(self) -> int | None:
        """Block on a read only once every partition was found empty in a row, for a
        share of ``block_ms`` (a round of P partitions then waits about ``block_ms``)."""
        parts = self.keys.partitions
        if self._idle_reads < parts:
            return None
        return max(int(self.settings.block_ms) // parts, 1)

    def _read_and_commit(self, *, pipelined: bool = False) -> int:
        pipe = self._reader.pipeline(transaction=True)
        handed_over = False
        index = self.part_index
        try:
            history = self._next_id[index] != ">"
            if history:
                self.settle()  # our own pending entries must be settled before re-reading them
            pipe.watch(self.lease)
            resp = pipe.xreadgroup(
                self.settings.group,
                self.consumer,
                {self.pk.events: self._next_id[index]},
                count=self.settings.batch_size,
                block=None if history else self._block_ms(),
            )
            entries = _entries_of(resp)
            if history:
                entries = [e for e in entries if e[1]]  # trimmed entries come back empty
                if not entries:
                    self._next_id[index] = ">"
                    return 0
            if not entries:
                return 0
            if history or not pipelined:
                self.settle()
                return self._commit_with_fallback(pipe, entries)
            try:
                batch = self._prepare(entries)
            except Exception:  # a bad entry: the synchronous path bisects
                self.settle()
                return self._commit_with_fallback(pipe, entries)
            self.settle()  # one transaction in flight at a time, committed in order
            self._queue(pipe, batch)
            self._inflight = (self._committer.submit(pipe.execute, False), pipe, batch)
            self._inflight_n = len(batch.rows)
            handed_over = True
            return len(batch.rows)
        finally:
            if not handed_over:
                pipe.reset()

    def settle(self) -> int:
        """Wait for the transaction in flight (if any) and account for it.

        Returns
        -------
        int
            Events it applied (0 when fenced or failed: its entries stay pending and are
            re-read, as after a failed synchronous commit).
        """
        if self._inflight is None:
            return 0
        future, pipe, batch = self._inflight
        self._inflight = None
        self._inflight_n = 0
        try:
            results = future.result()
        except redis.WatchError:
            return self._fenced(batch.part)
        except redis.ConnectionError:
            self._reread_all()
            raise
        except Exception:
            log.exception("batch transaction failed; its entries stay pending")
            self.stats.errors += 1
            self._next_id[batch.part] = "0"
            return 0
        finally:
            pipe.reset()
        return self._finish(batch, results)

    def _fenced(self, part: int) -> int:
        """Count a batch another consumer fenced off (its entries were reclaimed) and
        re-read the partition's pending entries; returns 0 events applied."""
        self.stats.fenced += 1
        log.warning("batch fenced: entries were reclaimed by another consumer")
        self._next_id[part] = "0"
        return 0

    def _commit_with_fallback(self, pipe: Any, entries: list[Entry]) -> int:
        """Commit ``entries``; if that fails, bisect so one bad entry cannot hold back the
        rest (it stays pending and is dead-lettered after ``max_deliveries``)."""
        index = self.part_index
        try:
            return self.commit(pipe, entries)
        except redis.WatchError:
            return self._fenced(index)
        except redis.ConnectionError:
            raise
        except Exception:
            self.stats.errors += 1
            if len(entries) == 1:
                log.exception("entry %r failed; left pending", entries[0][0])
                self._next_id[index] = ">"
                return 0
            log.warning("batch of %d failed; bisecting", len(entries))
        mid = len(entries) // 2
        done = 0
        for part in (entries[:mid], entries[mid:]):
            pipe.reset()
            pipe.watch(self.lease)
            done += self._commit_with_fallback(pipe, part)
            if self._next_id[index] == "0":  # fenced: stop, re-read our own pending entries
                break
        return done

    def commit(self, pipe: Any, entries: Sequence[Entry]) -> int:
        """Fold ``entries`` and commit state + XACK in one transaction (``pipe`` is WATCHing).

        Returns
        -------
        int
            Events applied.

        Raises
        ------
        redis.WatchError
            When the batch was fenced (another consumer reclaimed our entries).
        """
        batch = self._prepare(entries)
        self._queue(pipe, batch)
        return self._finish(batch, pipe.execute(raise_on_error=False))

    def _prepare(self, entries: Sequence[Entry]) -> _Batch:
        """Decode and fold (CPU only: no Redis)."""
        started = time.monotonic()
        rows, bad = decode_entries(entries)
        columns = columns_from_rows(rows)
        deltas = fold_batch(columns, top_keep=self.settings.top_keep)
        clock = float(columns["ts"].max()) if rows else 0.0
        ids = [e[0] for e in entries]
        return _Batch(ids, rows, bad, deltas, clock, self.part_index, started)

    def _queue(self, pipe: Any, batch: _Batch) -> None:
        """Queue the batch's transaction on ``pipe`` (WATCHing the lease).

        Scripts go as ``EVAL`` (Redis caches them by SHA1): nothing to reload after a
        Redis restart, so no ``SCRIPT EXISTS`` round trip per batch.
        """
        s = self.settings
        rows = batch.rows
        pk = self.keys.part(batch.part)
        pipe.multi()
        queue_deltas(pipe, self.keys, batch.deltas, s.bucket_ttl_s)
        if rows:
            accounts = dict.fromkeys(batch.deltas.accounts, time.time())
            pipe.zadd(pk.dirty, accounts, nx=True)
            pipe.zadd(pk.accounts, accounts)
            run_script(pipe, SET_MAX, [pk.clock], [repr(batch.clock)])
        for entry_id, fields, reason in batch.bad:
            self._queue_deadletter(pipe, entry_id, fields, reason, deliveries=1, part=batch.part)
        if batch.bad:
            pipe.hincrby(pk.stats, "deadlettered", len(batch.bad))
        pipe.xack(pk.events, s.group, *batch.ids)
        pipe.hincrby(pk.stats, "processed", len(rows))

    def _finish(self, batch: _Batch, results: list[Any]) -> int:
        """Account for an executed transaction; compact buckets that grew long."""
        errors = [r for r in results if isinstance(r, Exception)]
        if errors:  # cannot happen with well-typed keys: say so loudly
            log.error("transaction applied with %d command errors: %s", len(errors), errors[:3])
            self.stats.errors += len(errors)
        self.stats.batches += 1
        self.stats.events += len(batch.rows)
        self.stats.buckets += len(batch.deltas)
        self.stats.dead_lettered += len(batch.bad)
        metrics.WORKER_BATCH_DURATION.observe(time.monotonic() - batch.started)
        metrics.WORKER_LAST_BATCH.set(time.time())
        if len(batch.deltas) and isinstance(results[0], list):
            self._compact(batch.deltas, results[0])
        return len(batch.rows)

    def _compact(self, deltas: BatchDeltas, lengths: list[int]) -> None:
        """Compact the buckets this batch grew past their threshold (outside the batch's
        transaction: compaction changes no value a reader sees, so losing a race to
        another worker's append only skips it)."""
        floor = self.compact_bytes
        memo = self._compacted
        due: list[str] = []
        for i, length in enumerate(lengths):
            if length < floor:
                continue
            name = self.keys.bucket(deltas.accounts[i], deltas.hours[i])
            if length >= 2 * memo.get(name, floor // 2):
                due.append(name)
        if not due:
            return
        if len(memo) > 200_000:  # names of old hours: forget them all, at worst recompact once
            memo.clear()
        for start in range(0, len(due), 64):
            part = due[start : start + 64]
            try:
                written = compact_buckets(self.client, part, self.settings.top_keep)
            except redis.ConnectionError:
                raise
            except Exception:
                log.exception("compacting %d buckets failed (state unchanged)", len(part))
                self.stats.errors += 1
                continue
            if written:
                self.stats.compacted += len(part)
                size = max(written // len(part), floor // 2)
                for name in part:
                    memo[name] = size

    def _queue_deadletter(
        self,
        pipe: Any,
        entry_id: Any,
        fields: dict[bytes, bytes],
        reason: str,
        deliveries: int,
        part: int,
    ) -> None:
        pipe.xadd(
            self.keys.part(part).deadletter,
            {
                "id": entry_id,
                "reason": reason,
                "deliveries": deliveries,
                "consumer": self.consumer,
                "e": fields.get(b"e", b""),
            },
            maxlen=self.settings.deadletter_maxlen,
            approximate=True,
        )

    # -- reclaiming ------------------------------------------------------------------
    def _forget_dead_consumers(self, idle_ms: int = 86_400_000) -> None:
        """Remove consumers idle for a day with nothing pending (crashed workers' names)."""
        pk = self.pk
        for c in self.client.xinfo_consumers(pk.events, self.settings.group):
            name = _text(c["name"])
            if name != self.consumer and int(c["pending"]) == 0 and int(c["idle"]) > idle_ms:
                self.client.xgroup_delconsumer(pk.events, self.settings.group, name)
                self.client.delete(pk.lease(name))

    def reclaim(self) -> int:
        """Take over entries of the current partition idle longer than ``claim_idle_ms``;
        dead-letter poison ones.

        Returns
        -------
        int
            Entries reclaimed and committed (dead-lettered ones not included).
        """
        s = self.settings
        pk, index = self.pk, self.part_index
        self._forget_dead_consumers()
        pending = self.client.xpending_range(
            pk.events, s.group, "-", "+", s.batch_size, idle=s.claim_idle_ms
        )
        if not pending:
            return 0
        ids = [p["message_id"] for p in pending]
        deliveries = {p["message_id"]: int(p["times_delivered"]) for p in pending}
        owners = {_text(p["consumer"]) for p in pending} - {self.consumer}
        pipe = self.client.pipeline(transaction=True)
        pipe.xclaim(pk.events, s.group, self.consumer, s.claim_idle_ms, ids)
        for owner in owners:
            pipe.incr(pk.lease(owner))
            pipe.expire(pk.lease(owner), 7 * 86_400)
        claimed: list[Entry] = [_entry(e) for e in pipe.execute()[0] if e and e[1]]
        if not claimed:
            return 0
        poison = [e for e in claimed if deliveries.get(e[0], 0) >= s.max_deliveries]
        live = [e for e in claimed if deliveries.get(e[0], 0) < s.max_deliveries]
        if poison:
            tx = self.client.pipeline(transaction=True)
            for entry_id, fields in poison:
                reason = f"delivered {deliveries[entry_id]} times without success"
                self._queue_deadletter(
                    tx, entry_id, fields, reason, deliveries[entry_id], part=index
                )
            tx.xack(pk.events, s.group, *(e[0] for e in poison))
            tx.hincrby(pk.stats, "deadlettered", len(poison))
            tx.execute()
            self.stats.dead_lettered += len(poison)
            log.warning("dead-lettered %d entries", len(poison))
        if not live:
            return 0
        self.stats.reclaimed += len(live)
        log.info("reclaimed %d idle entries from %s", len(live), sorted(owners) or "self")
        pipe = self.client.pipeline(transaction=True)
        try:
            pipe.watch(self.lease)
            return self._commit_with_fallback(pipe, live)
        finally:
            pipe.reset()


def _raw(response: Any, **_options: Any) -> Any:
    return response


def _fields(flat: list[bytes] | None) -> dict[bytes, bytes]:
    if not flat:
        return {}  # an entry trimmed from the stream while pending
    if len(flat) == 2:
        return {flat[0]: flat[1]}
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _entry(e: Any) -> Entry:
    """``(id, {field: value})`` of a parsed or raw (flat field list) stream entry."""
    fields = e[1]
    return (e[0], fields if isinstance(fields, dict) else _fields(fields))


def _entries_of(resp: Any) -> list[Entry]:
    """Entries of a raw XREADGROUP reply on one stream, as ``(id, {field: value})``."""
    if not resp:
        return []
    entries = next(iter(resp.values())) if isinstance(resp, dict) else resp[0][1]
    if entries and isinstance(entries[0], tuple):  # already parsed by redis-py
        return list(entries)
    return [
        (e[0], {e[1][0]: e[1][1]} if e[1] and len(e[1]) == 2 else _fields(e[1])) for e in entries
    ]
