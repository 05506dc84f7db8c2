"""``distillwatch inspect``: summaries, quarantine file, exit codes (CliRunner, real process)."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from service.cli import main
from tests.detector.ingest.helpers import LITELLM, bad_export_lines, write_bad_export

N_QUARANTINED = sum(len(reasons) for _, reasons, _ in bad_export_lines())
N_GOOD = sum(n for _, _, n in bad_export_lines())


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["inspect", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_summary_text(tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl.gz"
    write_bad_export(export)
    quarantine = tmp_path / "out" / "quarantine.jsonl"
    code, out, err = _run(
        str(export), str(LITELLM / "logging"), "--quarantine-out", str(quarantine)
    )
    assert code == 0, out + err
    assert f"{N_QUARANTINED} quarantined" in out
    assert "jsonl+gz" in out and "litellm" in out
    assert "2026-11-28T14:21:01.708398Z" in out  # latest LiteLLM capture
    assert "models        local-gpt " in out  # top model first
    assert "success" in out and "failure" in out
    for reason in ("invalid_json", "truncated_json", "not_an_object", "invalid_utf8"):
        assert reason in out
    assert f"{N_QUARANTINED} record(s) written" in out
    rows = [orjson.loads(line) for line in quarantine.read_bytes().splitlines()]
    assert len(rows) == N_QUARANTINED
    assert {row["source"] for row in rows} == {str(export)}
    assert "records/s" in err


def test_summary_json(tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    write_bad_export(export)
    code, out, _ = _run(str(export), str(LITELLM / "logging" / "virtualkeys-0011.json"), "--json")
    assert code == 0
    summary = orjson.loads(out)
    assert summary["records"] == N_GOOD + N_QUARANTINED + 5
    assert summary["events"] == N_GOOD + 5
    assert summary["quarantined"] == N_QUARANTINED
    assert sum(summary["quarantined_by_reason"].values()) == N_QUARANTINED
    assert summary["quarantined_by_reason"]["not_an_object"] == 5
    files = {f["path"]: f for f in summary["files"]}
    assert files[str(export)]["format"] == "mixed"
    assert files[str(export)]["formats"]["canonical"] >= 1
    litellm = files[str(LITELLM / "logging" / "virtualkeys-0011.json")]
    assert (litellm["format"], litellm["events"], litellm["quarantined"]) == ("litellm", 5, 0)
    assert summary["accounts"] >= 2
    assert summary["time_range"]["start"].endswith("Z")
    assert summary["status"]["success"] >= 5


def test_account_field_and_forced_format(tmp_path: Path) -> None:
    path = str(LITELLM / "logging" / "virtualkeys-0011.json")
    code, out, _ = _run(path, "--json", "--account-field", "metadata.user_api_key_hash")
    assert code == 0 and orjson.loads(out)["accounts"] == 2  # two keys of org-alpha
    code, out, _ = _run(path, "--json", "--format", "canonical")
    summary = orjson.loads(out)
    assert code == 0 and summary["events"] == 0
    assert summary["quarantined_by_reason"] == {"missing_time": 5}


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    code, out, err = _run(str(tmp_path / "missing.jsonl"))
    assert code == 2 and "does not exist" in out + err
    code, out, err = _run(str(LITELLM / "logging"), "--account-field", "a..b")
    assert code == 2 and "invalid account field" in out + err
    code, out, err = _run(str(LITELLM / "logging"), "--format", "splunk")
    assert code == 2
    empty = tmp_path / "empty-dir"
    empty.mkdir()
    code, out, err = _run(str(empty))
    assert code == 2 and "no supported log files" in out + err
    code, out, err = _run()
    assert code == 2


def test_stdin(tmp_path: Path) -> None:
    body = (LITELLM / "logging-ndjson" / "virtualkeys-0040.ndjson").read_bytes()
    result = CliRunner().invoke(main, ["inspect", "-", "--json"], input=gzip.compress(body))
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["events"] == 5


def test_real_process(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("distillwatch")
    if not exe.exists():
        pytest.skip("distillwatch console script not installed in this environment")
    export = tmp_path / "export.jsonl"
    write_bad_export(export)
    quarantine = tmp_path / "q.jsonl"
    proc = subprocess.run(
        [str(exe), "inspect", str(export), "--quarantine-out", str(quarantine), "--json"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    summary = orjson.loads(proc.stdout)
    assert (summary["events"], summary["quarantined"]) == (N_GOOD, N_QUARANTINED)
    assert len(quarantine.read_bytes().splitlines()) == N_QUARANTINED
    assert b"\r" not in proc.stderr  # no progress bar when stderr is not a terminal
    missing = subprocess.run(
        [str(exe), "inspect", str(tmp_path / "nope.jsonl")],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2 and b"does not exist" in missing.stderr
