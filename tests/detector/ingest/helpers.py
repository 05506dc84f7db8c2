"""Helpers shared by the ingest tests (paths to fixtures, small record builders)."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
LITELLM = FIXTURES / "litellm"


def by_request_prefix(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Index events by the first 8 characters of their request id."""
    return {e["request_id"][:8]: e for e in events}


def canonical_record(i: int = 0, **overrides: Any) -> dict[str, Any]:
    """A small valid canonical record."""
    record: dict[str, Any] = {
        "ts": 1_780_000_000.0 + i,
        "request_id": f"req-{i}",
        "account_id": f"acct-{i % 3}",
        "api_key": "key-1",
        "model": "gpt-x",
        "status": "success",
        "prompt_tokens": 10 + i,
        "completion_tokens": 20,
        "temperature": 0.5,
        "n": 1,
        "logprobs": False,
        "user_prompt": f"question {i}",
    }
    record.update(overrides)
    return record


def openai_record(i: int = 0, **overrides: Any) -> dict[str, Any]:
    """A small valid OpenAI-style request/response pair."""
    record: dict[str, Any] = {
        "timestamp": 1_780_000_000 + i,
        "account_id": "acct-openai",
        "request": {
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": f"Question {i}?"},
            ],
            "temperature": 0.2,
            "max_tokens": 64,
            "user": "end-7",
        },
        "response": {
            "id": f"chatcmpl-{i}",
            "object": "chat.completion",
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "A."},
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
        },
    }
    record.update(overrides)
    return record


_LITELLM = orjson.loads((LITELLM / "logging-single" / "virtualkeys-0032.json").read_bytes())


def _litellm(**changes: Any) -> bytes:
    record = dict(_LITELLM)
    record.update(changes)
    return orjson.dumps(record)


def bad_export_lines() -> list[tuple[bytes, list[str], int]]:
    """Lines of a malformed export: ``(line, reasons it is quarantined for, good events)``."""
    good = orjson.dumps(canonical_record(1))
    return [
        (good, [], 1),
        (b'{"ts": 1780000000, "request_id": "x", "account_id": "a",}', ["invalid_json"], 0),
        (good[: len(good) // 2], ["truncated_json"], 0),
        (b"[1, 2, 3]", ["not_an_object"] * 3, 0),
        (b'"just a string"', ["not_an_object"], 0),
        (orjson.dumps(canonical_record(2, account_id=None)), ["missing_account"], 0),
        (orjson.dumps(canonical_record(3, ts=None)), ["missing_time"], 0),
        (orjson.dumps(canonical_record(4, ts="last tuesday")), ["bad_timestamp"], 0),
        (orjson.dumps(canonical_record(5, prompt_tokens="lots")), ["bad_type"], 0),
        (orjson.dumps(canonical_record(6, completion_tokens=-5)), ["negative_count"], 0),
        (b'{"ts": 1780000000, "request_id": "u", "account_id": "caf\xe9"}', ["invalid_utf8"], 0),
        (_litellm(startTime="soon"), ["bad_timestamp"], 0),
        (_litellm(litellm_call_id="ll-ok"), [], 1),
        (orjson.dumps(openai_record(7)), [], 1),
        (orjson.dumps(openai_record(8, timestamp=None)), ["missing_time"], 0),
        (
            orjson.dumps(
                [canonical_record(9), canonical_record(10, prompt_tokens=-1), canonical_record(11)]
            ),
            ["negative_count"],
            2,
        ),
        (b"", [], 0),
        (orjson.dumps(canonical_record(12)), [], 1),
        (b'{"foo": "bar"}', ["missing_time"], 0),  # no format keys: read as its neighbours
        (b"null", ["not_an_object"], 0),
        (b"\x00\x01\x02", ["invalid_json"], 0),
        (orjson.dumps(canonical_record(13))[:-1], ["truncated_json"], 0),  # last line, cut
    ]


def write_bad_export(path: Path) -> list[tuple[bytes, list[str], int]]:
    """Write :func:`bad_export_lines` to ``path`` (gzipped for ``.gz``); return them."""
    lines = bad_export_lines()
    data = b"\n".join(line for line, _, _ in lines)  # the last line has no newline
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return lines
