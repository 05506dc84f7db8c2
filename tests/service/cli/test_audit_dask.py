"""``distillwatch audit --engine dask``: the same files out as the local engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from service.cli import main
from tests.service.cli.test_audit_cmd import write_export

pytest.importorskip("dask", reason="dask not installed: pip install 'distillwatch[dask]'")
pytest.importorskip(
    "distributed", reason="dask.distributed not installed: pip install 'distillwatch[dask]'"
)

OUTPUTS = ("accounts.csv", "alerts.jsonl", "quarantine.jsonl")


@pytest.fixture
def exports(tmp_path: Path) -> list[Path]:
    """Two files of one export (a malformed line in each comes from write_export)."""
    paths = []
    for seed in (1, 2):
        path = tmp_path / "logs" / f"day-{seed}.jsonl"
        path.parent.mkdir(exist_ok=True)
        write_export(path, seed=seed)
        paths.append(path)
    return paths


def _run(args: list[str]) -> Result:
    result = CliRunner().invoke(main, ["audit", *args, "--no-report", "-q"])
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("reduce", ["ordered", "tree"])
def test_dask_engine_cli_matches_local(exports: list[Path], tmp_path: Path, reduce: str) -> None:
    _run([*map(str, exports), "--out", str(tmp_path / "local")])
    pattern = str(exports[0].parent / "day-*.jsonl")  # quoted glob: expanded, sorted
    args = ["--engine", "dask", "--scheduler", "sync", "--dask-reduce", reduce]
    _run([pattern, "--out", str(tmp_path / "dask"), *args])
    for name in OUTPUTS:
        local = (tmp_path / "local" / name).read_text()
        assert local, name
        assert (tmp_path / "dask" / name).read_text() == local, name
    assert "harvester-1" in (tmp_path / "local" / "alerts.jsonl").read_text()


def test_dask_engine_default_local_cluster(exports: list[Path], tmp_path: Path) -> None:
    """No --scheduler: the console script starts (and stops) a private LocalCluster."""
    _run([*map(str, exports), "--out", str(tmp_path / "local")])
    exe = Path(sys.executable).with_name("distillwatch")
    out = tmp_path / "dask"
    args = ["--out", str(out), "--engine", "dask", "--no-report", "-q"]
    proc = subprocess.run(
        [str(exe), "audit", *map(str, exports), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "accounts" in proc.stdout
    for name in OUTPUTS:
        assert (out / name).read_text() == (tmp_path / "local" / name).read_text(), name


def test_scheduler_needs_the_dask_engine(exports: list[Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["audit", str(exports[0]), "--out", str(tmp_path), "--scheduler", "sync"]
    )
    assert result.exit_code == 2
    assert "--engine dask" in result.output


def test_glob_matching_nothing_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["audit", str(tmp_path / "none-*.jsonl"), "--out", str(tmp_path), "-q"]
    )
    assert result.exit_code == 2
    assert "no file matches" in result.output
