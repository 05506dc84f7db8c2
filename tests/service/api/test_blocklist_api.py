"""``GET /v1/blocklist``: verdicts to block, minus false positives, plus confirmed blocks."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.redis_keys import Keys
from tests.service.api.conftest import PREFIX, Populated, auth, service_settings

pytestmark = pytest.mark.redis

AN = auth("analyst")


def _blocklist(api: TestClient) -> dict[str, Any]:
    r = api.get("/v1/blocklist", headers=AN)
    assert r.status_code == 200, r.text
    return r.json()


def test_blocklist_matches_verdicts(api: TestClient, populated: Populated) -> None:
    body = _blocklist(api)
    assert body["total"] == len(body["items"]) >= 1
    client = populated.client()
    keys = Keys(PREFIX)
    # every ranked account whose verdict says block (and is not suppressed) is listed
    expected = set()
    for raw in client.zrange(keys.risk, 0, -1):
        action, suppressed = client.hmget(keys.score(raw.decode()), "action", "suppressed")
        if action == b"block" and suppressed != b"1":
            expected.add(raw.decode())
    confirmed = {a.decode() for a in client.zrange(keys.decisions, 0, -1)}
    client.close()
    listed = {i["account_id"] for i in body["items"]}
    assert listed == expected | confirmed
    risks = [i["risk"] for i in body["items"]]
    assert risks == sorted(risks, reverse=True)
    first = body["items"][0]
    assert first["action"] == "block" and first["reasons"]


def test_false_positive_leaves_and_confirmed_block_joins(api: TestClient) -> None:
    listed = {i["account_id"]: i for i in _blocklist(api)["items"] if i["source"] == "verdict"}
    alerts = api.get(
        "/v1/alerts", params={"status": "firing", "action": "block", "limit": 500}, headers=AN
    ).json()["items"]
    target = next(a for a in alerts if a["account_id"] in listed)
    r = api.post(f"/v1/alerts/{target['fingerprint']}/false-positive", headers=AN)
    assert r.status_code == 200
    assert target["account_id"] not in {i["account_id"] for i in _blocklist(api)["items"]}

    # an allowed account an analyst confirms is listed with who decided
    allowed = api.get("/v1/accounts", params={"action": "allow", "limit": 1}, headers=AN)
    acct = allowed.json()["items"][0]["account_id"]
    assert (
        api.post(
            f"/v1/accounts/{acct}/confirm-block", json={"note": "seen in abuse report"}, headers=AN
        ).status_code
        == 200
    )
    entry = {i["account_id"]: i for i in _blocklist(api)["items"]}[acct]
    assert entry["source"] == "analyst"
    assert entry["decided_by"] == "test-analyst"
    assert entry["note"] == "seen in abuse report"
    assert api.delete(f"/v1/accounts/{acct}/decision", headers=AN).status_code == 200
    assert acct not in {i["account_id"] for i in _blocklist(api)["items"]}


def test_blocklist_csv(api: TestClient) -> None:
    r = api.get("/v1/blocklist", params={"format": "csv"}, headers=AN)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["account_id"] for row in rows] == [
        i["account_id"] for i in _blocklist(api)["items"]
    ]
    assert api.get("/v1/blocklist", params={"format": "xml"}, headers=AN).status_code == 422


def test_full_scan_without_block_alerts(redis_server: Any, fresh_prefix: str) -> None:
    """When block raises no alerts the ranked accounts are read instead."""
    keys = Keys(fresh_prefix)
    client = redis_server.client()
    client.hset(keys.score("b1"), mapping={"risk": "0.95", "action": "block", "rule_ids": "r"})
    client.hset(keys.score("b2"), mapping={"risk": "0.2", "action": "allow"})
    client.hset(keys.score("b3"), mapping={"risk": "0.9", "action": "block", "suppressed": "1"})
    client.zadd(keys.risk, {"b1": 0.95, "b2": 0.2, "b3": 0.9})
    settings = service_settings(
        redis_server.url, prefix=fresh_prefix, alert_actions=("review", "throttle")
    )
    with TestClient(create_app(settings)) as api:
        body = api.get("/v1/blocklist", headers=AN).json()
    assert [i["account_id"] for i in body["items"]] == ["b1"]
    assert body["items"][0]["rule_ids"] == ["r"]
    client.close()


def test_blocklist_auth(api: TestClient) -> None:
    assert api.get("/v1/blocklist").status_code == 401
    assert api.get("/v1/blocklist", headers=auth("gateway")).status_code == 403
    assert api.get("/v1/blocklist", headers=auth("admin")).status_code == 200
