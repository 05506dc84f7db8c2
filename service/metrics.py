"""Every Prometheus metric of distillwatch, defined in one place.

Conventions: ``distillwatch_`` prefix, base units (seconds, bytes), ``_total`` on
counters, and never an account id (or any other unbounded value) in a label. Metrics
live in a private :class:`~prometheus_client.CollectorRegistry` so that several apps in
one process (tests) do not collide; :func:`render` serves it for ``/metrics``.

Gauges read from Redis (open alerts, ingest lag, quarantine counts) are refreshed by
the service's background task (:mod:`service.api.background`), not at scrape time, so
a scrape never waits on Redis.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)

__all__ = [
    "ALERTS_OPEN",
    "ALERT_TRANSITIONS",
    "AUTH_FAILURES",
    "CONTENT_TYPE",
    "DECISIONS",
    "FALLBACK_DECISIONS",
    "HTTP_LATENCY",
    "INGEST_EVENTS",
    "INGEST_LAG",
    "MODEL_INFO",
    "PIPELINE_COUNTS",
    "QUARANTINED",
    "RATE_LIMITED",
    "REDIS_ERRORS",
    "REDIS_UP",
    "REGISTRY",
    "REQUEST_SIGNALS",
    "SINK_DELIVERIES",
    "SINK_LATENCY",
    "TRIAGE_ACTIONS",
    "child",
    "render",
]

REGISTRY = CollectorRegistry(auto_describe=True)
CONTENT_TYPE = CONTENT_TYPE_LATEST

# sub-millisecond resolution where the gateway path lives, up to multi-second API calls
_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)

HTTP_LATENCY = Histogram(
    "distillwatch_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template, method and status code.",
    ("route", "method", "status"),
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
DECISIONS = Counter(
    "distillwatch_decisions_total",
    "Gateway decisions by endpoint (score, check, guardrail) and action.",
    ("endpoint", "action"),
    registry=REGISTRY,
)
FALLBACK_DECISIONS = Counter(
    "distillwatch_fallback_decisions_total",
    "Gateway decisions taken from the fail mode because Redis could not be read.",
    ("endpoint", "mode"),
    registry=REGISTRY,
)
REQUEST_SIGNALS = Counter(
    "distillwatch_request_signals_total",
    "Harvesting signals seen in request bodies sent by gateways, by signal.",
    ("signal",),
    registry=REGISTRY,
)
REDIS_ERRORS = Counter(
    "distillwatch_redis_errors_total",
    "Redis calls of the service that failed or timed out, by operation.",
    ("operation",),
    registry=REGISTRY,
)
REDIS_UP = Gauge(
    "distillwatch_redis_up",
    "1 when the service's last Redis call succeeded, else 0.",
    registry=REGISTRY,
)
AUTH_FAILURES = Counter(
    "distillwatch_auth_failures_total",
    "Requests refused by authentication (401) or authorisation (403), by reason.",
    ("reason",),
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "distillwatch_rate_limited_total",
    "Requests refused by the per-token rate limit, by role.",
    ("role",),
    registry=REGISTRY,
)
INGEST_EVENTS = Counter(
    "distillwatch_ingest_events_total",
    "Records received on POST /v1/events, by outcome (added, duplicate, quarantined).",
    ("outcome",),
    registry=REGISTRY,
)
QUARANTINED = Counter(
    "distillwatch_ingest_quarantined_total",
    "Records quarantined by POST /v1/events, by reason code.",
    ("reason",),
    registry=REGISTRY,
)
TRIAGE_ACTIONS = Counter(
    "distillwatch_triage_actions_total",
    "Analyst actions on alerts (acknowledge, resolve, false_positive, note, confirm_block).",
    ("action",),
    registry=REGISTRY,
)
ALERT_TRANSITIONS = Counter(
    "distillwatch_alert_transitions_total",
    "Alert lifecycle entries seen on the alerts stream by the sinks, by status.",
    ("status",),
    registry=REGISTRY,
)
SINK_DELIVERIES = Counter(
    "distillwatch_sink_deliveries_total",
    "Alert deliveries to sinks, by sink and outcome (delivered, retried, dropped).",
    ("sink", "outcome"),
    registry=REGISTRY,
)
SINK_LATENCY = Histogram(
    "distillwatch_sink_delivery_duration_seconds",
    "Time of one delivery attempt to a sink.",
    ("sink",),
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
ALERTS_OPEN = Gauge(
    "distillwatch_alerts",
    "Alerts held in Redis, by severity and status (refreshed in the background).",
    ("severity", "status"),
    registry=REGISTRY,
)
INGEST_LAG = Gauge(
    "distillwatch_ingest_lag_events",
    "Events on the stream not yet delivered to the worker group.",
    registry=REGISTRY,
)
PIPELINE_COUNTS = Gauge(
    "distillwatch_pipeline_events",
    "Pipeline counters kept in Redis by ingest and workers (ingested, quarantined, ...).",
    ("counter",),
    registry=REGISTRY,
)
MODEL_INFO = Info(
    "distillwatch_model",
    "The anomaly model version the scorers currently use.",
    registry=REGISTRY,
)


_CHILDREN: dict[tuple[int, tuple[str, ...]], Any] = {}


def child(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, memoised: the gateway path skips prometheus-client's
    label validation and locking after the first request of each label set (label sets
    are bounded: routes, methods, statuses, actions)."""
    key = (id(metric), labels)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = metric.labels(*labels)
    return found


def render() -> bytes:
    """The registry in Prometheus' text exposition format."""
    return generate_latest(REGISTRY)
