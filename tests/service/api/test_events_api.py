"""POST /v1/events with the bodies a real LiteLLM proxy posts, OpenAI records, bad input."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.redis_keys import Keys
from tests.service.api.conftest import auth, service_settings

pytestmark = pytest.mark.redis

LITELLM = Path(__file__).resolve().parents[2] / "fixtures" / "litellm"


@pytest.fixture
def app_client(redis_server, fresh_prefix):
    settings = service_settings(redis_server.url, fresh_prefix, max_events_body_bytes=2_000_000)
    with TestClient(create_app(settings)) as client:
        yield client, redis_server.client(), Keys(fresh_prefix)


def _post(client: TestClient, body: bytes, **params: str):
    return client.post(
        "/v1/events",
        content=body,
        params=params,
        headers={**auth("gateway"), "content-type": "application/json"},
    )


def test_litellm_batches_in_all_three_formats_count_once(app_client) -> None:
    client, r, keys = app_client
    added = 0
    for path in sorted((LITELLM / "logging").glob("*.json")):
        res = _post(client, path.read_bytes())
        assert res.status_code == 200, res.text
        added += res.json()["added"]
    assert added == 37 and r.xlen(keys.part(0).events) == 37
    # the same records as NDJSON and as single posts are duplicates, not new events
    dupes = records = 0
    for path in sorted((LITELLM / "logging-ndjson").glob("*.ndjson")):
        records += len(path.read_bytes().splitlines())
        res = _post(client, path.read_bytes()).json()
        assert res["added"] == 0
        dupes += res["duplicates"]
    for path in sorted((LITELLM / "logging-single").glob("*.json"))[:5]:
        assert _post(client, path.read_bytes()).json()["duplicates"] == 1
    assert records > 0 and dupes == records and r.xlen(keys.part(0).events) == 37


def test_no_prompt_text_reaches_redis(app_client) -> None:
    client, r, keys = app_client
    for path in sorted((LITELLM / "logging").glob("*.json")):
        _post(client, path.read_bytes())
    blob = b"".join(v for _id, f in r.xrange(keys.part(0).events) for v in f.values())
    assert b"Think step by step" not in blob and b"Translate the following" not in blob


def test_bad_records_are_quarantined_and_good_ones_kept(app_client) -> None:
    client, r, keys = app_client
    good = {
        "timestamp": 1_790_000_000.0,
        "account_id": "acct-1",
        "request_id": "req-good-1",
        "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        "response": {"usage": {"prompt_tokens": 3, "completion_tokens": 5}},
    }
    bad_time = dict(good, request_id="req-bad-1", timestamp="yesterday")
    body = b"\n".join([orjson.dumps(good), b"{not json", orjson.dumps(bad_time)])
    res = _post(client, body, format="openai")
    assert res.status_code == 200
    counts = res.json()
    assert counts["added"] == 1 and counts["quarantined"] == 2
    assert sum(counts["reasons"].values()) == 2
    entries = r.xrange(keys.quarantine)
    assert len(entries) == 2 and all(b"reason" in f for _id, f in entries)
    metrics = client.get("/metrics").text
    assert 'distillwatch_ingest_events_total{outcome="quarantined"}' in metrics


def test_empty_and_oversized_bodies(app_client, redis_server, fresh_prefix) -> None:
    client, _r, _keys = app_client
    assert _post(client, b"  ").status_code == 400
    settings = service_settings(redis_server.url, fresh_prefix, max_events_body_bytes=1000)
    with TestClient(create_app(settings)) as small:
        res = _post(small, b"[" + b" " * 2000 + b"]")
        assert res.status_code == 413


def test_events_need_the_events_scope(app_client) -> None:
    client, _r, _keys = app_client
    res = client.post("/v1/events", content=b"[]", headers=auth("analyst"))
    assert res.status_code == 403
