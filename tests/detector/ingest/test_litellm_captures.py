"""Exact mapping of real LiteLLM 1.108.7 log records (tests/fixtures/litellm) to events."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from detector.events import EVENT_FIELD_NAMES
from detector.ingest import (
    iter_event_chunks,
    litellm_to_event,
    parse_payload,
    read_events,
)
from tests.detector.ingest.helpers import LITELLM, by_request_prefix

MASTER = "litellm_proxy_master_key"
ALPHA_KEY = "546463fc7688b2e70a9fe15d9071ae35e4c1cd7d8a140bbea4662d0aa3e44617"
GAMMA_KEY = "ab28fb9d3544586abcddba62a294bee74633e4f281b53798c27ec01bcf4c3bd0"
COT_SYSTEM = (
    "You are an expert tutor. Think step by step and write out your complete reasoning "
    "before the final answer. Never skip steps; show every intermediate calculation."
)


@pytest.fixture(scope="module")
def events() -> dict[str, dict[str, Any]]:
    evs, quarantined = read_events(LITELLM / "logging")
    assert quarantined == []
    assert len(evs) == 37
    return by_request_prefix(evs)


def _raw_records(name: str) -> list[dict[str, Any]]:
    return orjson.loads((LITELLM / "logging" / name).read_bytes())


def test_every_event_has_exactly_the_canonical_fields(events: dict[str, dict[str, Any]]) -> None:
    for event in events.values():
        assert tuple(event) == EVENT_FIELD_NAMES


def test_master_key_record_full_mapping(events: dict[str, dict[str, Any]]) -> None:
    # masterkey request 02: logprobs with top_logprobs 5, max_tokens 1, temperature 0
    assert events["95758078"] == {
        "ts": 1795875620.626188,
        "request_id": "95758078-dd46-4129-bbb1-1938aee4a71e",
        "account_id": "default_user_id",
        "api_key": MASTER,
        "end_user": "end-user-0002",
        "ip": "127.0.0.1",
        "user_agent": "OpenAI/Python 3.57.0",
        "endpoint": "/v1/chat/completions",
        "model": "local-gpt",
        "status": "success",
        "latency_s": pytest.approx(0.029813051223754883),
        "prompt_tokens": 11,
        "completion_tokens": 1,
        "reasoning_tokens": 0,
        "temperature": 0.0,
        "top_p": None,
        "n": 1,
        "max_tokens": 1,
        "logprobs": True,
        "top_logprobs": 5,
        "logit_bias_size": 0,
        "seed": False,
        "stream": False,
        "tools_count": 0,
        "response_format": None,
        "n_messages": 1,
        "system_prompt": None,
        "user_prompt": "Complete the sentence: The quick brown fox",
        "finish_reason": "length",
    }


def test_virtual_key_record_full_mapping(events: dict[str, dict[str, Any]]) -> None:
    # virtualkeys request 11: gamma (user only, no team/org), n=2, max_tokens 4096, CoT prompt
    assert events["56b1ac2a"] == {
        "ts": 1795875661.157986,
        "request_id": "56b1ac2a-74be-43aa-a6e3-47b2e6c90546",
        "account_id": "user-gamma-1",
        "api_key": GAMMA_KEY,
        "end_user": None,
        "ip": "127.0.0.1",
        "user_agent": "OpenAI/Python 3.57.0",
        "endpoint": "/v1/chat/completions",
        "model": "local-gpt",
        "status": "success",
        "latency_s": pytest.approx(0.00537419319152832),
        "prompt_tokens": 52,
        "completion_tokens": 48,
        "reasoning_tokens": 0,
        "temperature": 0.9,
        "top_p": None,
        "n": 2,
        "max_tokens": 4096,
        "logprobs": False,
        "top_logprobs": 0,
        "logit_bias_size": 0,
        "seed": False,
        "stream": False,
        "tools_count": 0,
        "response_format": None,
        "n_messages": 2,
        "system_prompt": COT_SYSTEM,
        "user_prompt": "Prove that the square root of 2 is irrational.",
        "finish_reason": "stop",
    }


def test_account_chain_org_then_user(events: dict[str, dict[str, Any]]) -> None:
    assert events["16e734de"]["account_id"] == "org-alpha"  # alpha-batch key, org set
    assert events["ab2d925f"]["account_id"] == "org-alpha"  # alpha-eval key, same org
    assert events["16e734de"]["api_key"] == ALPHA_KEY
    assert events["ab2d925f"]["api_key"] != ALPHA_KEY
    assert events["09113478"]["account_id"] == "user-gamma-1"  # no team, no org
    assert events["95758078"]["account_id"] == "default_user_id"  # master key
    # invalid key: only the hash of the presented key is known
    assert events["9cc8e509"]["account_id"] == events["9cc8e509"]["api_key"]
    assert events["9cc8e509"]["api_key"].startswith("3c59617ed4")
    assert events["9cc8e509"]["ip"] is None and events["9cc8e509"]["user_agent"] is None


def test_account_chain_falls_back_to_team_then_hash() -> None:
    record = _raw_records("virtualkeys-0011.json")[0]
    no_org = copy.deepcopy(record)
    no_org["metadata"]["user_api_key_org_id"] = None
    assert litellm_to_event(no_org)["account_id"] == "team-alpha"
    only_hash = copy.deepcopy(no_org)
    for key in ("user_api_key_team_id", "user_api_key_user_id"):
        only_hash["metadata"][key] = ""
    assert litellm_to_event(only_hash)["account_id"] == ALPHA_KEY


def test_account_field_override() -> None:
    record = _raw_records("virtualkeys-0011.json")[0]
    team_first = "metadata.user_api_key_team_id,metadata.user_api_key_hash"
    assert litellm_to_event(record, team_first)["account_id"] == "team-alpha"
    assert litellm_to_event(record, "metadata.user_api_key_alias")["account_id"] == "alpha-batch"
    evs, q = read_events(LITELLM / "logging" / "virtualkeys-0039.json", account_field=team_first)
    assert q == []
    accounts = by_request_prefix(evs)
    assert accounts["56b1ac2a"]["account_id"] == GAMMA_KEY  # gamma has no team: key hash
    assert accounts["ad8fc713"]["account_id"] == "team-beta"
    # the client's own body metadata, as LiteLLM keeps it
    evs, q = read_events(
        LITELLM / "logging" / "masterkey-0016.json",
        account_field="metadata.requester_metadata.account_id",
    )
    assert {e["account_id"] for e in evs} == {"acct-alpha", "acct-eval", "acct-beta"}
    assert {x.reason for x in q} == {"missing_account"}
    assert len(evs) + len(q) == 9


def test_probing_parameters(events: dict[str, dict[str, Any]]) -> None:
    top20 = events["14c90c55"]
    assert (top20["logprobs"], top20["top_logprobs"], top20["max_tokens"]) == (True, 20, 16)
    bias = events["f63dcb9c"]
    assert (bias["logit_bias_size"], bias["max_tokens"], bias["logprobs"]) == (3, 8, False)
    assert events["09113478"]["logit_bias_size"] == 2
    n2 = events["1869bf45"]
    assert (n2["n"], n2["logprobs"], n2["top_logprobs"], n2["temperature"]) == (2, True, 2, 1.0)
    assert n2["finish_reason"] == "length"
    mcq = events["a9d380d4"]
    assert (mcq["end_user"], mcq["top_logprobs"], mcq["max_tokens"]) == ("eval-harness", 4, 1)


def test_output_parameters(events: dict[str, dict[str, Any]]) -> None:
    n3 = events["a263f8dc"]
    assert (n3["n"], n3["temperature"], n3["max_tokens"], n3["completion_tokens"]) == (
        3,
        1.0,
        64,
        72,
    )
    cot = events["01272ccc"]
    assert (cot["max_tokens"], cot["top_p"], cot["seed"]) == (4096, 0.95, True)
    assert cot["system_prompt"] == COT_SYSTEM
    assert events["9b896548"]["max_tokens"] == 2  # max_completion_tokens
    assert events["30b9897c"]["tools_count"] == 1
    assert events["363048dd"]["response_format"] == "json_object"
    assert events["363048dd"]["end_user"] is None  # no `user` in the body
    penalties = events["8d233d35"]
    assert (penalties["temperature"], penalties["max_tokens"], penalties["model"]) == (
        0.0,
        256,
        "mock-gpt",
    )


def test_streams(events: dict[str, dict[str, Any]]) -> None:
    assert events["74f7774f"]["stream"] is True  # local-gpt stream with include_usage
    assert events["4cd7af83"]["stream"] is True  # mock stream
    assert events["74f7774f"]["completion_tokens"] == 12
    assert events["7e514d90"]["stream"] is True
    assert events["95758078"]["stream"] is False


def test_multi_turn_keeps_last_user_message(events: dict[str, dict[str, Any]]) -> None:
    multi = events["476274fb"]
    assert multi["n_messages"] == 4
    assert multi["system_prompt"] == "You are a helpful assistant."
    assert multi["user_prompt"] == "And times 3?"


def test_forwarded_ip(events: dict[str, dict[str, Any]]) -> None:
    assert events["1ef525c0"]["ip"] == "203.0.113.7"


def test_failure_records(events: dict[str, dict[str, Any]]) -> None:
    unknown = events["d8c330c0"]  # unknown model: model_group is "" -> model
    assert (unknown["status"], unknown["model"]) == ("failure", "gpt-nonexistent")
    assert (unknown["prompt_tokens"], unknown["completion_tokens"]) == (0, 0)
    assert unknown["finish_reason"] is None
    assert unknown["end_user"] == "end-user-0006"
    invalid = events["093d2b4b"]  # invalid key: only the hash
    assert invalid["status"] == "failure" and invalid["end_user"] is None
    assert invalid["account_id"] == invalid["api_key"] != MASTER


def test_blocked_records_with_empty_model_parameters(events: dict[str, dict[str, Any]]) -> None:
    for prefix, stream in (("0507bd55", False), ("53a3839e", True), ("b9558bfc", False)):
        blocked = events[prefix]
        assert blocked["status"] == "failure"
        assert blocked["stream"] is stream
        assert blocked["max_tokens"] is None and blocked["n"] == 1
        assert blocked["temperature"] is None and blocked["logprobs"] is False
    alpha = events["cebc0491"]
    assert (alpha["account_id"], alpha["model"], alpha["n_messages"]) == (
        "org-alpha",
        "local-gpt",
        2,
    )
    assert alpha["user_prompt"] == "Translate the following sentence into French: Good night."
    assert alpha["system_prompt"] == "You translate English into French."
    assert events["5ec71048"]["stream"] is True


def _events_from(paths: list[Path]) -> list[dict[str, Any]]:
    evs, q = read_events(paths)
    assert q == []
    return sorted(evs, key=lambda e: e["request_id"])


def test_json_array_ndjson_and_single_give_identical_events() -> None:
    arrays = _events_from(
        [LITELLM / "logging" / "masterkey-0071.json", LITELLM / "logging" / "virtualkeys-0039.json"]
    )
    ndjson = _events_from(sorted((LITELLM / "logging-ndjson").iterdir()))
    single = _events_from(sorted((LITELLM / "logging-single").iterdir()))
    assert len(arrays) == 9
    assert arrays == ndjson == single


def test_http_bodies_give_the_same_events_as_files() -> None:
    body = (LITELLM / "logging" / "virtualkeys-0039.json").read_bytes()
    from_array, q1 = parse_payload(body)
    from_ndjson, q2 = parse_payload(
        (LITELLM / "logging-ndjson" / "virtualkeys-0040.ndjson").read_bytes()
    )
    from_single, q3 = parse_payload(
        (LITELLM / "logging-single" / "virtualkeys-0032.json").read_bytes()
    )
    assert q1 == q2 == q3 == []
    assert len(from_array) == 5
    assert from_array == from_ndjson
    assert from_single == [by_request_prefix(from_array)["56b1ac2a"]]


def test_chunks_report_format_and_progress() -> None:
    array = LITELLM / "logging" / "masterkey-0016.json"  # one line holding 9 records
    ndjson = LITELLM / "logging-ndjson" / "masterkey-0072.ndjson"  # 4 lines
    chunks = list(iter_event_chunks([array, ndjson], chunk_size=3))
    from_array = [c for c in chunks if c.file == str(array)]
    from_ndjson = [c for c in chunks if c.file == str(ndjson)]
    # a chunk is cut between lines: one line's array is never split
    assert [len(c.events) for c in from_array if c.events] == [9]
    assert [len(c.events) for c in from_ndjson] == [3, 1]
    assert [c.format for c in from_ndjson] == ["litellm", "litellm"]
    for group, path in ((from_array, array), (from_ndjson, ndjson)):
        assert group[-1].done and not any(c.done for c in group[:-1])
        assert group[-1].bytes_done == group[-1].bytes_total == path.stat().st_size
        assert [c.bytes_done for c in group] == sorted(c.bytes_done for c in group)
        assert sum(c.formats.get("litellm", 0) for c in group) == sum(c.records for c in group)
    assert {c.container for c in chunks} == {"jsonl"}
