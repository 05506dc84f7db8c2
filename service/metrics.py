"""Every Prometheus metric of distillwatch, defined in one place.

Conventions: ``distillwatch_`` prefix, base units (seconds, bytes), ``_total`` on
counters, and never an account id (or any other unbounded value) in a label. Metrics
live in a private :class:`~prometheus_client.CollectorRegistry` so that several apps in
one process (tests) do not collide; :func:`render` serves it for ``/metrics``.

Gauges read from Redis (open alerts, ingest lag) and the pipeline counters of the
``dw:stats`` hash (:data:`PIPELINE`, a custom collector) are refreshed by the service's
background task (:mod:`service.api.background`), not at scrape time, so a scrape never
waits on Redis.

Three registries, one per process role, each served on its own ``/metrics``:

* :data:`REGISTRY`: ``distillwatch serve`` (HTTP, gateway, ingest API, pipeline);
* :data:`WORKER_REGISTRY`: ``distillwatch worker`` (its ``--metrics-port`` listener);
* :data:`SINKS_REGISTRY`: ``distillwatch sinks`` (the sink metrics, which the service's
  registry also holds for sinks run inside the service, and the sinks' Redis gauge).
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

from service.ops.pipeline_collector import PipelineCollector

__all__ = [
    "ALERTS_OPEN",
    "ALERT_TRANSITIONS",
    "AUTH_FAILURES",
    "BODY_TIMEOUTS",
    "CONTENT_TYPE",
    "DECISIONS",
    "EVENT_LOOP_LAG",
    "FALLBACK_DECISIONS",
    "GATEWAY_INFLIGHT",
    "HTTP_LATENCY",
    "INGEST_EVENTS",
    "INGEST_LAG",
    "MODEL_INFO",
    "PIPELINE",
    "QUARANTINED",
    "RATE_LIMITED",
    "REDIS_BUDGET_EXTENSIONS",
    "REDIS_ERRORS",
    "REDIS_UP",
    "REGISTRY",
    "REQUEST_SIGNALS",
    "SHED_REQUESTS",
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
#: distillwatch_pipeline_*_events_total and _last_scored_timestamp_seconds, from dw:stats
PIPELINE = PipelineCollector()
REGISTRY.register(PIPELINE)
# -- saturation: the gateway path's own queueing, kept apart from Redis' time ------------------
SHED_REQUESTS = Counter(
    "distillwatch_shed_requests_total",
    "Gateway requests answered 503 + Retry-After because the service was overloaded, by "
    "endpoint and reason (inflight: admission limit; overload: event loop congested).",
    ("endpoint", "reason"),
    registry=REGISTRY,
)
GATEWAY_INFLIGHT = Gauge(
    "distillwatch_gateway_inflight_requests",
    "Gateway requests (score, check, guardrail) being answered right now.",
    registry=REGISTRY,
)
EVENT_LOOP_LAG = Gauge(
    "distillwatch_event_loop_lag_seconds",
    "Largest lateness of the service's event loop timers over the last window.",
    registry=REGISTRY,
)
REDIS_BUDGET_EXTENSIONS = Counter(
    "distillwatch_redis_budget_extensions_total",
    "Gateway Redis calls granted another budget because the event loop, not Redis, was late.",
    registry=REGISTRY,
)
#: slow-body protection (BodyLimitMiddleware; helper F)
BODY_TIMEOUTS = Counter(
    "distillwatch_request_body_timeouts_total",
    "Requests answered 408 because their body did not arrive within the time limit, by "
    "limit (events: POST /v1/events; default: every other route).",
    ("limit",),
    registry=REGISTRY,
)
MODEL_INFO = Info(
    "distillwatch_model",
    "The anomaly model version the scorers currently use.",
    registry=REGISTRY,
)


# -- worker process (``distillwatch worker --metrics-port``) -------------------------------
WORKER_REGISTRY = CollectorRegistry(auto_describe=True)
_BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

WORKER_EVENTS = Counter(
    "distillwatch_worker_events_total",
    "Events this worker folded into window state (committed).",
    registry=WORKER_REGISTRY,
)
WORKER_BATCHES = Counter(
    "distillwatch_worker_batches_total",
    "Batches this worker committed.",
    registry=WORKER_REGISTRY,
)
WORKER_ERRORS = Counter(
    "distillwatch_worker_errors_total",
    "Errors of this worker (failed batches, Redis unavailable, scoring failures).",
    registry=WORKER_REGISTRY,
)
WORKER_DEADLETTERED = Counter(
    "distillwatch_worker_deadlettered_total",
    "Stream entries this worker moved to the dead-letter stream.",
    registry=WORKER_REGISTRY,
)
WORKER_RECLAIMED = Counter(
    "distillwatch_worker_reclaimed_total",
    "Idle entries this worker reclaimed from other consumers (or its own past self).",
    registry=WORKER_REGISTRY,
)
WORKER_BATCH_DURATION = Histogram(
    "distillwatch_worker_batch_duration_seconds",
    "Time from folding a batch to its committed transaction.",
    buckets=_BATCH_BUCKETS,
    registry=WORKER_REGISTRY,
)
WORKER_LAST_BATCH = Gauge(
    "distillwatch_worker_last_batch_timestamp_seconds",
    "Unix time of this worker's last committed batch.",
    registry=WORKER_REGISTRY,
)
SCORER_RUNS = Counter(
    "distillwatch_scorer_runs_total",
    "Scoring passes of this worker's scorer that stored verdicts.",
    registry=WORKER_REGISTRY,
)
SCORER_LAST_RUN = Gauge(
    "distillwatch_scorer_last_run_timestamp_seconds",
    "Unix time of this worker's last scoring pass.",
    registry=WORKER_REGISTRY,
)
WORKER_REDIS_UP = Gauge(
    "distillwatch_redis_up",
    "1 when the worker's last Redis call succeeded, else 0.",
    registry=WORKER_REGISTRY,
)

# -- population job (worker and ``distillwatch scorer`` processes; helper K's block) -------
POPULATION_REFRESHES = Counter(
    "distillwatch_population_refresh_total",
    "Population snapshots this process computed (window states, fallback fit, linking) "
    "as holder of the population lease.",
    registry=WORKER_REGISTRY,
)
POPULATION_LAST_REFRESH = Gauge(
    "distillwatch_population_last_refresh_timestamp_seconds",
    "Unix time the population snapshot this process uses was published (computed here or "
    "loaded from Redis).",
    registry=WORKER_REGISTRY,
)
POPULATION_LEADER = Gauge(
    "distillwatch_population_leader",
    "1 while this process holds the population lease (runs the population job), else 0.",
    registry=WORKER_REGISTRY,
)
# -- end of helper K's block ------------------------------------------------------------------

# -- sinks process (``distillwatch sinks --metrics-port``) ---------------------------------
SINKS_REGISTRY = CollectorRegistry(auto_describe=True)
for _metric in (SINK_DELIVERIES, SINK_LATENCY, ALERT_TRANSITIONS):
    SINKS_REGISTRY.register(_metric)
SINKS_REDIS_UP = Gauge(
    "distillwatch_redis_up",
    "1 when the sinks' last Redis PING succeeded, else 0.",
    registry=SINKS_REGISTRY,
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


def render(registry: CollectorRegistry | None = None) -> bytes:
    """A registry (default: the service's) in Prometheus' text exposition format."""
    return generate_latest(REGISTRY if registry is None else registry)
