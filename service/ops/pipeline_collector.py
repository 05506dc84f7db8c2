"""Prometheus counters of the pipeline, from the ``dw:stats`` hash kept in Redis.

Ingest and the workers count into one Redis hash (``HINCRBY``): ``ingested``,
``duplicates``, ``quarantined:<reason>``, ``processed``, ``deadlettered``, and the
scorers stamp ``last_scored_at`` (Unix seconds). Those totals are shared by every
process and survive restarts, so they are Prometheus counters already: this collector
exports them one value per label, from a snapshot that the service's background task
refreshes (:func:`service.api.background.refresh_gauges`). A scrape never calls Redis.

Fields outside that list are ignored; quarantine reasons become the ``reason`` label only
when they look like reason codes, and at most :data:`MAX_REASONS` of them (the rest are
summed under ``reason="other"``), so a stray field can never grow the label set.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["COUNTERS", "MAX_REASONS", "PipelineCollector", "PipelineSnapshot"]

#: stats hash field -> (metric name, help)
COUNTERS: dict[str, tuple[str, str]] = {
    "ingested": (
        "distillwatch_pipeline_ingested_events_total",
        "Events added to the events stream by every ingest path (from Redis).",
    ),
    "duplicates": (
        "distillwatch_pipeline_duplicate_events_total",
        "Records dropped by ingest as already seen (same request id; from Redis).",
    ),
    "processed": (
        "distillwatch_pipeline_processed_events_total",
        "Events folded into window state by every worker (from Redis).",
    ),
    "deadlettered": (
        "distillwatch_pipeline_deadlettered_events_total",
        "Stream entries moved to the dead-letter stream by every worker (from Redis).",
    ),
}
QUARANTINED = (
    "distillwatch_pipeline_quarantined_events_total",
    "Records quarantined by every ingest path, by reason code (from Redis).",
)
LAST_SCORED = (
    "distillwatch_pipeline_last_scored_timestamp_seconds",
    "Unix time of the last scoring pass of any worker (from Redis).",
)
#: most distinct quarantine reasons exported as labels (the ingest layer has ~16)
MAX_REASONS = 32
_REASON = re.compile(r"[a-z][a-z0-9_]{0,47}")
_QUARANTINED_PREFIX = "quarantined:"
_LAST_SCORED_FIELD = "last_scored_at"


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class PipelineSnapshot:
    """The stats hash, parsed: counters, quarantine counts by reason, last scoring."""

    counters: dict[str, float] = field(default_factory=dict)
    quarantined: dict[str, float] = field(default_factory=dict)
    last_scored_at: float | None = None

    @classmethod
    def from_hash(cls, raw: Mapping[Any, Any]) -> PipelineSnapshot:
        """Parse an ``HGETALL`` reply (bytes or str keys and values); unknown fields and
        unparsable values are skipped, counters missing from the hash are 0."""
        counters = dict.fromkeys(COUNTERS, 0.0)
        reasons: dict[str, float] = {}
        last: float | None = None
        for key, value in raw.items():
            name = _text(key)
            try:
                number = float(_text(value))
            except ValueError:
                continue
            if name in counters:
                counters[name] = number
            elif name.startswith(_QUARANTINED_PREFIX):
                reason = name[len(_QUARANTINED_PREFIX) :]
                if not _REASON.fullmatch(reason):
                    reason = "other"
                reasons[reason] = reasons.get(reason, 0.0) + number
            elif name == _LAST_SCORED_FIELD:
                last = number
        if len(reasons) > MAX_REASONS:  # the largest codes keep their label
            codes = sorted((r for r in reasons if r != "other"), key=lambda r: (-reasons[r], r))
            kept = {r: reasons[r] for r in codes[: MAX_REASONS - 1]}
            kept["other"] = sum(v for r, v in reasons.items() if r not in kept)
            reasons = kept
        return cls(counters, reasons, last)


class PipelineCollector(Collector):
    """A custom collector exporting the latest :class:`PipelineSnapshot`.

    Nothing is exported before the first :meth:`update` (a service that never reached
    Redis does not claim zero events); after it, the four counters always are (0 when
    the hash lacks the field), one quarantine sample per reason present, and the
    last-scored gauge when a scorer has stamped it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: PipelineSnapshot | None = None

    def update(self, raw: Mapping[Any, Any]) -> PipelineSnapshot:
        """Replace the snapshot with the parsed ``raw`` stats hash; returns it."""
        snap = PipelineSnapshot.from_hash(raw)
        with self._lock:
            self._snapshot = snap
        return snap

    def clear(self) -> None:
        """Forget the snapshot (nothing is exported until the next update)."""
        with self._lock:
            self._snapshot = None

    @property
    def snapshot(self) -> PipelineSnapshot | None:
        """The snapshot exported now."""
        with self._lock:
            return self._snapshot

    def describe(self) -> Iterator[Metric]:
        """The families this collector can export (without samples)."""
        for name, doc in COUNTERS.values():
            yield CounterMetricFamily(name, doc)
        yield CounterMetricFamily(*QUARANTINED, labels=("reason",))
        yield GaugeMetricFamily(*LAST_SCORED)

    def collect(self) -> Iterator[Metric]:
        """The families of the current snapshot."""
        snap = self.snapshot
        if snap is None:
            return
        for key, (name, doc) in COUNTERS.items():
            yield CounterMetricFamily(name, doc, value=snap.counters.get(key, 0.0))
        quarantined = CounterMetricFamily(*QUARANTINED, labels=("reason",))
        for reason in sorted(snap.quarantined):
            quarantined.add_metric([reason], snap.quarantined[reason])
        yield quarantined
        if snap.last_scored_at is not None:
            yield GaugeMetricFamily(*LAST_SCORED, value=snap.last_scored_at)
