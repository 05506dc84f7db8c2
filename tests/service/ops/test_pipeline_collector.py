"""The pipeline collector: ``dw:stats`` counters exported one value per label."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest

from service import metrics
from service.api.app import create_app
from service.api.background import refresh_gauges
from service.ops.pipeline_collector import MAX_REASONS, PipelineCollector
from service.redis_keys import Keys
from tests.service.api.conftest import service_settings
from tests.service.ops.procs import PROMTOOL, promtool_check, samples, value

QUARANTINED = "distillwatch_pipeline_quarantined_events_total"


def scrape(collector: PipelineCollector) -> str:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(collector)
    return generate_latest(registry).decode()


@pytest.mark.redis
def test_one_sample_per_reason_from_the_redis_hash(rclient) -> None:
    keys = Keys("pc")
    rclient.hset(
        keys.stats,
        mapping={
            "ingested": 1200,
            "duplicates": 7,
            "processed": 1190,
            "deadlettered": 3,
            "quarantined:a": 5,
            "quarantined:b": 11,
            "last_scored_at": "1733443200.25",
            "something_new": 99,  # unknown fields are ignored
        },
    )
    collector = PipelineCollector()
    collector.update(rclient.hgetall(keys.stats))
    text = scrape(collector)
    got = samples(text)
    reasons = {dict(lbl)["reason"]: v for (name, lbl), v in got.items() if name == QUARANTINED}
    assert reasons == {"a": 5.0, "b": 11.0}
    assert value(text, "distillwatch_pipeline_ingested_events_total") == 1200
    assert value(text, "distillwatch_pipeline_duplicate_events_total") == 7
    assert value(text, "distillwatch_pipeline_processed_events_total") == 1190
    assert value(text, "distillwatch_pipeline_deadlettered_events_total") == 3
    assert value(text, "distillwatch_pipeline_last_scored_timestamp_seconds") == 1733443200.25
    assert "something_new" not in text and "counter=" not in text
    assert "# TYPE distillwatch_pipeline_quarantined_events_total counter" in text
    if PROMTOOL is not None:
        lint = promtool_check(text)
        assert lint.returncode == 0 and not (lint.stdout + lint.stderr).strip(), lint.stderr


def test_nothing_before_the_first_snapshot_and_zeros_after() -> None:
    collector = PipelineCollector()
    assert not samples(scrape(collector))  # a service that never reached Redis claims nothing
    collector.update({})
    text = scrape(collector)
    assert value(text, "distillwatch_pipeline_ingested_events_total") == 0
    assert value(text, "distillwatch_pipeline_deadlettered_events_total") == 0
    assert value(text, "distillwatch_pipeline_last_scored_timestamp_seconds") is None
    assert not [k for k in samples(text) if k[0] == QUARANTINED]
    collector.clear()
    assert not samples(scrape(collector))


def test_reason_labels_stay_bounded() -> None:
    raw = {f"quarantined:code_{i:03d}": i + 1 for i in range(100)}
    raw["quarantined:Not A Code!"] = 1000
    raw["quarantined:x" + "y" * 80] = 1
    collector = PipelineCollector()
    snap = collector.update(raw)
    got = samples(scrape(collector))
    reasons = {dict(lbl)["reason"]: v for (name, lbl), v in got.items() if name == QUARANTINED}
    assert len(reasons) == MAX_REASONS
    assert "other" in reasons
    # nothing lost: the total is kept
    assert sum(reasons.values()) == sum(raw.values())
    assert snap.quarantined == reasons
    # the biggest real codes keep their own label
    assert reasons["code_099"] == 100


def test_unparsable_values_are_skipped() -> None:
    collector = PipelineCollector()
    collector.update({b"ingested": b"not a number", b"processed": b"12"})
    text = scrape(collector)
    assert value(text, "distillwatch_pipeline_ingested_events_total") == 0
    assert value(text, "distillwatch_pipeline_processed_events_total") == 12


@pytest.mark.redis
def test_service_metrics_export_the_snapshot_not_the_packed_gauge(redis_server, rclient) -> None:
    prefix = "pcs"
    keys = Keys(prefix)
    rclient.hset(keys.stats, mapping={"ingested": 40, "quarantined:bad_type": 2})
    with TestClient(create_app(service_settings(redis_server.url, prefix))) as api:
        refresh_gauges(api.app.state.services)
        text = api.get("/metrics").text
        assert value(text, "distillwatch_pipeline_ingested_events_total") == 40
        assert value(text, QUARANTINED, reason="bad_type") == 2
        # a scrape reads the snapshot: a change in Redis shows after the next refresh only
        rclient.hincrby(keys.stats, "ingested", 5)
        assert value(api.get("/metrics").text, "distillwatch_pipeline_ingested_events_total") == 40
        refresh_gauges(api.app.state.services)
        assert value(api.get("/metrics").text, "distillwatch_pipeline_ingested_events_total") == 45
    assert "distillwatch_pipeline_events{" not in text
    assert not hasattr(metrics, "PIPELINE_COUNTS")
