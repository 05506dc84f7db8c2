"""Readers: containers (JSONL / JSON / CSV / Parquet, .gz), detection, chunks, HTTP bodies."""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detector.ingest import (
    canonical_to_event,
    iter_event_chunks,
    openai_to_event,
    parse_payload,
    read_events,
)
from tests.detector.ingest.helpers import LITELLM, canonical_record, openai_record

TRICKY = ["comma, inside", 'quote " inside', "new\nline", "unicode: café ☕ 数据", ""]


def _canonical_events(n: int = 25) -> list[dict[str, Any]]:
    events = []
    for i in range(n):
        record = canonical_record(i, user_prompt=TRICKY[i % len(TRICKY)] or None)
        if i % 4 == 0:
            record.update(max_tokens=None, temperature=None, logprobs=True, top_logprobs=5)
        events.append(canonical_to_event(record))
    return events


def _jsonl(records: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def _write(path: Path, data: bytes) -> Path:
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", ["events.jsonl", "events.jsonl.gz", "events.ndjson", "noext"])
def test_canonical_jsonl_round_trip(tmp_path: Path, name: str) -> None:
    events = _canonical_events()
    path = _write(tmp_path / name, _jsonl(events))
    got, quarantined = read_events(path)
    assert quarantined == [] and got == events


@pytest.mark.parametrize("name", ["events.csv", "events.csv.gz", "events-no-extension"])
def test_canonical_csv_round_trip(tmp_path: Path, name: str) -> None:
    events = _canonical_events()
    data = pd.DataFrame(events).to_csv(index=False).encode()
    path = _write(tmp_path / name, data)
    chunks = list(iter_event_chunks(path, chunk_size=10))
    assert {c.container for c in chunks} == {"csv"}
    assert chunks[-1].done and chunks[-1].bytes_done == path.stat().st_size
    got = [e for c in chunks for e in c.events]
    assert [q for c in chunks for q in c.quarantined] == []
    assert got == events


def test_csv_with_bom_iso_timestamps_and_extra_columns(tmp_path: Path) -> None:
    text = (
        "\ufeffts,request_id,account_id,prompt_tokens,stream,note\r\n"
        "2026-05-01T00:00:00Z,r1,a1,5,true,x\r\n"
        "\r\n"
        '2026-05-01T00:00:01Z,r2,a2,6,false,"multi\r\nline"\r\n'
        "1777593602,r3,a3,NULL,None,nan\r\n"
    )
    path = _write(tmp_path / "bom.csv", text.encode())
    events, quarantined = read_events(path)
    assert quarantined == []
    assert [(e["request_id"], e["prompt_tokens"], e["stream"]) for e in events] == [
        ("r1", 5, True),
        ("r2", 6, False),
        ("r3", 0, False),  # NULL / None / nan cells are missing values
    ]
    assert events[1]["ts"] - events[0]["ts"] == 1.0


@pytest.mark.parametrize("writer", ["pyarrow", "pandas"])
def test_canonical_parquet_round_trip(tmp_path: Path, writer: str) -> None:
    events = _canonical_events(40)
    path = tmp_path / "events.parquet"
    if writer == "pyarrow":
        pq.write_table(pa.Table.from_pylist(events), path, row_group_size=16)
    else:
        pd.DataFrame(events).to_parquet(path, index=False)
    chunks = list(iter_event_chunks(path, chunk_size=15))
    assert [len(c.events) for c in chunks if c.events] == [15, 15, 10]
    assert chunks[-1].done and chunks[-1].bytes_done == path.stat().st_size
    assert all(c.container == "parquet" for c in chunks)
    assert [e for c in chunks for e in c.events] == events


def test_parquet_nan_and_timestamp_columns(tmp_path: Path) -> None:
    table = pa.table(
        {
            "ts": pa.array(
                [pd.Timestamp("2026-05-01T00:00:00Z"), pd.Timestamp("2026-05-01T00:00:02Z")],
                type=pa.timestamp("us", tz="UTC"),
            ),
            "request_id": ["r1", "r2"],
            "account_id": ["a", "b"],
            "max_tokens": pa.array([float("nan"), 32.0], from_pandas=False),
            "temperature": pa.array([0.5, float("nan")], from_pandas=False),
        }
    )
    path = tmp_path / "nan.parquet"
    pq.write_table(table, path)
    events, quarantined = read_events(path)
    assert quarantined == []
    assert [(e["max_tokens"], e["temperature"]) for e in events] == [(None, 0.5), (32, None)]
    assert events[1]["ts"] - events[0]["ts"] == 2.0


@pytest.mark.parametrize("name", ["pairs.jsonl", "pairs.jsonl.gz"])
def test_openai_jsonl_round_trip(tmp_path: Path, name: str) -> None:
    records = [openai_record(i) for i in range(12)]
    records[3]["timestamp"] = "2026-05-01T00:00:03Z"
    path = _write(tmp_path / name, _jsonl(records))
    events, quarantined = read_events(path)
    assert quarantined == []
    assert events == [openai_to_event(r) for r in records]
    chunks = list(iter_event_chunks(path))
    assert chunks[-1].formats == {"openai": 12}
    assert chunks[-1].compression == ("gzip" if name.endswith(".gz") else None)


def test_mixed_formats_in_one_file(tmp_path: Path) -> None:
    litellm_line = (LITELLM / "logging-single" / "virtualkeys-0032.json").read_bytes().strip()
    data = (
        _jsonl([openai_record(1)])
        + litellm_line
        + b"\n"
        + _jsonl([canonical_record(2), {"request_id": "r", "timestamp": 1}])
    )
    path = _write(tmp_path / "mixed.jsonl", data)
    chunks = list(iter_event_chunks(path))
    assert sum(len(c.events) for c in chunks) == 3
    assert chunks[-1].formats == {"openai": 1, "litellm": 1, "canonical": 2}
    # the last record matches no format: read with the previous one's -> missing_time
    assert [q.reason for c in chunks for q in c.quarantined] == ["missing_time"]


def test_forced_format(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.jsonl", _jsonl([canonical_record(1)]))
    events, _ = read_events(path, fmt="canonical")
    assert len(events) == 1
    events, quarantined = read_events(path, fmt="litellm")
    assert events == [] and [q.reason for q in quarantined] == ["missing_time"]
    with pytest.raises(ValueError, match="unknown format"):
        read_events(path, fmt="splunk")


# ---------------------------------------------------------------------------- JSON documents


def test_pretty_printed_json_array(tmp_path: Path) -> None:
    records = orjson.loads((LITELLM / "logging" / "virtualkeys-0039.json").read_bytes())
    path = _write(tmp_path / "pretty.json", orjson.dumps(records, option=orjson.OPT_INDENT_2))
    chunks = list(iter_event_chunks(path, chunk_size=2))
    assert {c.container for c in chunks} == {"json"}
    assert [len(c.events) for c in chunks if c.events] == [2, 2, 1]
    flat, _ = read_events(LITELLM / "logging" / "virtualkeys-0039.json")
    assert [e for c in chunks for e in c.events] == flat


def test_concatenated_pretty_objects_like_jq_output(tmp_path: Path) -> None:
    records = [canonical_record(i) for i in range(3)]
    body = b"\n".join(orjson.dumps(r, option=orjson.OPT_INDENT_2) for r in records)
    path = _write(tmp_path / "jq.json", body + b'\n{\n  "ts": 17')
    events, quarantined = read_events(path)
    assert [e["request_id"] for e in events] == ["req-0", "req-1", "req-2"]
    assert [(q.reason, q.line) for q in quarantined] == [("truncated_json", 43)]


def test_single_pretty_object_and_broken_document(tmp_path: Path) -> None:
    record = canonical_record(5)
    path = _write(tmp_path / "one.json", orjson.dumps(record, option=orjson.OPT_INDENT_2))
    events, quarantined = read_events(path)
    assert len(events) == 1 and quarantined == []
    broken = orjson.dumps([record, record], option=orjson.OPT_INDENT_2)[:-20]
    path = _write(tmp_path / "broken.json", broken)
    events, quarantined = read_events(path)
    assert events == []
    assert [q.reason for q in quarantined] == ["truncated_json"]


def test_jsonl_with_broken_first_line_is_still_read_line_by_line(tmp_path: Path) -> None:
    good = _jsonl([canonical_record(i) for i in range(3)])
    path = _write(tmp_path / "x.jsonl", b'{"ts": 1780000000, "acc\n' + good)
    events, quarantined = read_events(path)
    assert len(events) == 3
    assert [(q.reason, q.line) for q in quarantined] == [("truncated_json", 1)]


def test_bom_and_blank_lines(tmp_path: Path) -> None:
    data = (
        b"\xef\xbb\xbf"
        + _jsonl([canonical_record(1)])
        + b"\n   \n\r\n"
        + _jsonl([canonical_record(2)])
    )
    events, quarantined = read_events(_write(tmp_path / "bom.jsonl", data))
    assert len(events) == 2 and quarantined == []


def test_empty_files(tmp_path: Path) -> None:
    for name in ("empty.jsonl", "empty.csv", "empty.json.gz"):
        path = _write(tmp_path / name, b"")
        chunks = list(iter_event_chunks(path))
        assert len(chunks) == 1 and chunks[0].done and chunks[0].records == 0


# ---------------------------------------------------------------------------- read errors


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    data = gzip.compress(_jsonl([canonical_record(i) for i in range(2000)]))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    events, quarantined = read_events(path)
    assert 0 < len(events) < 2000
    assert [q.reason for q in quarantined][-1] == "read_error"
    assert all(q.reason in {"read_error", "truncated_json"} for q in quarantined)


def test_corrupt_parquet_is_a_read_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.parquet", b"PAR1 this is not parquet")
    ok = _write(tmp_path / "ok.jsonl", _jsonl([canonical_record(1)]))
    events, quarantined = read_events([path, ok])
    assert len(events) == 1
    assert [(q.reason, q.source) for q in quarantined] == [("read_error", str(path))]


def test_missing_file_raises_before_reading(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(iter_event_chunks([tmp_path / "nope.jsonl"]))


def test_directory_expands_to_supported_files(tmp_path: Path) -> None:
    for folder in ("sub", ".hidden"):
        (tmp_path / folder).mkdir()
    _write(tmp_path / "a.jsonl", _jsonl([canonical_record(1)]))
    _write(tmp_path / "sub" / "b.csv.gz", b"")
    _write(tmp_path / ".hidden" / "c.jsonl", b"")
    _write(tmp_path / "notes.txt", b"not a log")
    sources = {c.file for c in iter_event_chunks(tmp_path)}
    assert sources == {str(tmp_path / "a.jsonl"), str(tmp_path / "sub" / "b.csv.gz")}


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    data = gzip.compress(_jsonl([canonical_record(i) for i in range(3)]))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    chunks = list(iter_event_chunks("-"))
    assert sum(len(c.events) for c in chunks) == 3
    assert chunks[-1].file == "-" and chunks[-1].bytes_total is None


# ---------------------------------------------------------------------------- HTTP bodies


def test_parse_payload_shapes() -> None:
    records = [canonical_record(i) for i in range(3)]
    as_array = orjson.dumps(records)
    as_ndjson = b"\n".join(orjson.dumps(r) for r in records)  # no trailing newline
    as_single = orjson.dumps(records[0])
    expected = [canonical_to_event(r) for r in records]
    assert parse_payload(as_array) == (expected, [])
    assert parse_payload(as_ndjson) == (expected, [])
    assert parse_payload(as_ndjson.decode()) == (expected, [])
    assert parse_payload(as_single) == (expected[:1], [])
    assert parse_payload(b"") == ([], [])
    assert parse_payload(b"  \n ") == ([], [])


def test_parse_payload_openai_records_and_garbage() -> None:
    body = orjson.dumps([openai_record(1), openai_record(2), "junk", {"foo": 1}])
    events, quarantined = parse_payload(body, source="gateway-7")
    assert [e["request_id"] for e in events] == ["chatcmpl-1", "chatcmpl-2"]
    assert [(q.reason, q.index, q.source) for q in quarantined] == [
        ("not_an_object", 2, "gateway-7"),
        ("missing_time", 3, "gateway-7"),  # read as the format of its neighbours
    ]
    events, quarantined = parse_payload(b'{"foo": 1}\n{"ts": 1780000000}')
    assert events == []
    assert [q.reason for q in quarantined] == ["unknown_format", "missing_account"]
    events, quarantined = parse_payload(b"\x00\x01garbage{")
    assert events == [] and [q.reason for q in quarantined] == ["invalid_json"]
    events, quarantined = parse_payload(b"[1, 2", raw_limit=0)
    assert [q.reason for q in quarantined] == ["truncated_json"] and quarantined[0].raw == ""
