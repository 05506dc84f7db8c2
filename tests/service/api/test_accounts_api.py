"""``/v1/accounts``: ranking, detail, history, features, confirmed blocks."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.redis_keys import Keys
from service.store.score_record import ScoreRecord, write_score
from tests.service.api.conftest import PREFIX, Populated, auth, service_settings
from tests.service.api.test_alerts_api import untouched

pytestmark = pytest.mark.redis

AN = auth("analyst")


def _accounts(api: TestClient, **params: Any) -> dict[str, Any]:
    r = api.get("/v1/accounts", params={"limit": 500, **params}, headers=AN)
    assert r.status_code == 200, r.text
    return r.json()


def test_list_by_risk(api: TestClient, populated: Populated) -> None:
    body = _accounts(api)
    client = populated.client()
    assert body["total"] == client.zcard(Keys(PREFIX).risk) >= 100
    client.close()
    risks = [a["risk"] for a in body["items"]]
    assert risks == sorted(risks, reverse=True)
    assert risks[0] > 0.5
    p2 = _accounts(api, limit=10, offset=10)
    assert [a["account_id"] for a in p2["items"]] == [a["account_id"] for a in body["items"][10:20]]


def test_list_filters(api: TestClient) -> None:
    blocked = _accounts(api, action="block")
    assert blocked["total"] >= 1
    assert all(a["action"] == "block" for a in blocked["items"])
    allowed = _accounts(api, action="allow", limit=5)
    assert allowed["total"] >= 1 and len(allowed["items"]) <= 5
    assert all(a["action"] == "allow" for a in allowed["items"])
    high = _accounts(api, min_risk=0.8)
    assert high["total"] >= 1
    assert all(a["risk"] >= 0.8 for a in high["items"])
    assert _accounts(api, min_risk=1.0)["total"] <= high["total"]
    for params in ({"min_risk": 2}, {"action": "nuke"}, {"limit": 0}, {"offset": -3}):
        assert api.get("/v1/accounts", params=params, headers=AN).status_code == 422


def test_account_detail(api: TestClient) -> None:
    top = _accounts(api, action="block", limit=1)["items"][0]
    r = api.get(f"/v1/accounts/{top['account_id']}", headers=AN)
    assert r.status_code == 200
    d = r.json()
    assert d["known"] is True
    assert d["action"] in ("block", "allow")  # allow only if a test marked it FP
    assert d["features"]["n_events"] == d["n_events"] > 0
    assert d["rule_hits"]["reasons"] == d["reasons"]
    assert d["rule_hits"]["rule_ids"] == d["rule_ids"]
    assert d["reasons"]
    assert d["model_version"]


def test_account_in_cluster_links_members(api: TestClient) -> None:
    clustered = [a for a in _accounts(api)["items"] if a["cluster_id"]]
    assert clustered, "the replay should link some accounts into clusters"
    acct = clustered[0]
    d = api.get(f"/v1/accounts/{acct['account_id']}", headers=AN).json()
    assert d["cluster"]["cluster_id"] == acct["cluster_id"]
    linked = d["cluster"]["linked_accounts"]
    assert linked and acct["account_id"] not in linked
    assert d["cluster"]["size"] >= len(linked) + 1


def test_open_alert_on_account(api: TestClient) -> None:
    alert = api.get("/v1/alerts", params={"status": "firing"}, headers=AN).json()["items"][0]
    d = api.get(f"/v1/accounts/{alert['account_id']}", headers=AN).json()
    assert d["open_alert"] == alert["fingerprint"]


def test_history(api: TestClient, populated: Populated) -> None:
    acct = _accounts(api, limit=1)["items"][0]["account_id"]
    r = api.get(f"/v1/accounts/{acct}/history", headers=AN)
    assert r.status_code == 200
    h = r.json()
    client = populated.client()
    assert h["total"] == client.llen(Keys(PREFIX).history(acct)) >= 1
    client.close()
    snap = h["items"][0]
    assert 0.0 <= snap["risk"] <= 1.0
    assert snap["action"] in ("allow", "review", "throttle", "block")
    assert isinstance(snap["features"], dict)
    assert api.get("/v1/accounts/nobody-here/history", headers=AN).status_code == 404


def test_history_read_defensively(redis_server: Any, fresh_prefix: str) -> None:
    settings = service_settings(redis_server.url, prefix=fresh_prefix)
    keys = Keys(fresh_prefix)
    client = redis_server.client()
    write_score(client, keys, "acct-h", ScoreRecord(0.4, "review"))
    hkey = keys.history("acct-h")
    client.rpush(
        hkey,
        orjson.dumps(
            {
                "t": 2.0,
                "as_of": 1.0,
                "risk": 0.4,
                "action": "review",
                "rule_ids": ["r1"],
                "n_events": 7,
                "features": {"x": 1.5, "y": None},
            }
        ),
        b"not json",
        orjson.dumps([1, 2]),
        orjson.dumps({"risk": "nan?", "rule_ids": "a,b"}),
    )
    with TestClient(create_app(settings)) as api:
        h = api.get("/v1/accounts/acct-h/history", headers=AN).json()
    assert h["total"] == 4
    assert len(h["items"]) == 2
    assert h["items"][0]["rule_ids"] == ["r1"]
    assert h["items"][0]["features"] == {"x": 1.5}
    assert h["items"][1]["rule_ids"] == ["a", "b"]
    assert h["items"][1]["risk"] == 0.0
    client.close()


def test_features_with_percentiles(api: TestClient) -> None:
    acct = _accounts(api, action="block", limit=1)["items"][0]["account_id"]
    r = api.get(f"/v1/accounts/{acct}/features", headers=AN)
    assert r.status_code == 200
    f = r.json()
    assert f["n_accounts"] >= 100
    rows = {row["name"]: row for row in f["features"]}
    assert "n_events" in rows
    n = rows["n_events"]
    assert n["p50"] is not None and n["p50"] <= n["p90"] <= n["p99"]
    assert n["band"] in ("at or below p50", "p50-p90", "p90-p99", "above p99")
    assert api.get("/v1/accounts/nobody-here/features", headers=AN).status_code == 404


def test_unknown_account(api: TestClient) -> None:
    assert api.get("/v1/accounts/nobody-here", headers=AN).status_code == 404
    assert api.post("/v1/accounts/nobody-here/confirm-block", headers=AN).status_code == 404
    assert api.delete("/v1/accounts/nobody-here/decision", headers=AN).status_code == 404
    assert api.get("/v1/accounts/%01bad", headers=AN).status_code == 422
    assert api.get("/v1/accounts/" + "a" * 300, headers=AN).status_code == 422


def test_confirm_block_and_clear(api: TestClient, populated: Populated) -> None:
    (alert,) = untouched(api)
    acct, fp = alert["account_id"], alert["fingerprint"]
    gw = auth("gateway")
    r = api.post(f"/v1/accounts/{acct}/confirm-block", json={"note": "confirmed"}, headers=AN)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["action"] == "block" and d["by"] == "test-analyst" and d["alert"] == fp
    assert d["at"].endswith("Z")
    client = populated.client()
    keys = Keys(PREFIX)
    stored = client.hgetall(keys.decision(acct))
    assert stored[b"action"] == b"block" and stored[b"note"] == b"confirmed"
    assert client.zscore(keys.decisions, acct) is not None
    detail = api.get(f"/v1/accounts/{acct}", headers=AN).json()
    assert detail["decision"]["by"] == "test-analyst"
    decision = api.post("/v1/score", json={"account_id": acct}, headers=gw).json()
    assert decision["action"] == "block" and decision["source"] == "analyst"
    trail = api.get(f"/v1/alerts/{fp}/notes", headers=AN).json()["items"]
    assert trail[0]["action"] == "confirm_block" and trail[0]["note"] == "confirmed"

    r = api.request("DELETE", f"/v1/accounts/{acct}/decision", json={"note": "undo"}, headers=AN)
    assert r.status_code == 200
    assert r.json()["removed"]["action"] == "block"
    assert not client.exists(keys.decision(acct))
    assert client.zscore(keys.decisions, acct) is None
    assert api.get(f"/v1/accounts/{acct}", headers=AN).json()["decision"] is None
    trail = api.get(f"/v1/alerts/{fp}/notes", headers=AN).json()["items"]
    assert trail[0]["action"] == "clear_decision" and trail[0]["note"] == "undo"
    assert api.delete(f"/v1/accounts/{acct}/decision", headers=AN).status_code == 404
    client.close()


def test_account_auth(api: TestClient) -> None:
    acct = _accounts(api, limit=1)["items"][0]["account_id"]
    gw = auth("gateway")
    assert api.get("/v1/accounts").status_code == 401
    assert api.get("/v1/accounts", headers=gw).status_code == 403
    assert api.get(f"/v1/accounts/{acct}", headers=gw).status_code == 403
    assert api.get(f"/v1/accounts/{acct}/history", headers=gw).status_code == 403
    assert api.get(f"/v1/accounts/{acct}/features", headers=gw).status_code == 403
    assert api.post(f"/v1/accounts/{acct}/confirm-block", headers=gw).status_code == 403
    assert api.delete(f"/v1/accounts/{acct}/decision", headers=gw).status_code == 403
    assert api.post(f"/v1/accounts/{acct}/confirm-block").status_code == 401
