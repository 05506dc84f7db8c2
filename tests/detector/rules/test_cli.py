"""``distillwatch rules test`` / ``rules list`` through click's CliRunner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main
from tests.detector.rules._helpers import RuleWriter, valid_rule


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["rules", *args])
    return result.exit_code, result.stdout, result.stderr


def test_rules_test_on_shipped_rules(repo_root: Path) -> None:
    code, out, err = run("test", "--rules-dir", str(repo_root / "rules"))
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].split() == ["rule", "title", "tests", "result"]
    n_rules = len(list((repo_root / "rules").glob("*.yml")))
    assert f"{n_rules}/{n_rules} rule files valid" in out
    assert "allowlists: 2 entries" in out
    assert err == ""


def test_rules_test_verbose_lists_each_test(repo_root: Path) -> None:
    code, out, _ = run("test", "-v", "--rules-dir", str(repo_root / "rules"))
    assert code == 0
    assert "ok   232e18a3 blatant reasoning harvester (expect match, got match)" in out


def test_rules_test_fails_on_failing_inline_test(write_rule: RuleWriter) -> None:
    good = write_rule(name="good.yml")
    doc = valid_rule(title="Broken rule")
    doc["tests"][1]["features"]["mcq_share"] = 0.1
    bad = write_rule(doc, name="bad.yml")
    code, out, err = run("test", "--rules-dir", str(good.parent))
    assert code == 1
    row = next(line for line in out.splitlines() if "Broken rule" in line)
    assert row.split()[-2:] == ["1/2", "FAIL"]
    assert f"{bad}: inline test 'eval' failed: expected no_match, got match" in err
    assert "3/4 inline tests passed" in out


def test_rules_test_fails_on_invalid_file(write_rule: RuleWriter) -> None:
    path = write_rule(valid_rule(level="severe"), name="bad.yml")
    code, out, err = run("test", "--rules-dir", str(path.parent))
    assert code == 1
    assert "bad.yml  (invalid rule file)" in out
    assert f"{path}: level: unknown level 'severe'" in err


def test_rules_test_reports_invalid_allowlist(write_rule: RuleWriter) -> None:
    path = write_rule()
    (path.parent / "allowlists").mkdir()
    (path.parent / "allowlists" / "accounts.yml").write_text("entries: [{account_id: a}]\n")
    code, _, err = run("test", "--rules-dir", str(path.parent))
    assert code == 1
    assert "entries[0].reason: required" in err


def test_rules_list_table_and_json(repo_root: Path) -> None:
    code, out, _ = run("list", "--rules-dir", str(repo_root / "rules"))
    assert code == 0
    assert out.splitlines()[0].split() == ["id", "level", "action", "family", "status", "title"]
    assert "232e18a3-5e46-410a-a940-b549fe28a94d  critical  block" in out
    code, out, _ = run("list", "--json", "--rules-dir", str(repo_root / "rules"))
    data = json.loads(out)
    assert {"id", "level", "action", "family", "status", "title", "file"} <= set(data[0])


def test_rules_list_exits_1_on_invalid_rules(write_rule: RuleWriter) -> None:
    write_rule(name="good.yml")
    path = write_rule(valid_rule(family="nope"), name="bad.yml")
    code, out, err = run("list", "--rules-dir", str(path.parent))
    assert code == 1
    assert "CoT share at volume" in out
    assert "family: unknown family 'nope'" in err


def test_default_rules_dir_is_cwd_rules(
    repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(repo_root / "rules", tmp_path / "rules")
    (tmp_path / "rules" / "harvest_cot_at_volume.yml").unlink()
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("list")
    assert code == 0
    assert "232e18a3" not in out
    assert "95aa4ee5" in out


def test_default_rules_dir_falls_back_to_packaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./rules here
    code, out, err = run("test")
    assert code == 0, out + err
    assert "detector/rules/builtin" in out
