"""/healthz, /readyz, /metrics and the OpenAPI document."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.redis_keys import Keys
from tests.service.api.conftest import PREFIX, auth, service_settings

pytestmark = pytest.mark.redis


def test_ready_with_redis_and_a_model(api: TestClient, populated) -> None:
    r = api.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["checks"]["redis"] == "ok"
    stored = populated.client().get(Keys(PREFIX).model_active).decode()
    assert body["model_version"] == stored


def test_ready_without_a_model_says_so(redis_server, fresh_prefix) -> None:
    # a new deployment must be Ready so gateways can post the events of its first model
    with TestClient(create_app(service_settings(redis_server.url, fresh_prefix))) as client:
        r = client.get("/readyz")
        assert r.status_code == 200 and r.json()["checks"]["redis"] == "ok"
        assert r.json()["model_version"] is None
        assert "none yet" in r.json()["checks"]["model"]


def test_metrics_after_traffic(api: TestClient, populated) -> None:
    acct = populated.client().zrevrange(f"{PREFIX}:risk", 0, 0)[0].decode()
    api.post("/v1/score", json={"account_id": acct}, headers=auth("gateway"))
    from service.api.background import refresh_gauges

    refresh_gauges(api.app.state.services)
    text = api.get("/metrics").text
    assert 'distillwatch_decisions_total{action="block",endpoint="score"}' in text
    assert re.search(
        r'distillwatch_http_request_duration_seconds_bucket\{.*route="/v1/score"', text
    )
    assert re.search(r'distillwatch_alerts\{severity="\w+",status="firing"\} [1-9]', text)
    assert "distillwatch_model_info{version=" in text
    assert "distillwatch_ingest_lag_events" in text
    # no account id ever appears in a label
    assert acct not in text


def test_openapi_lists_the_gateway_contracts(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/v1/score", "/v1/score/batch", "/v1/check", "/beta/litellm_basic_guardrail_api"):
        assert path in paths
    score = spec["components"]["schemas"]["ScoreResponse"]["properties"]
    assert {"risk", "action", "reasons", "model_version", "scored_at"} <= set(score)
