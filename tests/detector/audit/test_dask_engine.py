"""The Dask audit engine: same accounts.csv, alerts and quarantine as the local engine."""

from __future__ import annotations

import gzip
import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask", reason="dask not installed: pip install 'distillwatch[dask]'")
pytest.importorskip(
    "distributed", reason="dask.distributed not installed: pip install 'distillwatch[dask]'"
)

from detector.aggregates import AccountState
from detector.audit.dask_engine import (
    build_states_dask,
    expand_globs,
    fold_file,
    fold_file_blocks,
    merge_results,
)
from detector.audit.outputs import write_accounts_csv, write_alerts
from detector.audit.pipeline import AuditConfig, build_states, run_audit
from detector.features import feature_frame

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "sample_logs" / "litellm-2d.jsonl.gz"


def _hll(sketch) -> tuple:
    # the whole sketch: exact set while small, registers after (private slots, on purpose)
    sparse, dense = sketch._sparse, sketch._dense
    return (
        sketch.p,
        None if sparse is None else sparse.tolist(),
        None if dense is None else dense.tolist(),
        sketch.count(),
    )


def _state_fields(state: AccountState) -> dict:
    return {
        "counts": state.counts.tolist(),
        "hod": state.hour_of_day.tolist(),
        "gaps": state.gap_hist.tolist(),
        "topics": state.topic_hist.tolist(),
        "range": (state.first_ts, state.last_ts),
        "sketches": {k: _hll(s) for k, s in state.sketches.items()},
        "tops": {k: dict(t.counts) for k, t in state.tops.items()},
        "hourly": {h: row.tolist() for h, row in state.hourly.items()},
        "minutes": state.minutes.values.tolist(),
        "model_first": dict(state.model_first),
    }


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """The committed sample, and the same events split in time over three files
    (gzip, plain JSONL, gzip), with two malformed lines."""
    folder = tmp_path_factory.mktemp("export")
    lines = gzip.decompress(SAMPLE.read_bytes()).splitlines(keepends=True)
    n = len(lines)
    parts = []
    for i, name in enumerate(["part-0.jsonl.gz", "part-1.jsonl", "part-2.jsonl.gz"]):
        data = b"".join(lines[i * n // 3 : (i + 1) * n // 3])
        if i == 0:
            data = b"{broken\n" + data
        if i == 2:
            data += b'{"ts": 1790000000, "request_id": "q", "account_id": "a", "n": -1}\n'
        path = folder / name
        path.write_bytes(gzip.compress(data, 1) if name.endswith(".gz") else data)
        parts.append(str(path))
    return {"single": [str(SAMPLE)], "multi": parts}


def _audit(paths: list[str], out: Path, **config) -> tuple[str, str, Counter, list]:
    quarantined: list = []
    result = run_audit(paths, AuditConfig(**config), on_quarantine=quarantined.extend)
    out.mkdir(parents=True, exist_ok=True)
    write_accounts_csv(result, out / "accounts.csv")
    write_alerts(result, out / "alerts.jsonl")
    rows = [q.to_dict() for q in quarantined]
    return (
        (out / "accounts.csv").read_text(),
        (out / "alerts.jsonl").read_text(),
        result.quarantine_counts,
        rows,
    )


@pytest.fixture(scope="module")
def local_outputs(export, tmp_path_factory) -> dict[str, tuple]:
    out = tmp_path_factory.mktemp("local")
    return {name: _audit(paths, out / name) for name, paths in export.items()}


def test_partition_results_pickle_round_trip(export) -> None:
    part = fold_file(export["multi"][0])
    assert part.n_events > 0 and len(part.states) > 50
    back = pickle.loads(pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL))
    assert list(back.states) == list(part.states)
    for account, state in part.states.items():
        assert _state_fields(back.states[account]) == _state_fields(state)
    assert back.quarantine == part.quarantine == Counter({"invalid_json": 1})
    assert [(q.line, q.reason) for q in back.quarantined] == [(1, "invalid_json")]


def test_file_blocks_pickle_round_trip(export) -> None:
    # part-0 starts with a broken line: read by the serial reader (dicts of states);
    # part-2 by blocks of lines (ChunkAggregate)
    kinds = set()
    for path in (export["multi"][0], export["multi"][2]):
        blocks = fold_file_blocks(path)
        back = pickle.loads(pickle.dumps(blocks, protocol=pickle.HIGHEST_PROTOCOL))
        assert back.path == blocks.path and len(back.blocks) == len(blocks.blocks) >= 1
        for mine, theirs in zip(blocks.blocks, back.blocks, strict=True):
            assert mine[:2] == theirs[:2] and mine[3:] == theirs[3:]
            a, b = mine[2], theirs[2]
            kinds.add(type(a).__name__)
            if not isinstance(a, dict):
                a, b = a.to_states(), b.to_states()
            assert list(a) == list(b)
            assert all(_state_fields(a[k]) == _state_fields(b[k]) for k in a)
    assert kinds == {"dict", "ChunkAggregate"}


def test_tree_merge_equals_local_states(export) -> None:
    paths = export["multi"]
    local, local_stats = build_states(paths, workers=1)
    merged = fold_file(paths[0])
    for path in paths[1:]:
        merged = merge_results(merged, fold_file(path))
    assert list(merged.states) == list(local)  # account order kept (tie-breaks downstream)
    assert merged.n_events == local_stats["n_events"] == 10_335
    assert merged.quarantine == local_stats["quarantine"]
    as_of = local_stats["last_ts"]
    a = feature_frame(local, as_of)
    b = feature_frame(merged.states, as_of)
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["single", "multi"])
def test_synchronous_scheduler_parity(export, local_outputs, name, tmp_path) -> None:
    got = _audit(export[name], tmp_path, engine="dask", scheduler="synchronous")
    want = local_outputs[name]
    assert got[0] == want[0]  # accounts.csv: risk, action, cluster ids, features
    assert got[1] == want[1]  # alerts.jsonl
    assert got[2] == want[2]  # quarantine counts
    assert got[3] == want[3]  # quarantined records (file, line, reason, raw), in order
    if name == "multi":
        assert sum(want[2].values()) == 2
        assert "action" in want[0] and want[1].count("\n") > 0


@pytest.fixture
def small_blocks(monkeypatch) -> None:
    """Blocks of about 2 MB, so that every file spans several blocks (in this process
    and in the local engine's forked workers)."""
    import detector.ingest.readers as readers

    original = readers.iter_line_blocks
    monkeypatch.setattr(
        readers, "iter_line_blocks", lambda p, block_bytes=0: original(p, block_bytes=2 << 20)
    )


def test_ordered_parity_with_multi_block_files(export, small_blocks, tmp_path) -> None:
    """Several blocks per file: the ordered reduction still gives identical states."""
    paths = export["multi"]
    local, local_stats = build_states(paths, workers=2)
    dask_states, dask_stats = build_states_dask(paths, scheduler="synchronous")
    assert list(dask_states) == list(local)
    for account, state in local.items():
        assert _state_fields(dask_states[account]) == _state_fields(state), account
    assert dask_stats == local_stats
    assert _audit(paths, tmp_path / "d", engine="dask", scheduler="synchronous") == _audit(
        paths, tmp_path / "l"
    )


def test_tree_reduction_matches_within_float_rounding(export, small_blocks) -> None:
    """reduce="tree": exact counts and sketches, features equal to rounding."""
    paths = export["multi"]
    local, local_stats = build_states(paths, workers=2)
    tree, tree_stats = build_states_dask(
        paths, scheduler="synchronous", reduce="tree", split_every=2
    )
    assert list(tree) == list(local)
    assert tree_stats["n_events"] == local_stats["n_events"] == 10_335
    assert tree_stats["quarantine"] == local_stats["quarantine"]
    assert tree_stats["files"] == local_stats["files"]
    for account, state in local.items():
        other = tree[account]
        assert other.hour_of_day.tolist() == state.hour_of_day.tolist()
        assert other.minutes.values.tolist() == state.minutes.values.tolist()
        assert {k: _hll(v) for k, v in other.sketches.items()} == {
            k: _hll(v) for k, v in state.sketches.items()
        }
    as_of = local_stats["last_ts"]
    a = feature_frame(local, as_of)
    b = feature_frame(tree, as_of)
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=1e-9)


def test_unknown_reduction_is_refused(export) -> None:
    with pytest.raises(ValueError, match="unknown reduce"):
        build_states_dask(export["single"], scheduler="synchronous", reduce="random")


def test_local_cluster_parity(export, local_outputs, tmp_path) -> None:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        for name in ("single", "multi"):
            got = _audit(export[name], tmp_path / name, engine="dask", scheduler=client)
            assert got == local_outputs[name], name
            # one block per file here, so the tree gives the same files too
            got = _audit(
                export[name],
                tmp_path / f"{name}-tree",
                engine="dask",
                scheduler=client,
                dask_reduce="tree",
            )
            assert got == local_outputs[name], f"{name} tree"
        # the files were folded on the workers, not in this process
        assert len(client.scheduler_info()["workers"]) == 2


def test_globs_expand_sorted_and_missing_is_an_error(export, tmp_path) -> None:
    folder = Path(export["multi"][0]).parent
    assert expand_globs([str(folder / "part-*.jsonl.gz")]) == [
        str(folder / "part-0.jsonl.gz"),
        str(folder / "part-2.jsonl.gz"),
    ]
    with pytest.raises(FileNotFoundError):
        expand_globs([str(tmp_path / "nothing-*.jsonl")])
    states, stats = build_states_dask(
        [str(folder / "part-*")], scheduler="synchronous"
    )  # all three parts
    assert stats["n_events"] == 10_335 and len(states) > 100
    assert [Path(f["file"]).name for f in stats["files"]] == [
        "part-0.jsonl.gz",
        "part-1.jsonl",
        "part-2.jsonl.gz",
    ]


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown engine"):
        run_audit([str(SAMPLE)], AuditConfig(engine="spark"))
