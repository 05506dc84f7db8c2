"""deploy/prometheus/alerts.yml: checked and unit-tested with Debian's promtool, plus the
conventions every rule follows (severity, annotations, runbook_url, a firing and a quiet
test case per alert)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
RUNBOOK_BASE = "https://github.com/distillwatch/distillwatch/blob/main/docs/runbook.md"
SEVERITIES = {"critical", "warning"}
PROMTOOL = "/usr/bin/promtool"


def _promtool() -> str:
    """Path of promtool, or skip: CI installs Debian's ``prometheus`` package."""
    found = PROMTOOL if Path(PROMTOOL).exists() else shutil.which("promtool")
    if not found:
        pytest.skip("promtool not installed (apt install prometheus)")
    return found


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule of alerts.yml."""
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def test_promtool_check_rules() -> None:
    proc = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in proc.stdout


def test_promtool_unit_tests_pass() -> None:
    proc = subprocess.run(
        [_promtool(), "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """The unit tests compare annotations: a wrong runbook_url in the rules fails them."""
    broken = RULES.read_text().replace("#distillwatchredisdown", "#wrong-anchor")
    (tmp_path / RULES.name).write_text(broken)
    (tmp_path / RULE_TESTS.name).write_text(RULE_TESTS.read_text())
    proc = subprocess.run(
        [_promtool(), "test", "rules", RULE_TESTS.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "DistillwatchRedisDown" in proc.stdout + proc.stderr


def test_rules_follow_the_conventions() -> None:
    rules = alert_rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    expected = {
        "DistillwatchTargetDown",
        "DistillwatchRedisDown",
        "DistillwatchIngestLagHigh",
        "DistillwatchDeadLetters",
        "DistillwatchQuarantineSpike",
        "DistillwatchScorerStale",
        "DistillwatchGatewayFailOpen",
        "DistillwatchGatewayShedding",
        "DistillwatchSinkFailing",
        "DistillwatchSinkDropping",
    }
    assert set(names) == expected
    for rule in rules:
        name = rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, name
        ann = rule["annotations"]
        assert set(ann) >= {"summary", "description", "runbook_url"}, name
        assert "$value" in ann["description"], name
        assert ann["runbook_url"] == f"{RUNBOOK_BASE}#{name.lower()}", name


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    doc = yaml.safe_load(RULE_TESTS.read_text())
    assert doc["rule_files"] == [RULES.name]
    firing: dict[str, list[dict[str, Any]]] = {}
    quiet: set[str] = set()
    for case in doc["tests"]:
        for check in case.get("alert_rule_test", []):
            name = check["alertname"]
            if check.get("exp_alerts"):
                firing.setdefault(name, []).extend(check["exp_alerts"])
            else:
                quiet.add(name)
    for rule in alert_rules():
        name = rule["alert"]
        assert name in quiet, f"{name}: no case where it stays quiet"
        assert name in firing, f"{name}: no case where it fires"
        for exp in firing[name]:
            assert exp["exp_labels"]["severity"] == rule["labels"]["severity"]
            assert set(exp["exp_annotations"]) == set(rule["annotations"]), name
            assert exp["exp_annotations"]["runbook_url"] == rule["annotations"]["runbook_url"]
