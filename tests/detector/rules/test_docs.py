"""``docs/rules.md`` is generated from the rule files and stays current."""

from __future__ import annotations

from pathlib import Path

import yaml

from detector.rules import parse_rule, run_rule_tests
from detector.rules.docs import _EXAMPLE, render


def test_docs_rules_md_is_current(repo_root: Path) -> None:
    current = (repo_root / "docs" / "rules.md").read_text(encoding="utf-8")
    assert current == render(repo_root / "rules"), (
        "docs/rules.md is stale: run `python -m detector.rules.docs > docs/rules.md`"
    )


def test_documented_example_rule_is_valid() -> None:
    rule = parse_rule(yaml.safe_load(_EXAMPLE), "docs example")
    assert all(r.passed for r in run_rule_tests(rule))
