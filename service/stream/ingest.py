"""Ingest: validated events onto the bounded ``events`` stream, bad records to quarantine.

Used by ``distillwatch ingest`` (files, stdin, ``--follow``) and by ``POST /v1/events``
(:func:`ingest_payload`). Records are parsed and validated by :mod:`detector.ingest`;
text signals are computed here and the prompt text dropped before anything is written
(:func:`service.stream.codec.encode_events`).

Each event goes to its account's partition (:meth:`service.redis_keys.Keys.partition_of`).
Idempotence: each event is added by a Lua script that first does
``SET <prefix>:{pN}:d:<request_id> 1 NX EX <ttl>`` and only then ``XADD``, atomically, so
replaying a file (or a gateway retrying a POST) adds nothing twice, and a crash can
never leave a marker without its event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from service.redis_keys import Keys
from service.settings import StreamSettings
from service.stream.codec import encode_events
from service.stream.layout import check_layout
from service.stream.scripts import INGEST_BATCH, run_script

__all__ = ["IngestStats", "Ingestor", "ingest_payload"]

_MAX_ID = 200  # longer request ids are hashed for the dedupe key


@dataclass(slots=True)
class IngestStats:
    """Counts of one ingest call or run."""

    events: int = 0
    added: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: IngestStats) -> IngestStats:
        """Accumulate ``other`` into self; returns self."""
        self.events += other.events
        self.added += other.added
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        for k, v in other.reasons.items():
            self.reasons[k] = self.reasons.get(k, 0) + v
        return self

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON answers and logs)."""
        return {
            "events": self.events,
            "added": self.added,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "reasons": dict(self.reasons),
        }


def _dedupe_id(request_id: str) -> str:
    if len(request_id) <= _MAX_ID:
        return request_id
    import xxhash

    return "h:" + xxhash.xxh3_128_hexdigest(request_id.encode("utf-8", "surrogatepass"))


class Ingestor:
    """Writes events and quarantined records to Redis.

    Parameters
    ----------
    client : redis.Redis
        Connection.
    settings : StreamSettings
        Stream bounds, dedupe TTL, batch size.
    keys : Keys, optional
        Key names (default: ``Keys.of(settings)``).
    """

    def __init__(self, client: Any, settings: StreamSettings, keys: Keys | None = None) -> None:
        self.client = client
        self.settings = settings
        self.keys = keys or Keys.of(settings)
        check_layout(client, self.keys)  # never write events into another P's partitions

    def add_events(self, events: Sequence[dict[str, Any]]) -> IngestStats:
        """Encode (text signals, no prompt text) and add validated events, idempotently.

        Parameters
        ----------
        events : sequence of dict
            Validated canonical events.

        Returns
        -------
        IngestStats
        """
        stats = IngestStats(events=len(events))
        if not events:
            return stats
        payloads = encode_events(events)
        step = max(int(self.settings.ingest_batch), 1)
        keys = self.keys
        by_part: dict[int, list[int]] = {}
        for i, e in enumerate(events):
            by_part.setdefault(keys.partition_of(e["account_id"]), []).append(i)
        # one script call per partition and slice: its stream and dedupe keys share a slot
        pipe = self.client.pipeline(transaction=False)
        for index, members in by_part.items():
            part_keys = keys.part(index)
            for start in range(0, len(members), step):
                part = members[start : start + step]
                dkeys = [part_keys.dedupe(_dedupe_id(events[i]["request_id"])) for i in part]
                run_script(
                    pipe,
                    INGEST_BATCH,
                    [part_keys.events, *dkeys],
                    [
                        self.settings.dedupe_ttl_s,
                        self.settings.events_maxlen,
                        *(payloads[i] for i in part),
                    ],
                )
        for res in pipe.execute():
            stats.added += int(res[0])
        stats.duplicates = stats.events - stats.added
        if stats.added or stats.duplicates:
            self.client.hincrby(self.keys.stats, "ingested", stats.added)
            if stats.duplicates:
                self.client.hincrby(self.keys.stats, "duplicates", stats.duplicates)
        return stats

    def add_quarantined(self, records: Iterable[Any]) -> IngestStats:
        """Append rejected records to the bounded quarantine stream.

        Each entry holds ``reason``, ``detail``, ``source``, ``line``, ``index`` and the start
        of the raw record (at most ``quarantine_raw_limit`` bytes; it may hold prompt text,
        set the limit to 0 to keep none).
        """
        stats = IngestStats()
        limit = int(self.settings.quarantine_raw_limit)
        pipe = self.client.pipeline(transaction=False)
        for rec in records:
            raw = rec.raw if limit > 0 else ""
            if len(raw) > limit:
                raw = raw[:limit]
            pipe.xadd(
                self.keys.quarantine,
                {
                    "reason": rec.reason,
                    "detail": rec.detail[:300],
                    "source": rec.source,
                    "line": "" if rec.line is None else rec.line,
                    "index": "" if rec.index is None else rec.index,
                    "raw": raw,
                    "raw_size": rec.raw_size,
                    "truncated": int(bool(rec.raw_truncated) or len(rec.raw) > len(raw)),
                },
                maxlen=self.settings.quarantine_maxlen,
                approximate=True,
            )
            stats.quarantined += 1
            stats.reasons[rec.reason] = stats.reasons.get(rec.reason, 0) + 1
        if stats.quarantined:
            for reason, n in stats.reasons.items():
                pipe.hincrby(self.keys.stats, f"quarantined:{reason}", n)
            pipe.execute()
        return stats

    def add_chunk(
        self, events: Sequence[dict[str, Any]], quarantined: Iterable[Any]
    ) -> IngestStats:
        """Add one parsed chunk: its events and its quarantined records."""
        return self.add_events(events).add(self.add_quarantined(quarantined))

    def ingest_payload(
        self,
        body: bytes | str,
        *,
        fmt: str | None = None,
        account_field: str | None = None,
        source: str = "http",
    ) -> IngestStats:
        """Parse, validate and add an HTTP body (what ``POST /v1/events`` calls).

        Parameters
        ----------
        body : bytes or str
            LiteLLM generic-logger body (JSON array, NDJSON or one object), OpenAI-style
            or canonical records.
        fmt, account_field : str, optional
            Force the record format / the account field chain.
        source : str
            Source name recorded on quarantined records.

        Returns
        -------
        IngestStats
        """
        from detector.ingest import parse_payload

        events, quarantined = parse_payload(
            body,
            fmt=fmt,
            account_field=account_field,
            source=source,
            raw_limit=self.settings.quarantine_raw_limit,
        )
        return self.add_chunk(events, quarantined)

    def ingest_files(
        self,
        paths: Sequence[str],
        *,
        fmt: str | None = None,
        account_field: str | None = None,
        replay_speed: float | None = None,
        chunk_size: int = 5_000,
        on_chunk: Callable[[IngestStats], None] | None = None,
    ) -> IngestStats:
        """Read files (or ``-``) chunk by chunk onto the stream.

        Parameters
        ----------
        paths : sequence of str
            Files, directories or ``-``.
        fmt, account_field : str, optional
            As for :func:`detector.ingest.iter_event_chunks`.
        replay_speed : float, optional
            Pace events by their timestamps, this many times faster than real time
            (600 = ten minutes of traffic per second). None: as fast as possible.
        chunk_size : int
            Records per parsed chunk.
        on_chunk : callable, optional
            Called with the running totals after each chunk.

        Returns
        -------
        IngestStats
        """
        from detector.ingest import iter_event_chunks

        total = IngestStats()
        pacer = _Pacer(replay_speed) if replay_speed else None
        for chunk in iter_event_chunks(
            list(paths),
            fmt=fmt,
            account_field=account_field,
            chunk_size=chunk_size,
            raw_limit=self.settings.quarantine_raw_limit,
        ):
            if chunk.quarantined:
                total.add(self.add_quarantined(chunk.quarantined))
            if pacer is None:
                total.add(self.add_events(chunk.events))
            else:
                for part in pacer.slices(chunk.events):
                    total.add(self.add_events(part))
            if on_chunk is not None:
                on_chunk(total)
        return total


class _Pacer:
    """Releases events at ``speed`` times the pace of their timestamps."""

    def __init__(self, speed: float, tick: float = 0.1) -> None:
        self.speed = float(speed)
        self.tick = tick
        self.t0: float | None = None
        self.wall0 = 0.0

    def slices(self, events: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
        if not events:
            return
        if self.t0 is None:
            self.t0 = min(e["ts"] for e in events)
            self.wall0 = time.monotonic()
        span = self.tick * self.speed  # event-time seconds per slice
        part: list[dict[str, Any]] = []
        edge = None
        for e in events:
            slot = (e["ts"] - self.t0) // span
            if edge is not None and slot > edge and part:
                self._wait(edge * span)
                yield part
                part = []
            edge = slot if edge is None else max(edge, slot)
            part.append(e)
        if part:
            self._wait((edge or 0.0) * span)
            yield part

    def _wait(self, offset: float) -> None:
        delay = self.wall0 + offset / self.speed - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def ingest_payload(
    client: Any,
    body: bytes | str,
    *,
    settings: StreamSettings | None = None,
    fmt: str | None = None,
    account_field: str | None = None,
    source: str = "http",
) -> dict[str, Any]:
    """One-call helper for ``POST /v1/events``: parse, validate, add; returns the counts.

    Create an :class:`Ingestor` once per process instead when calling this in a loop.
    """
    ing = Ingestor(client, settings or StreamSettings())
    stats = ing.ingest_payload(body, fmt=fmt, account_field=account_field, source=source)
    return stats.as_dict()


def dumps(obj: Any) -> bytes:
    """orjson with numpy support (for CLI output)."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)
