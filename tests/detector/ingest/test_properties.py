"""Property-based tests: whatever the bytes, ingest returns events or quarantine, never raises."""

from __future__ import annotations

import copy
import os
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.events import EVENT_FIELD_NAMES, validate_event
from detector.ingest import REASONS, parse_payload
from tests.detector.ingest.helpers import LITELLM, canonical_record, openai_record

# DW_HYPOTHESIS_EXAMPLES=2000 for a deeper (slower) search than the default quick run.
SETTINGS = settings(
    max_examples=int(os.environ.get("DW_HYPOTHESIS_EXAMPLES", "80")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _small_litellm() -> dict[str, Any]:
    """A real record cut down to what the adapter reads, so that cutting it at every byte
    and swapping the types of its fields stays fast."""
    record = orjson.loads((LITELLM / "logging-single" / "virtualkeys-0046.json").read_bytes())
    used = {
        "id", "litellm_call_id", "call_type", "stream", "status", "startTime", "endTime",
        "response_time", "model", "model_group", "metadata", "prompt_tokens",
        "completion_tokens", "end_user", "requester_ip_address", "user_agent", "messages",
        "response", "model_parameters",
    }  # fmt: skip
    record = {k: v for k, v in record.items() if k in used}
    record["metadata"] = {
        k: v
        for k, v in record["metadata"].items()
        if k.startswith("user_api_key_") and not k.endswith(("spend", "budget", "budget_reset_at"))
    }
    return record


LITELLM_RECORD = _small_litellm()
TEMPLATES = {
    "litellm": LITELLM_RECORD,
    "openai": openai_record(1),
    "canonical": canonical_record(1),
}
_ids = {
    "litellm": ("litellm_call_id",),
    "openai": ("request_id",),
    "canonical": ("request_id",),
}

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


def _good(fmt: str, i: int) -> dict[str, Any]:
    record = copy.deepcopy(TEMPLATES[fmt])
    record[_ids[fmt][0]] = f"good-{fmt}-{i}"
    return record


def _check(events: list[dict[str, Any]], quarantined: list[Any]) -> None:
    for event in events:
        assert tuple(event) == EVENT_FIELD_NAMES
        assert validate_event(dict(event)) == event  # already normalised
    for q in quarantined:
        assert q.reason in REASONS
        assert q.reason != "adapter_error", q.detail  # adapters handle every type explicitly


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value[:3]):
            out += _paths(child, (*prefix, i))
    return out


PATHS = {fmt: _paths(record) for fmt, record in TEMPLATES.items()}


def _set(record: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        record = record[key]
    record[path[-1]] = value


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(body: bytes) -> None:
    _check(*parse_payload(body))


@SETTINGS
@given(json_values)
def test_random_json_never_raises(value: Any) -> None:
    _check(*parse_payload(orjson.dumps(value)))


@SETTINGS
@given(fmt=st.sampled_from(sorted(TEMPLATES)), data=st.data())
def test_type_swaps_keep_the_good_neighbours(fmt: str, data: st.DataObject) -> None:
    mutated = copy.deepcopy(TEMPLATES[fmt])
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(mutated)
        if not paths:
            break
        _set(mutated, data.draw(st.sampled_from(paths)), data.draw(json_values))
    batch = [_good(fmt, 0), mutated, _good(fmt, 1)]
    as_array = orjson.dumps(batch)
    as_ndjson = b"\n".join(orjson.dumps(r) for r in batch)
    for body in (as_array, as_ndjson):
        events, quarantined = parse_payload(body)
        _check(events, quarantined)
        assert len(events) + len(quarantined) == 3
        ids = [e["request_id"] for e in events]
        assert f"good-{fmt}-0" in ids and f"good-{fmt}-1" in ids


@pytest.mark.parametrize("fmt", sorted(TEMPLATES))
def test_truncated_json_at_every_cut(fmt: str) -> None:
    record = orjson.dumps(_good(fmt, 9))
    before = orjson.dumps(_good(fmt, 0))
    after = orjson.dumps(_good(fmt, 1))
    for cut in range(len(record)):
        body = before + b"\n" + record[:cut] + b"\n" + after
        events, quarantined = parse_payload(body)
        _check(events, quarantined)
        ids = [e["request_id"] for e in events]
        assert ids[0] == f"good-{fmt}-0" and ids[-1] == f"good-{fmt}-1", cut
        if cut:
            assert len(quarantined) == 1 and len(events) == 2, cut
            assert quarantined[0].reason in {"truncated_json", "invalid_json", "not_an_object"}
        # the cut record alone, as a whole body (json_array / single POSTs)
        events, quarantined = parse_payload(record[:cut])
        _check(events, quarantined)
        assert events == [] and len(quarantined) == (1 if cut else 0)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(sorted(TEMPLATES)), st.binary(max_size=30)), max_size=6))
def test_garbage_lines_between_good_lines(items: list[tuple[str, bytes]]) -> None:
    lines: list[bytes] = []
    good_ids = []
    for i, (fmt, garbage) in enumerate(items):
        lines.append(orjson.dumps(_good(fmt, i)))
        good_ids.append(f"good-{fmt}-{i}")
        lines.append(garbage.replace(b"\n", b" "))
    events, quarantined = parse_payload(b"\n".join(lines))
    _check(events, quarantined)
    ids = [e["request_id"] for e in events]
    assert [i for i in ids if i.startswith("good-")] == good_ids
