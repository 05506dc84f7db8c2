"""Adapters on hand-made records: OpenAI pairs, canonical rows, account chains, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from detector.events import EventError
from detector.ingest import (
    canonical_to_event,
    detect_record_format,
    format_rfc3339,
    litellm_to_event,
    openai_to_event,
    parse_account_field,
    resolve_account,
    to_epoch,
)
from tests.detector.ingest.helpers import canonical_record, openai_record


def _reason(fn: Any, record: dict[str, Any], account: str | None = None) -> str:
    with pytest.raises(EventError) as info:
        fn(record, account)
    return info.value.reason


# ---------------------------------------------------------------------------- OpenAI


def test_openai_pair_mapping() -> None:
    event = openai_to_event(openai_record(3))
    assert event["ts"] == 1_780_000_003.0
    assert event["request_id"] == "chatcmpl-3"  # falls back to response.id
    assert event["account_id"] == "acct-openai"
    assert event["end_user"] == "end-7"  # falls back to request.user
    assert event["model"] == "gpt-4o-mini"  # the model asked for
    assert event["status"] == "success"
    assert (event["prompt_tokens"], event["completion_tokens"]) == (12, 3)
    assert (event["temperature"], event["max_tokens"], event["n"]) == (0.2, 64, 1)
    assert event["system_prompt"] == "Be brief."
    assert event["user_prompt"] == "Question 3?"
    assert (event["n_messages"], event["finish_reason"]) == (2, "stop")


def test_openai_optional_fields_and_rfc3339_timestamp() -> None:
    record = openai_record(
        timestamp="2026-05-01T12:00:00.250Z",
        request_id="req-explicit",
        api_key="key-9",
        ip="198.51.100.4",
        user_agent="curl/8",
        end_user="explicit-user",
        endpoint="/v1/chat/completions",
        latency_s=1.5,
        status="failure",
    )
    record["request"].update(
        {
            "max_completion_tokens": 500,
            "logprobs": True,
            "top_logprobs": 3,
            "logit_bias": {"50256": -100},
            "seed": 0,
            "stream": True,
            "tools": [{"type": "function"}, {"type": "function"}],
            "response_format": {"type": "json_schema", "json_schema": {}},
            "n": 4,
            "top_p": 0.9,
        }
    )
    del record["request"]["max_tokens"]
    record["response"]["usage"]["completion_tokens_details"] = {"reasoning_tokens": 128}
    event = openai_to_event(record)
    assert event["ts"] == datetime(2026, 5, 1, 12, 0, 0, 250000, tzinfo=UTC).timestamp()
    assert event["request_id"] == "req-explicit"
    assert (event["api_key"], event["ip"], event["user_agent"]) == (
        "key-9",
        "198.51.100.4",
        "curl/8",
    )
    assert (event["end_user"], event["latency_s"], event["status"]) == (
        "explicit-user",
        1.5,
        "failure",
    )
    assert event["max_tokens"] == 500
    assert (event["logprobs"], event["top_logprobs"], event["logit_bias_size"]) == (True, 3, 1)
    assert event["seed"] is True  # seed=0 is still a seed
    assert (event["stream"], event["tools_count"], event["response_format"]) == (
        True,
        2,
        "json_schema",
    )
    assert (event["n"], event["top_p"], event["reasoning_tokens"]) == (4, 0.9, 128)


def test_openai_failure_without_choices() -> None:
    record = openai_record(request_id="r1", response={"error": {"message": "rate limited"}})
    event = openai_to_event(record)
    assert event["status"] == "failure"
    assert event["finish_reason"] is None and event["completion_tokens"] == 0


def test_openai_content_parts_and_developer_role() -> None:
    record = openai_record()
    record["request"]["messages"] = [
        {"role": "developer", "content": [{"type": "text", "text": "Rule one."}]},
        {"role": "system", "content": "Rule two."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "answer"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Describe"},
                {"type": "image_url", "image_url": {"url": "data:..."}},
                {"type": "text", "text": "this picture."},
            ],
        },
    ]
    event = openai_to_event(record)
    assert event["system_prompt"] == "Rule one.\nRule two."
    assert event["user_prompt"] == "Describe\nthis picture."
    assert event["n_messages"] == 5


def test_litellm_content_parts() -> None:
    record = {
        "litellm_call_id": "c1",
        "startTime": 1_780_000_000.5,
        "endTime": 1_780_000_001.0,
        "metadata": {"user_api_key_hash": "h1"},
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello parts"}]}],
        "response": {"usage": {"prompt_tokens": 3, "completion_tokens": 4}},
    }
    event = litellm_to_event(record)
    assert event["user_prompt"] == "hello parts"
    assert event["latency_s"] == 0.5  # no response_time: endTime - startTime
    assert (event["prompt_tokens"], event["completion_tokens"]) == (3, 4)  # from usage
    assert event["account_id"] == event["api_key"] == "h1"
    assert event["request_id"] == "c1"


def test_litellm_request_id_falls_back_to_id() -> None:
    record = {
        "id": "chatcmpl-9",
        "startTime": 1_780_000_000,
        "metadata": {"user_api_key_hash": "h"},
    }
    assert litellm_to_event(record)["request_id"] == "chatcmpl-9"


def test_legacy_integer_logprobs() -> None:
    record = openai_record()
    record["request"]["logprobs"] = 5
    event = openai_to_event(record)
    assert (event["logprobs"], event["top_logprobs"]) == (True, 5)


# ---------------------------------------------------------------------------- canonical


def test_canonical_iso_timestamp_and_string_cells() -> None:
    row = {k: str(v) for k, v in canonical_record(1).items()}
    row["ts"] = "2026-05-01T12:00:00+02:00"
    row["max_tokens"] = ""
    row["logprobs"] = "True"
    event = canonical_to_event(row)
    assert event["ts"] == datetime(2026, 5, 1, 10, tzinfo=UTC).timestamp()
    assert (event["prompt_tokens"], event["max_tokens"], event["logprobs"]) == (11, None, True)
    assert event["temperature"] == 0.5


def test_canonical_ignores_unknown_columns_and_does_not_mutate() -> None:
    record = canonical_record(2, extra="x")
    before = dict(record)
    event = canonical_to_event(record)
    assert "extra" not in event and record == before


def test_canonical_account_field() -> None:
    record = canonical_record(api_key="key-77")
    assert canonical_to_event(record, "api_key")["account_id"] == "key-77"
    flat = canonical_record()
    del flat["account_id"]
    flat["metadata.user_api_key_hash"] = "flat-hash"  # a flattened column named by its path
    assert canonical_to_event(flat, "metadata.user_api_key_hash")["account_id"] == "flat-hash"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"ts": None}, "missing_time"),
        ({"ts": "yesterday"}, "bad_timestamp"),
        ({"ts": True}, "bad_timestamp"),
        ({"ts": 1_780_000_000_000}, "bad_timestamp"),  # milliseconds
        ({"ts": [1]}, "bad_timestamp"),
        ({"account_id": ""}, "missing_account"),
        ({"account_id": {"id": 1}}, "bad_type"),
        ({"request_id": None}, "missing_request_id"),
        ({"prompt_tokens": "lots"}, "bad_type"),
        ({"prompt_tokens": -1}, "negative_count"),
        ({"completion_tokens": "inf"}, "bad_type"),
        ({"latency_s": -0.5}, "negative_value"),
        ({"logprobs": "maybe"}, "bad_type"),
    ],
)
def test_canonical_rejections(overrides: dict[str, Any], reason: str) -> None:
    assert _reason(canonical_to_event, canonical_record(**overrides)) == reason


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r.update(metadata="oops"), "bad_type"),
        (lambda r: r.update(startTime="not a time"), "bad_timestamp"),
        (lambda r: r.pop("startTime"), "missing_time"),
        (lambda r: r.update(metadata={}), "missing_account"),
        (lambda r: r.update(prompt_tokens="lots"), "bad_type"),
        (lambda r: r.update(completion_tokens=-3), "negative_count"),
        (lambda r: r.update(model_parameters={"logit_bias": 5}), "bad_type"),
        (lambda r: r.update(model_parameters={"tools": "all"}), "bad_type"),
        (lambda r: r.update(model_parameters=[1]), "bad_type"),
        (lambda r: r.update(messages={"role": "user"}), "bad_type"),
        (lambda r: r.update(messages=[{"role": "user", "content": 5}]), "bad_type"),
        (lambda r: r.update(response="ok"), "bad_type"),
        (lambda r: r.update(response={"choices": "x"}), "bad_type"),
    ],
)
def test_litellm_rejections(mutate: Any, reason: str) -> None:
    record: dict[str, Any] = {
        "litellm_call_id": "c1",
        "startTime": 1_780_000_000.0,
        "metadata": {"user_api_key_hash": "h"},
        "messages": [{"role": "user", "content": "x"}],
    }
    mutate(record)
    assert _reason(litellm_to_event, record) == reason


# ---------------------------------------------------------------------------- helpers


def test_parse_account_field() -> None:
    assert parse_account_field(None) is None
    assert parse_account_field("  ") is None
    chain = parse_account_field("metadata.team , account_id")
    assert chain == (("metadata.team", ("metadata", "team")), ("account_id", ("account_id",)))
    assert parse_account_field(["a.b", "c"]) == parse_account_field("a.b,c")
    for bad in ("a..b", ".a", ",", "a,b."):
        with pytest.raises(ValueError, match="invalid account field"):
            parse_account_field(bad)


def test_resolve_account_skips_empty_values() -> None:
    chain = parse_account_field("a.b,c")
    assert chain is not None
    assert resolve_account({"a": {"b": ""}, "c": 7}, chain) == 7
    assert resolve_account({"a": "not a dict", "c": None}, chain) is None
    assert resolve_account({"a": {"b": 0}}, chain) == 0


@pytest.mark.parametrize(
    ("record", "fmt"),
    [
        ({"litellm_call_id": "x"}, "litellm"),
        ({"metadata": {}, "startTime": 1}, "litellm"),
        ({"request": {}, "response": {}}, "openai"),
        ({"request": {}, "timestamp": 1}, "openai"),
        ({"ts": 1, "account_id": "a"}, "canonical"),
        ({"request_id": "r", "account_id": "a"}, "canonical"),
        ({"account_id": "a", "timestamp": 1}, None),
        ({"foo": 1}, None),
    ],
)
def test_detect_record_format(record: dict[str, Any], fmt: str | None) -> None:
    assert detect_record_format(record) == fmt


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (1_780_000_000, 1_780_000_000),
        ("1780000000.5", 1_780_000_000.5),
        ("2026-05-01T00:00:00Z", datetime(2026, 5, 1, tzinfo=UTC).timestamp()),
        ("2026-05-01t00:00:00z", datetime(2026, 5, 1, tzinfo=UTC).timestamp()),
        ("2026-05-01 00:00:00", datetime(2026, 5, 1, tzinfo=UTC).timestamp()),
        ("2026-05-01T03:00:00+03:00", datetime(2026, 5, 1, tzinfo=UTC).timestamp()),
        (datetime(2026, 5, 1), datetime(2026, 5, 1, tzinfo=UTC).timestamp()),
        (
            datetime(2026, 5, 1, 1, tzinfo=timezone(timedelta(hours=1))),
            datetime(2026, 5, 1, tzinfo=UTC).timestamp(),
        ),
    ],
)
def test_to_epoch(value: Any, expected: float | None) -> None:
    assert to_epoch(value) == expected


@pytest.mark.parametrize("value", ["tomorrow", "2026-13-01T00:00:00Z", True, {}, []])
def test_to_epoch_rejects(value: Any) -> None:
    with pytest.raises(EventError) as info:
        to_epoch(value)
    assert info.value.reason == "bad_timestamp"


def test_format_rfc3339() -> None:
    assert format_rfc3339(None) is None
    assert format_rfc3339(1_777_593_600.0) == "2026-05-01T00:00:00Z"
    assert format_rfc3339(1_777_593_600.5) == "2026-05-01T00:00:00.500000Z"
