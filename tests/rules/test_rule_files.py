"""Every rule in ``rules/``: valid, its inline tests pass, and the set covers the families.

Parametrised over the files, so a broken rule shows up under its own name.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.features.schema import FAMILIES, spec
from detector.rules import Rule, RuleSet, check_directory, feature_row, load_rule_file
from detector.rules.condition import NotOf, iter_leaves
from detector.rules.engine import rule_files, run_rule_tests

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
FILES = rule_files(RULES_DIR)


def _legit_exclusions(node: object) -> set[str]:
    """Features of the ``legit`` family used under a ``not``."""
    found: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, NotOf):
            found |= {
                leaf.feature
                for leaf in iter_leaves(current.item)
                if spec(leaf.feature).family == "legit"
            }
        elif hasattr(current, "items"):
            stack.extend(current.items)
    return found


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_rule_file(path: Path) -> None:
    rule = load_rule_file(path)
    results = run_rule_tests(rule)
    failures = [
        f"{r.name}: expected {r.expect}, got {r.got} ({r.detail})" for r in results if not r.passed
    ]
    assert not failures, f"{path.name}: " + "; ".join(failures)
    expects = {r.expect for r in results}
    assert expects == {"match", "no_match"}
    assert rule.falsepositives
    assert rule.tests and all(t.name for t in rule.tests)


@pytest.fixture(scope="module")
def rules() -> list[Rule]:
    report = check_directory(RULES_DIR)
    assert report.ok, "\n".join(map(str, report.problems))
    return report.rules


def test_at_least_twelve_rules_with_unique_ids(rules: list[Rule]) -> None:
    assert len(rules) >= 12
    assert len({r.id for r in rules}) == len(rules)


def test_every_signal_family_is_covered(rules: list[Rule]) -> None:
    active = [r for r in rules if not r.deprecated]
    assert {r.family for r in active} >= set(FAMILIES) - {"legit"}


def test_legit_family_used_as_exclusion(rules: list[Rule]) -> None:
    excluding = [r for r in rules if _legit_exclusions(r.condition)]
    assert len(excluding) >= 1
    used = set().union(*(_legit_exclusions(r.condition) for r in rules))
    assert {"mcq_share", "short_answer_share", "tools_share"} <= used


def test_every_rule_has_a_volume_floor_or_sustained_span(rules: list[Rule]) -> None:
    """No rule fires on a handful of requests: each reads n_events or a span/rate floor."""
    floors = {"n_events", "active_span_hours", "events_per_hour", "completion_tokens_per_hour"}
    for rule in rules:
        assert rule.features & floors, f"{rule.source}: no volume floor"


def test_benign_defaults_match_no_rule() -> None:
    rules = RuleSet.load(RULES_DIR)
    assert rules.hits_for(feature_row()) == []
