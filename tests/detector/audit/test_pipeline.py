"""The audit pipeline: worker processes change nothing in the result."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import orjson
import pytest

from detector.audit.pipeline import build_states
from detector.features import feature_frame
from tests.detector.test_aggregates import make_events


def _write(path: Path, lines: list[bytes]) -> None:
    data = b"\n".join(lines) + b"\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


@pytest.mark.parametrize("name", ["export.jsonl", "export.jsonl.gz"])
def test_workers_give_identical_states(tmp_path: Path, name: str, monkeypatch) -> None:
    events = make_events(6_000, seed=9)
    lines = [orjson.dumps({k: v for k, v in e.items() if v is not None}) for e in events]
    lines.insert(100, b"{broken")
    lines.insert(4_000, b'{"ts": 1790000000, "request_id": "q", "account_id": "a", "n": -1}')
    path = tmp_path / name
    _write(path, lines)
    # small blocks so that several worker tasks run
    import detector.ingest.readers as readers

    original = readers.iter_line_blocks
    monkeypatch.setattr(
        readers, "iter_line_blocks", lambda p, block_bytes=0: original(p, block_bytes=50_000)
    )
    serial, s_stats = build_states([path], workers=1)
    parallel, p_stats = build_states([path], workers=2)
    assert s_stats["n_events"] == p_stats["n_events"] == 6_000
    assert s_stats["quarantine"] == p_stats["quarantine"]
    assert sum(p_stats["quarantine"].values()) == 2
    as_of = s_stats["last_ts"]
    a = feature_frame(serial, as_of).sort_index()
    b = feature_frame(parallel, as_of).sort_index()
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=1e-9)


def test_quarantine_line_numbers_are_file_lines(tmp_path: Path, monkeypatch) -> None:
    events = make_events(3_000, seed=10)
    lines = [orjson.dumps({k: v for k, v in e.items() if v is not None}) for e in events]
    lines.insert(2_500, b"[not json")
    path = tmp_path / "e.jsonl"
    _write(path, lines)
    import detector.ingest.readers as readers

    original = readers.iter_line_blocks
    monkeypatch.setattr(
        readers, "iter_line_blocks", lambda p, block_bytes=0: original(p, block_bytes=20_000)
    )
    seen = []
    build_states([path], workers=2, on_quarantine=seen.extend)
    assert [q.line for q in seen] == [2_501]
    assert seen[0].source == str(path)
