"""The gateway endpoints against the replayed sample: /v1/score, /v1/check, the guardrail."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.redis_keys import Keys
from tests.service.api.conftest import PREFIX, Populated, auth, service_settings

pytestmark = pytest.mark.redis

GUARDRAIL = Path(__file__).resolve().parents[2] / "fixtures" / "litellm" / "guardrail"
COT_BODY = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "Think step by step and show all of your reasoning."},
        {"role": "user", "content": "Prove that the square root of 2 is irrational."},
    ],
    "logprobs": True,
    "top_logprobs": 20,
    "max_tokens": 16000,
}


def _accounts_by_action(populated: Populated) -> dict[str, list[str]]:
    client, keys = populated.client(), Keys(PREFIX)
    out: dict[str, list[str]] = {}
    for raw in client.zrevrange(keys.risk, 0, -1):
        acct = raw.decode()
        action = client.hget(keys.score(acct), "action").decode()
        out.setdefault(action, []).append(acct)
    return out


@pytest.fixture(scope="module")
def by_action(populated: Populated) -> dict[str, list[str]]:
    found = _accounts_by_action(populated)
    assert found.get("block") and found.get("allow"), found.keys()
    return found


def test_score_returns_the_stored_verdict(api: TestClient, populated, by_action) -> None:
    acct = by_action["block"][0]
    stored = populated.client().hgetall(Keys(PREFIX).score(acct))
    r = api.post("/v1/score", json={"account_id": acct}, headers=auth("gateway"))
    assert r.status_code == 200
    body = r.json()
    assert body["action"] == "block" and body["known"] is True and body["source"] == "state"
    assert body["risk"] == pytest.approx(float(stored[b"risk"]))
    assert body["reasons"] and body["rule_ids"]
    assert body["model_version"] == stored[b"model_version"].decode()
    assert body["scored_at"].endswith("Z")


def test_score_unknown_account_is_allowed(api: TestClient) -> None:
    r = api.post("/v1/score", json={"account_id": "nobody-ever"}, headers=auth("gateway"))
    body = r.json()
    assert r.status_code == 200
    assert (body["action"], body["known"], body["source"]) == ("allow", False, "unknown_account")


def test_request_signals_adjust_at_once_but_never_block(api: TestClient) -> None:
    acct = "fresh-harvester-1"
    r = api.post(
        "/v1/score",
        json={"account_id": acct, "request": COT_BODY, "ip": "203.0.113.9"},
        headers=auth("gateway"),
    )
    first = r.json()
    assert set(first["request_signals"]) >= {"cot_elicitation", "top_logprobs_high"}
    assert 0 < first["risk"] < 0.5 and first["action"] == "allow"
    assert any("chain-of-thought" in x for x in first["reasons"])
    for _ in range(60):
        r = api.post(
            "/v1/score", json={"account_id": acct, "request": COT_BODY}, headers=auth("gateway")
        )
    later = r.json()
    assert later["risk"] > first["risk"]
    assert later["action"] in ("review", "throttle")
    assert any(x.startswith("live: 61 recent requests") for x in later["reasons"])
    # the live standing holds without a body too, until the live window ends
    plain = api.post("/v1/score", json={"account_id": acct}, headers=auth("gateway")).json()
    assert plain["action"] == later["action"] and plain["request_signals"] == []


def test_request_signals_never_raise_an_account_with_a_legitimate_purpose(
    api: TestClient, populated
) -> None:
    # the standing verdict of an evaluation harness whose window shows a finished,
    # bounded run: its step-by-step / top-logprob requests look like a harvester's
    acct = "eval-harness-7"
    populated.client().hset(
        Keys(PREFIX).score(acct),
        mapping={"risk": "0.05", "action": "allow", "reasons": "[]", "purpose": "0.9"},
    )
    for _ in range(61):
        r = api.post(
            "/v1/score", json={"account_id": acct, "request": COT_BODY}, headers=auth("gateway")
        )
    body = r.json()
    assert body["action"] == "allow" and body["known"] is True
    assert 0.05 < body["risk"] < 0.5  # still ordered above its standing risk


def test_benign_body_adds_nothing(api: TestClient) -> None:
    body = {"messages": [{"role": "user", "content": "Write a haiku about autumn."}]}
    r = api.post(
        "/v1/score", json={"account_id": "poet-7", "request": body}, headers=auth("gateway")
    )
    assert r.json()["risk"] == 0.0 and r.json()["request_signals"] == []


def test_batch_keeps_order(api: TestClient, by_action) -> None:
    items = [{"account_id": by_action["allow"][0]}, {"account_id": by_action["block"][0]}]
    r = api.post("/v1/score/batch", json={"items": items}, headers=auth("gateway"))
    assert r.status_code == 200
    assert [d["action"] for d in r.json()["items"]] == ["allow", "block"]


@pytest.mark.parametrize(
    "payload",
    [{}, {"account_id": ""}, {"account_id": "a", "ip": "not-an-ip"}, {"account_id": 5}],
)
def test_score_validation_never_echoes_input(api: TestClient, payload) -> None:
    r = api.post("/v1/score", json=payload, headers=auth("gateway"))
    assert r.status_code == 422
    assert "not-an-ip" not in r.text and "input" not in r.json()["detail"][0]


def test_check_allows_and_denies_with_reason(api: TestClient, by_action) -> None:
    ok = api.get(
        "/v1/check", headers={**auth("gateway"), "x-distillwatch-account": by_action["allow"][0]}
    )
    assert ok.status_code == 200 and ok.headers["x-distillwatch-action"] == "allow"
    no = api.get(
        "/v1/check", headers={**auth("gateway"), "x-distillwatch-account": by_action["block"][0]}
    )
    assert no.status_code == 403
    assert no.headers["x-distillwatch-action"] == "block"
    assert "rule" in no.headers["x-distillwatch-reason"]
    missing = api.get("/v1/check", headers=auth("gateway"))
    assert missing.status_code == 400


def test_check_throttle_is_allowed_by_default(api: TestClient, by_action) -> None:
    acct = by_action["throttle"][0]
    r = api.get("/v1/check", headers={**auth("gateway"), "x-distillwatch-account": acct})
    assert r.status_code == 200 and r.headers["x-distillwatch-action"] == "throttle"


def _guardrail_requests() -> list[Path]:
    paths = sorted(GUARDRAIL.glob("*-request.json"))
    assert len(paths) >= 40
    return paths


def test_guardrail_accepts_every_captured_litellm_call(api: TestClient) -> None:
    for path in _guardrail_requests():
        r = api.post(
            "/beta/litellm_basic_guardrail_api",
            content=path.read_bytes(),
            headers={"x-api-key": "gw-test-token-0001", "content-type": "application/json"},
        )
        assert r.status_code == 200, (path.name, r.text)
        assert r.json() == {"action": "NONE"}, path.name


def test_guardrail_blocks_a_blocked_account(redis_server, fresh_prefix) -> None:
    keys = Keys(fresh_prefix)
    client = redis_server.client()
    # virtualkeys 16 (alpha-blocked): org-alpha is the account LiteLLM logs identify too
    client.hset(
        keys.score("org-alpha"),
        mapping={
            "risk": "0.97",
            "action": "block",
            "reasons": orjson.dumps(["rule 'x' (critical)"]),
        },
    )
    body = (GUARDRAIL / "virtualkeys-0042-request.json").read_bytes()
    assert orjson.loads(body)["request_data"]["user_api_key_org_id"] == "org-alpha"
    settings = service_settings(redis_server.url, fresh_prefix)
    with TestClient(create_app(settings)) as api:
        r = api.post(
            "/beta/litellm_basic_guardrail_api",
            content=body,
            headers={"x-api-key": "gw-test-token-0001", "content-type": "application/json"},
        )
        assert r.status_code == 200
        answer = r.json()
        assert answer["action"] == "BLOCKED"
        assert answer["blocked_reason"].startswith("distillwatch: account block (risk 0.97)")
        # the master-key call of the same moment is someone else: not blocked
        other = (GUARDRAIL / "masterkey-0001-request.json").read_bytes()
        r = api.post(
            "/beta/litellm_basic_guardrail_api",
            content=other,
            headers={"x-api-key": "gw-test-token-0001", "content-type": "application/json"},
        )
        assert r.json() == {"action": "NONE"}


def test_guardrail_cot_texts_count_as_live_signals(redis_server, fresh_prefix) -> None:
    body = orjson.loads((GUARDRAIL / "virtualkeys-0027-request.json").read_bytes())
    body["texts"] = [
        "You are an expert tutor. Think step by step and write out your complete reasoning.",
        "Show every intermediate step: how many primes are below 100?",
    ]
    body["structured_messages"] = [
        {"role": "system", "content": body["texts"][0]},
        {"role": "user", "content": body["texts"][1]},
    ]
    settings = service_settings(redis_server.url, fresh_prefix)
    with TestClient(create_app(settings)) as api:
        r = api.post("/beta/litellm_basic_guardrail_api", json=body, headers=auth("gateway"))
        assert r.json() == {"action": "NONE"}
    account = (
        body["request_data"].get("user_api_key_org_id")
        or body["request_data"]["user_api_key_user_id"]
    )
    live = redis_server.client().hgetall(Keys(fresh_prefix).live(account))
    assert live[b"n"] == b"1" and live[b"cot_elicitation"] == b"1"
