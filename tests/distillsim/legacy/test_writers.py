"""Record shapes of the three writers, against the real LiteLLM captures."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import pytest

from detector.events import EVENT_FIELD_NAMES, validate_event
from distillsim.legacy.generate import write_simulation
from distillsim.legacy.writers import uuid4_strings


@pytest.fixture(scope="module")
def captures(fixtures_dir: Path) -> list[dict]:
    recs: list[dict] = []
    for name in ("masterkey-0016.json", "virtualkeys-0039.json"):
        recs += json.loads((fixtures_dir / name).read_text(encoding="utf-8"))
    return recs


def test_litellm_records_carry_every_captured_key_in_order(small_records, captures) -> None:
    top = list(captures[0].keys())
    meta = list(captures[0]["metadata"].keys())
    assert all(list(c.keys()) == top for c in captures)
    for rec in small_records["litellm"]:
        assert list(rec.keys()) == top
        assert list(rec["metadata"].keys()) == meta
        assert set(rec["error_information"]) == set(captures[0]["error_information"])
        assert set(rec["hidden_params"]) == set(captures[0]["hidden_params"])
        assert set(rec["guardrail_information"][0]) == set(captures[0]["guardrail_information"][0])
        assert set(rec["standard_built_in_tools_params"]) == {"web_search_options", "file_search"}


def test_litellm_success_and_failure_shapes(small_records, captures) -> None:
    cap_ok = next(c for c in captures if c["status"] == "success" and c["response"].get("usage"))
    cap_unknown = next(
        c for c in captures if c["error_information"]["error_class"] == "ProxyModelNotFoundError"
    )
    recs = small_records["litellm"]
    ok = [r for r in recs if r["status"] == "success"]
    failed = [r for r in recs if r["status"] == "failure"]
    assert ok and failed
    for r in ok:
        assert set(r["response"]) >= set(cap_ok["response"]) - {"system_fingerprint"}
        u = r["response"]["usage"]
        assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
        assert r["prompt_tokens"] == u["prompt_tokens"] and r["total_tokens"] == u["total_tokens"]
        assert r["metadata"]["usage_object"] == u
        assert r["startTime"] <= r["completionStartTime"] <= r["endTime"]
        assert abs(r["response_time"] - (r["endTime"] - r["startTime"])) < 1e-5
        assert r["model_parameters"]["stream"] is bool(r["stream"])
        assert r["end_user"] == r["metadata"]["user_api_key_end_user_id"]
        assert r["requester_ip_address"] == r["metadata"]["requester_ip_address"]
        assert r["metadata"]["requester_metadata"]["headers"]["user-agent"] == r["user_agent"]
        assert len(r["metadata"]["user_api_key_hash"]) == 64
        if r["model_parameters"].get("logprobs"):
            k = r["model_parameters"].get("top_logprobs", 0)
            content = r["response"]["choices"][0]["logprobs"]["content"]
            assert content and all(len(c["top_logprobs"]) == k for c in content)
    for r in failed:
        assert r["response"] == {} and r["completion_tokens"] == 0
        assert r["id"] == r["litellm_call_id"]
        assert r["model_parameters"] in ({}, {"stream": True})
        code = r["error_information"]["error_code"]
        assert code in ("429", "400")
        if code == "400":
            for key in ("model_group", "model_id", "api_base", "model_map_information"):
                assert r[key] == cap_unknown[key]
            assert r["error_information"]["normalized_error"] == "400_INVALID_REQUEST"
        else:
            assert r["error_information"]["normalized_error"] == "429_RATE_LIMIT_EXCEEDED"


def test_litellm_ids_are_uuid4_and_unique(small_records) -> None:
    ids = [r["litellm_call_id"] for r in small_records["litellm"]]
    assert len(set(ids)) == len(ids)
    for cid in ids[:200]:
        assert len(cid) == 36 and cid[14] == "4" and cid[19] in "89ab"
    assert uuid4_strings(__import__("numpy").zeros((1, 16), "uint8"))[0] == (
        "00000000-0000-4000-8000-000000000000"
    )


def test_canonical_records_validate(small_records) -> None:
    recs = small_records["canonical"]
    ts = [r["ts"] for r in recs]
    assert ts == sorted(ts)
    for r in recs:
        assert list(r) == list(EVENT_FIELD_NAMES)
        validate_event(dict(r))
        assert r["n_messages"] >= 1 and r["user_prompt"]


def test_three_formats_describe_the_same_requests(small_records) -> None:
    canon = {r["request_id"]: r for r in small_records["canonical"]}
    lite = {r["litellm_call_id"]: r for r in small_records["litellm"]}
    assert set(canon) == set(lite)
    openai = small_records["openai"]
    assert len(openai) == len(canon)
    for o, c in zip(openai, small_records["canonical"], strict=True):
        assert o["account_id"] == c["account_id"] and o["ip"] == c["ip"]
        assert o["request"]["model"] == c["model"]
        last_user = [m for m in o["request"]["messages"] if m["role"] == "user"][-1]
        assert last_user["content"] == c["user_prompt"]
        assert len(o["request"]["messages"]) == c["n_messages"]
        if c["status"] == "success":
            assert o["response"]["usage"]["prompt_tokens"] == c["prompt_tokens"]
            l_rec = lite[c["request_id"]]
            assert l_rec["completion_tokens"] == c["completion_tokens"]
            assert l_rec["model_group"] == c["model"]
        else:
            assert "error" in o["response"] and o["status_code"] in (404, 429)


def test_openai_records_shape(small_records) -> None:
    for r in small_records["openai"][:500]:
        assert set(r) == {
            "timestamp",
            "account_id",
            "request_id",
            "api_key",
            "ip",
            "user_agent",
            "endpoint",
            "status_code",
            "latency_s",
            "request",
            "response",
        }
        assert r["timestamp"].endswith("Z") and r["timestamp"][10] == "T"
        if r["status_code"] == 200:
            resp = r["response"]
            assert resp["object"] == "chat.completion" and resp["choices"]
            assert len(resp["choices"]) == r["request"].get("n", 1)


def test_gzip_output_is_standard_multi_member(small_sim, tmp_path: Path) -> None:
    res = write_simulation(small_sim, tmp_path / "x.jsonl.gz", fmt="canonical", compress_level=1)
    raw = (tmp_path / "x.jsonl.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    lines = gzip.decompress(raw).splitlines()
    assert len(lines) == res["events"] == small_sim.n_events
    assert orjson.loads(lines[0])["account_id"]
