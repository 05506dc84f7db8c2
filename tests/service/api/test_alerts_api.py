"""``/v1/alerts``: listing, filters, detail, triage transitions and trail, suppression."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from service.redis_keys import Keys
from tests.service.api.conftest import PREFIX, Populated, auth

pytestmark = pytest.mark.redis

AN = auth("analyst")


def _firing(api: TestClient, limit: int = 500) -> list[dict[str, Any]]:
    r = api.get("/v1/alerts", params={"status": "firing", "limit": limit}, headers=AN)
    assert r.status_code == 200
    return r.json()["items"]


def untouched(api: TestClient, n: int = 1) -> list[dict[str, Any]]:
    """``n`` firing alerts no test has acted on yet (empty trail)."""
    out = []
    for item in _firing(api):
        notes = api.get(f"/v1/alerts/{item['fingerprint']}/notes", headers=AN).json()
        if notes["total"] == 0:
            out.append(item)
            if len(out) == n:
                return out
    pytest.fail("not enough untouched firing alerts in the replay")


def test_replay_has_alerts(api: TestClient) -> None:
    r = api.get("/v1/alerts", headers=AN)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] >= 20
    assert len(body["items"]) == min(50, body["total"])
    first = body["items"][0]
    assert {"fingerprint", "account_id", "status", "severity", "risk", "summary"} <= set(first)
    assert first["summary"].startswith("Account ")


def test_list_sorted_and_paged(api: TestClient) -> None:
    all_items = api.get("/v1/alerts", params={"limit": 500}, headers=AN).json()["items"]
    risks = [a["risk"] for a in all_items]
    assert risks == sorted(risks, reverse=True)
    asc = api.get("/v1/alerts", params={"limit": 500, "order": "asc"}, headers=AN).json()
    assert [a["risk"] for a in asc["items"]] == sorted(risks)
    p1 = api.get("/v1/alerts", params={"limit": 5}, headers=AN).json()
    p2 = api.get("/v1/alerts", params={"limit": 5, "offset": 5}, headers=AN).json()
    assert [a["fingerprint"] for a in p1["items"] + p2["items"]] == [
        a["fingerprint"] for a in all_items[:10]
    ]
    assert p1["total"] == p2["total"] == len(all_items)
    for sort, field in (("last_seen", "last_seen"), ("started", "starts_at")):
        items = api.get("/v1/alerts", params={"limit": 500, "sort": sort}, headers=AN).json()
        values = [a[field] for a in items["items"]]
        assert values == sorted(values, reverse=True)


def test_filters(api: TestClient) -> None:
    items = api.get("/v1/alerts", params={"limit": 500}, headers=AN).json()["items"]
    sample = items[0]
    for param, field in (("severity", "severity"), ("action", "action")):
        got = api.get("/v1/alerts", params={param: sample[field], "limit": 500}, headers=AN)
        assert got.status_code == 200
        assert got.json()["total"] >= 1
        assert all(a[field] == sample[field] for a in got.json()["items"])
    got = api.get("/v1/alerts", params={"account_id": sample["account_id"]}, headers=AN).json()
    assert got["total"] >= 1
    assert {a["account_id"] for a in got["items"]} == {sample["account_id"]}
    with_rules = [a for a in items if a["rule_ids"]]
    assert with_rules, "the replay should fire rule-based alerts"
    rule = with_rules[0]["rule_ids"][0]
    got = api.get("/v1/alerts", params={"rule": rule, "limit": 500}, headers=AN).json()
    assert got["total"] >= 1
    assert all(rule in a["rule_ids"] for a in got["items"])
    with_cluster = [a for a in items if a["cluster_id"]]
    if with_cluster:
        cid = with_cluster[0]["cluster_id"]
        got = api.get("/v1/alerts", params={"cluster_id": cid, "limit": 500}, headers=AN).json()
        assert got["total"] >= 1
        assert all(a["cluster_id"] == cid for a in got["items"])
    none = api.get("/v1/alerts", params={"account_id": "no-such-account"}, headers=AN).json()
    assert none == {"items": [], "total": 0, "offset": 0, "limit": 50}


def test_detail(api: TestClient) -> None:
    fp = _firing(api, 1)[0]["fingerprint"]
    r = api.get(f"/v1/alerts/{fp}", headers=AN)
    assert r.status_code == 200
    d = r.json()
    assert d["fingerprint"] == fp
    assert d["labels"]["alertname"] == "DistillationSuspected"
    assert d["labels"]["account_id"] == d["account_id"]
    assert d["recommended_action"] in ("block", "throttle", "review")
    assert "n_events" in d["evidence"]
    assert d["description"]
    assert d["suppression"] is None


def test_acknowledge_then_resolve_records_trail(api: TestClient, populated: Populated) -> None:
    (alert,) = untouched(api)
    fp = alert["fingerprint"]
    r = api.post(f"/v1/alerts/{fp}/acknowledge", json={"note": "looking"}, headers=AN)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["status"] == "acknowledged"
    assert d["acknowledged_by"] == "test-analyst"
    assert d["acknowledged_at"].endswith("Z")
    # acknowledging twice is not a valid transition
    assert api.post(f"/v1/alerts/{fp}/acknowledge", headers=AN).status_code == 409
    r = api.post(f"/v1/alerts/{fp}/resolve", headers=AN)
    assert r.status_code == 200
    assert r.json()["status"] == "resolved"
    assert r.json()["resolved_by"] == "test-analyst"
    assert api.post(f"/v1/alerts/{fp}/resolve", headers=AN).status_code == 409
    assert api.post(f"/v1/alerts/{fp}/acknowledge", headers=AN).status_code == 409
    trail = api.get(f"/v1/alerts/{fp}/notes", headers=AN).json()
    assert trail["total"] == 2
    assert [e["action"] for e in trail["items"]] == ["resolve", "acknowledge"]
    assert trail["items"][1]["note"] == "looking"
    assert trail["items"][0]["note"] is None
    assert all(e["by"] == "test-analyst" and e["at"].endswith("Z") for e in trail["items"])
    client = populated.client()
    keys = Keys(PREFIX)
    entries = [f for _id, f in client.xrange(keys.alerts) if f[b"fingerprint"] == fp.encode()]
    statuses = [f[b"status"] for f in entries]
    assert b"acknowledged" in statuses and statuses[-1] == b"resolved"
    assert entries[-1][b"by"] == b"test-analyst"
    # the trail lives at least as long as the alert
    assert client.ttl(keys.alert_notes(fp)) >= client.ttl(keys.alert(fp)) - 1
    client.close()


def test_false_positive_suppresses_refire(api: TestClient, populated: Populated) -> None:
    (alert,) = untouched(api)
    fp, acct = alert["fingerprint"], alert["account_id"]
    client = populated.client()
    keys = Keys(PREFIX)
    r = api.post(f"/v1/alerts/{fp}/false-positive", json={"note": "internal eval"}, headers=AN)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["status"] == "false_positive"
    assert d["false_positive_by"] == "test-analyst"
    assert d["suppression"]["by"] == "test-analyst"
    assert d["suppression"]["note"] == "internal eval"
    record = orjson.loads(client.hget(keys.suppressions, fp))
    assert record["account_id"] == acct
    assert client.ttl(keys.suppressions) == -1
    score = client.hgetall(keys.score(acct))
    assert score[b"action"] == b"allow"
    assert score[b"suppressed"] == b"1"
    assert score[b"suppressed_by"] == b"test-analyst"
    last_id, last = client.xrevrange(keys.alerts, count=1)[0]
    assert last[b"status"] == b"false_positive" and last[b"fingerprint"] == fp.encode()
    # gateways allow the account at once
    gw = api.post("/v1/score", json={"account_id": acct}, headers=auth("gateway")).json()
    assert gw["action"] == "allow"
    assert api.post(f"/v1/alerts/{fp}/false-positive", headers=AN).status_code == 409
    assert api.post(f"/v1/alerts/{fp}/acknowledge", headers=AN).status_code == 409
    assert api.post(f"/v1/alerts/{fp}/resolve", headers=AN).status_code == 409

    # re-scoring the same situation keeps it suppressed and fires nothing new
    assert populated.scorer.score([acct]) == 1
    assert api.get(f"/v1/alerts/{fp}", headers=AN).json()["status"] == "false_positive"
    later = client.xrange(keys.alerts, min=f"({last_id.decode()}")
    assert not [f for _id, f in later if f[b"account_id"] == acct.encode()]
    assert client.hget(keys.score(acct), "action") == b"allow"

    # even once the alert hash is gone, the durable suppression record holds
    client.delete(keys.alert(fp))
    assert populated.scorer.score([acct]) == 1
    later = client.xrange(keys.alerts, min=f"({last_id.decode()}")
    assert not [f for _id, f in later if f[b"status"] == b"firing"]
    again = api.get(f"/v1/alerts/{fp}", headers=AN).json()
    assert again["status"] == "false_positive"
    assert again["false_positive_by"] == "test-analyst"
    client.close()


def test_false_positive_from_resolved(api: TestClient) -> None:
    (alert,) = untouched(api)
    fp = alert["fingerprint"]
    assert api.post(f"/v1/alerts/{fp}/resolve", headers=AN).status_code == 200
    r = api.post(f"/v1/alerts/{fp}/false-positive", headers=AN)
    assert r.status_code == 200
    assert r.json()["status"] == "false_positive"


def test_notes(api: TestClient) -> None:
    (alert,) = untouched(api)
    fp = alert["fingerprint"]
    for i in range(3):
        r = api.post(f"/v1/alerts/{fp}/notes", json={"note": f"note {i}"}, headers=AN)
        assert r.status_code == 201
        assert r.json()["by"] == "test-analyst"
        assert r.json()["action"] == "note"
    page = api.get(f"/v1/alerts/{fp}/notes", params={"limit": 2}, headers=AN).json()
    assert page["total"] == 3
    assert [e["note"] for e in page["items"]] == ["note 2", "note 1"]
    rest = api.get(f"/v1/alerts/{fp}/notes", params={"offset": 2}, headers=AN).json()
    assert [e["note"] for e in rest["items"]] == ["note 0"]
    detail = api.get(f"/v1/alerts/{fp}", headers=AN).json()
    assert detail["trail_total"] == 3
    assert detail["status"] == "firing"  # a note changes no status
    assert api.post(f"/v1/alerts/{fp}/notes", json={}, headers=AN).status_code == 422
    assert api.post(f"/v1/alerts/{fp}/notes", json={"note": ""}, headers=AN).status_code == 422
    big = {"note": "x" * 2001}
    assert api.post(f"/v1/alerts/{fp}/notes", json=big, headers=AN).status_code == 422
    assert api.post(f"/v1/alerts/{fp}/acknowledge", json=big, headers=AN).status_code == 422
    bad = b'{"note": "\\ud800"}'
    r = api.post(
        f"/v1/alerts/{fp}/notes", content=bad, headers={**AN, "content-type": "application/json"}
    )
    assert r.status_code == 422


def test_bulk_acknowledge(api: TestClient) -> None:
    a, b = untouched(api, 2)
    missing = "0123456789abcdef"
    body = {"fingerprints": [a["fingerprint"], b["fingerprint"], missing], "note": "batch"}
    r = api.post("/v1/alerts/acknowledge", json=body, headers=AN)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["acknowledged"] == 2
    results = {x["fingerprint"]: x["result"] for x in out["results"]}
    assert results == {
        a["fingerprint"]: "acknowledged",
        b["fingerprint"]: "acknowledged",
        missing: "not_found",
    }
    again = api.post(
        "/v1/alerts/acknowledge", json={"fingerprints": [a["fingerprint"]]}, headers=AN
    )
    assert again.json()["results"][0]["result"] == "conflict"
    trail = api.get(f"/v1/alerts/{b['fingerprint']}/notes", headers=AN).json()["items"]
    assert trail[0]["action"] == "acknowledge" and trail[0]["note"] == "batch"
    for bad in ({"fingerprints": []}, {"fingerprints": ["nope"]}, {}):
        assert api.post("/v1/alerts/acknowledge", json=bad, headers=AN).status_code == 422


def test_status_filter_after_transitions(api: TestClient) -> None:
    (alert,) = untouched(api)
    fp = alert["fingerprint"]
    api.post(f"/v1/alerts/{fp}/acknowledge", headers=AN)
    acked = api.get("/v1/alerts", params={"status": "acknowledged", "limit": 500}, headers=AN)
    assert fp in {a["fingerprint"] for a in acked.json()["items"]}
    assert all(a["status"] == "acknowledged" for a in acked.json()["items"])
    firing = {a["fingerprint"] for a in _firing(api)}
    assert fp not in firing


def test_csv_export(api: TestClient) -> None:
    r = api.get("/v1/alerts.csv", params={"severity": "critical"}, headers=AN)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    listed = api.get("/v1/alerts", params={"severity": "critical", "limit": 500}, headers=AN)
    assert len(rows) == listed.json()["total"] >= 1
    assert rows[0]["fingerprint"] == listed.json()["items"][0]["fingerprint"]
    assert {r["severity"] for r in rows} == {"critical"}
    assert api.get("/v1/alerts.csv", headers=auth("gateway")).status_code == 403


def test_not_found_and_validation(api: TestClient) -> None:
    missing = "ffffffffffffffff"
    assert api.get(f"/v1/alerts/{missing}", headers=AN).status_code == 404
    assert api.get(f"/v1/alerts/{missing}/notes", headers=AN).status_code == 404
    for action in ("acknowledge", "resolve", "false-positive"):
        assert api.post(f"/v1/alerts/{missing}/{action}", headers=AN).status_code == 404
    assert (
        api.post(f"/v1/alerts/{missing}/notes", json={"note": "x"}, headers=AN).status_code == 404
    )
    assert api.get("/v1/alerts/not-a-fingerprint", headers=AN).status_code == 422
    for params in (
        {"status": "bogus"},
        {"limit": 0},
        {"limit": 501},
        {"offset": -1},
        {"sort": "nope"},
        {"severity": "loud"},
    ):
        assert api.get("/v1/alerts", params=params, headers=AN).status_code == 422, params
    fp = _firing(api, 1)[0]["fingerprint"]
    r = api.post(f"/v1/alerts/{fp}/acknowledge", json={"extra": 1}, headers=AN)
    assert r.status_code == 422


def test_auth(api: TestClient) -> None:
    fp = _firing(api, 1)[0]["fingerprint"]
    assert api.get("/v1/alerts").status_code == 401
    assert api.get("/v1/alerts", headers={"Authorization": "Bearer wrong"}).status_code == 401
    gw = auth("gateway")
    assert api.get("/v1/alerts", headers=gw).status_code == 403
    assert api.get(f"/v1/alerts/{fp}", headers=gw).status_code == 403
    assert api.post(f"/v1/alerts/{fp}/acknowledge", headers=gw).status_code == 403
    assert api.post(f"/v1/alerts/{fp}/notes", json={"note": "x"}, headers=gw).status_code == 403
    assert api.post(f"/v1/alerts/{fp}/acknowledge").status_code == 401
    # admins hold every scope; still firing: nothing was changed by the refused calls
    assert api.get(f"/v1/alerts/{fp}", headers=auth("admin")).json()["status"] == "firing"


def test_openapi_documents_alerts(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/v1/alerts",
        "/v1/alerts.csv",
        "/v1/alerts/acknowledge",
        "/v1/alerts/{fingerprint}",
        "/v1/alerts/{fingerprint}/acknowledge",
        "/v1/alerts/{fingerprint}/resolve",
        "/v1/alerts/{fingerprint}/false-positive",
        "/v1/alerts/{fingerprint}/notes",
    ):
        assert path in paths, path
    ack = paths["/v1/alerts/{fingerprint}/acknowledge"]["post"]
    assert {"404", "409", "422"} <= set(ack["responses"])
