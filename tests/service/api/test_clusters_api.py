"""``/v1/clusters``: clusters found by linking the replayed accounts."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.redis_keys import Keys
from service.store.score_record import ScoreRecord, write_score
from tests.service.api.conftest import PREFIX, Populated, auth, service_settings

pytestmark = pytest.mark.redis

AN = auth("analyst")


def _clusters(api: TestClient, **params: Any) -> dict[str, Any]:
    r = api.get("/v1/clusters", params=params, headers=AN)
    assert r.status_code == 200, r.text
    return r.json()


def test_replay_has_clusters(api: TestClient, populated: Populated) -> None:
    body = _clusters(api)
    client = populated.client()
    assert body["total"] == client.hlen(Keys(PREFIX).clusters) >= 1
    client.close()
    first = body["items"][0]
    assert first["size"] >= 2 and first["members"]
    assert first["reason"] and first["evidence"]
    assert first["as_of"] is not None


def test_sort_and_page(api: TestClient) -> None:
    by_risk = _clusters(api)["items"]
    assert [c["risk"] for c in by_risk] == sorted((c["risk"] for c in by_risk), reverse=True)
    by_size = _clusters(api, sort="size", order="asc")["items"]
    assert [c["size"] for c in by_size] == sorted(c["size"] for c in by_size)
    page = _clusters(api, limit=1, offset=0)
    assert len(page["items"]) == 1 and page["total"] == len(by_risk)
    assert api.get("/v1/clusters", params={"sort": "age"}, headers=AN).status_code == 422
    assert api.get("/v1/clusters", params={"limit": 0}, headers=AN).status_code == 422


def test_cluster_detail(api: TestClient, populated: Populated) -> None:
    cid = _clusters(api)["items"][0]["cluster_id"]
    r = api.get(f"/v1/clusters/{cid}", headers=AN)
    assert r.status_code == 200
    d = r.json()
    assert d["cluster_id"] == cid
    assert len(d["members"]) == d["size"]
    client = populated.client()
    keys = Keys(PREFIX)
    for m in d["members"]:
        stored = client.hmget(keys.score(m["account_id"]), "action", "n_events")
        if stored[0] is not None:
            assert m["action"] == stored[0].decode()
            assert m["n_events"] == int(stored[1])
    client.close()
    assert d["volume"] == sum(m["n_events"] for m in d["members"]) > 0
    assert d["edges"], "a linked cluster has links"
    members = {m["account_id"] for m in d["members"]}
    for e in d["edges"]:
        assert e["a"] in members and e["b"] in members
        assert e["evidence"] and e["weight"] > 0
    # members are the accounts pointing at the cluster
    acct = d["members"][0]["account_id"]
    assert api.get(f"/v1/accounts/{acct}", headers=AN).json()["cluster_id"] == cid


def test_unknown_cluster(api: TestClient) -> None:
    assert api.get("/v1/clusters/c-0000000000", headers=AN).status_code == 404
    assert api.get("/v1/clusters/" + "c" * 200, headers=AN).status_code == 422


def test_handmade_cluster(redis_server: Any, fresh_prefix: str) -> None:
    """Members without a verdict and malformed edges are shown, never a 500."""
    keys = Keys(fresh_prefix)
    client = redis_server.client()
    doc = {
        "cluster_id": "c-abc",
        "size": 3,
        "members": ["m1", "m2", "m3"],
        "risk": 0.8,
        "action": "block",
        "reason": "shared template",
        "evidence": ["e1"],
        "features": {"volume": 12.0},
        "first_ts": 1.0,
        "last_ts": 2.0,
        "edges": [["m1", "m2", 0.9, ["same /24"]], ["bad"], ["m2", "m3", 0.5]],
        "as_of": 3.0,
    }
    client.hset(keys.clusters, mapping={"c-abc": orjson.dumps(doc), "c-bad": b"{oops"})
    write_score(client, keys, "m1", ScoreRecord(0.9, "block", n_events=10))
    write_score(client, keys, "m2", ScoreRecord(0.7, "review", n_events=5))
    with TestClient(create_app(service_settings(redis_server.url, prefix=fresh_prefix))) as api:
        listed = api.get("/v1/clusters", headers=AN).json()
        assert [c["cluster_id"] for c in listed["items"]] == ["c-abc"]
        d = api.get("/v1/clusters/c-abc", headers=AN).json()
        assert api.get("/v1/clusters/c-bad", headers=AN).status_code == 404
    assert [m["account_id"] for m in d["members"]] == ["m1", "m2", "m3"]
    assert d["members"][2] == {
        "account_id": "m3",
        "risk": None,
        "action": None,
        "n_events": 0,
        "suppressed": False,
        "known": False,
    }
    assert d["volume"] == 15
    assert [(e["a"], e["b"]) for e in d["edges"]] == [("m1", "m2"), ("m2", "m3")]
    assert d["edges"][1]["evidence"] == []
    client.close()


def test_cluster_auth(api: TestClient) -> None:
    assert api.get("/v1/clusters").status_code == 401
    assert api.get("/v1/clusters", headers=auth("gateway")).status_code == 403
    assert api.get("/v1/clusters/c-1", headers=auth("gateway")).status_code == 403
