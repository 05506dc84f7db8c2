"""A malformed export: every bad line quarantined with the right reason, no good line lost."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from detector.ingest import (
    RAW_LIMIT,
    REASONS,
    QuarantineRecord,
    QuarantineWriter,
    count_reasons,
    iter_event_chunks,
    read_events,
)
from tests.detector.ingest.helpers import bad_export_lines, write_bad_export


@pytest.mark.parametrize("name", ["export.jsonl", "export.jsonl.gz"])
def test_malformed_export(tmp_path: Path, name: str) -> None:
    lines = write_bad_export(tmp_path / name)
    events, quarantined = read_events(tmp_path / name)
    expected_good = sum(n for _, _, n in lines)
    assert len(events) == expected_good == 6
    assert [e["request_id"] for e in events] == [
        "req-1",
        "ll-ok",
        "chatcmpl-7",
        "req-9",
        "req-11",
        "req-12",
    ]
    got = [(q.line, q.reason) for q in quarantined]
    want = [(i + 1, reason) for i, (_, reasons, _) in enumerate(lines) for reason in reasons]
    assert got == want
    assert set(count_reasons(quarantined)) >= {
        "invalid_json",
        "truncated_json",
        "not_an_object",
        "missing_account",
        "missing_time",
        "bad_timestamp",
        "bad_type",
        "negative_count",
        "invalid_utf8",
    }
    for q in quarantined:
        assert q.reason in REASONS
        assert q.source == str(tmp_path / name)
    in_array = [q for q in quarantined if q.line == 16]
    assert [(q.index, q.reason) for q in in_array] == [(1, "negative_count")]
    assert orjson.loads(in_array[0].raw)["request_id"] == "req-10"  # only that element


def test_raw_is_truncated_and_invalid_bytes_escaped(tmp_path: Path) -> None:
    long_bad = b'{"ts": "x", "user_prompt": "' + b"A" * 10_000 + b'"}'
    path = tmp_path / "long.jsonl"
    path.write_bytes(long_bad + b"\n" + b'{"bad": "\xff\xfe"}\n')
    _, quarantined = read_events(path)
    first, second = quarantined
    assert len(first.raw) == RAW_LIMIT and first.raw_truncated
    assert first.raw_size == len(long_bad) + 1
    assert second.reason == "invalid_utf8" and "\\xff" in second.raw and not second.raw_truncated
    _, quarantined = read_events(path, raw_limit=0)
    assert all(q.raw == "" for q in quarantined)


def test_csv_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(
        b"ts,request_id,account_id,prompt_tokens\n"
        b"1780000000,r1,a,5\n"
        b"1780000001,r2,a\n"  # too few cells
        b"1780000002,r3,a,lots\n"
        b"1780000003,r4,\xff,1\n"
        b"not a time,r5,a,1\n"
        b"1780000005,r6,a,-2\n"
        b"1780000006,r7,a,7\n"
    )
    events, quarantined = read_events(path)
    assert [e["request_id"] for e in events] == ["r1", "r7"]
    assert [(q.line, q.reason) for q in quarantined] == [
        (3, "bad_csv_row"),
        (4, "bad_type"),
        (5, "invalid_utf8"),
        (6, "bad_timestamp"),
        (7, "negative_count"),
    ]


def test_writer_round_trip(tmp_path: Path) -> None:
    write_bad_export(tmp_path / "export.jsonl")
    out = tmp_path / "q" / "quarantine.jsonl.gz"
    total = 0
    with QuarantineWriter(out) as writer:
        for chunk in iter_event_chunks(tmp_path / "export.jsonl", chunk_size=4):
            total += writer.write(chunk.quarantined)
    rows = [orjson.loads(line) for line in gzip.decompress(out.read_bytes()).splitlines()]
    expected = sum(len(reasons) for _, reasons, _ in bad_export_lines())
    assert len(rows) == total == writer.count == expected
    assert set(rows[0]) == {
        "source",
        "line",
        "index",
        "reason",
        "detail",
        "raw_size",
        "raw_truncated",
        "raw",
    }
    assert rows[0]["reason"] == "invalid_json" and rows[0]["line"] == 2


def test_writer_survives_lone_surrogates(tmp_path: Path) -> None:
    record = QuarantineRecord("s", 1, "bad_type", "detail \udcff", "raw \ud800")
    with QuarantineWriter(tmp_path / "q.jsonl") as writer:
        writer.write([record])
    row = orjson.loads((tmp_path / "q.jsonl").read_bytes())
    assert row["reason"] == "bad_type"
