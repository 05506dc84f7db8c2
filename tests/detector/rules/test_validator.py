"""The validator: every broken rule file fails with a message naming the file and problem."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from detector.rules import RuleSet, RuleValidationError, check_directory, load_rule_file
from tests.detector.rules._helpers import RuleWriter, valid_rule


def problems_of(directory: Path) -> list[str]:
    report = check_directory(directory)
    return [str(p) for p in report.problems]


def assert_fails(write_rule: RuleWriter, doc: Any, fragment: str) -> None:
    path = write_rule(doc, name="bad.yml")
    problems = problems_of(path.parent)
    assert problems, "expected a validation problem"
    assert any(str(path) in p and fragment in p for p in problems), problems
    with pytest.raises(RuleValidationError) as info:
        RuleSet.load(path.parent)
    assert fragment in str(info.value)
    assert "bad.yml" in str(info.value)


def test_valid_rule_loads(write_rule: RuleWriter) -> None:
    path = write_rule()
    rule = load_rule_file(path)
    assert rule.family == "harvest"
    assert rule.features == {"cot_share", "n_events", "mcq_share"}
    assert RuleSet.load(path.parent).ids == [rule.id]


def test_unknown_feature(write_rule: RuleWriter) -> None:
    doc = valid_rule(condition={"feature": "cot_ratio", "op": ">=", "value": 0.5})
    assert_fails(write_rule, doc, "condition.feature: unknown feature 'cot_ratio'")


def test_unknown_feature_in_test_row(write_rule: RuleWriter) -> None:
    doc = valid_rule()
    doc["tests"][0]["features"]["cot_ratio"] = 0.9
    assert_fails(write_rule, doc, "tests[0].features: unknown feature 'cot_ratio'")


def test_unknown_op(write_rule: RuleWriter) -> None:
    doc = valid_rule(condition={"feature": "cot_share", "op": "~=", "value": 0.5})
    assert_fails(write_rule, doc, "unknown operator '~='")


def test_wrong_value_type_for_op(write_rule: RuleWriter) -> None:
    doc = valid_rule(condition={"feature": "cot_share", "op": "between", "value": 0.5})
    assert_fails(write_rule, doc, "'between' needs a list [low, high]")


def test_duplicate_id_across_files(write_rule: RuleWriter) -> None:
    rule_id = str(uuid.uuid4())
    write_rule(valid_rule(id=rule_id), name="a.yml")
    second = write_rule(valid_rule(id=rule_id), name="b.yml")
    problems = problems_of(second.parent)
    assert problems == [
        f"{second}: duplicate id {rule_id} (already used by {second.parent / 'a.yml'})"
    ]
    with pytest.raises(RuleValidationError, match="duplicate id"):
        RuleSet.load(second.parent)


@pytest.mark.parametrize(
    "bad_id",
    [
        "not-a-uuid",
        str(uuid.uuid1()),
        str(uuid.uuid4()).upper(),
        12345,
    ],
)
def test_non_uuid4_id(write_rule: RuleWriter, bad_id: Any) -> None:
    assert_fails(write_rule, valid_rule(id=bad_id), "id:")


@pytest.mark.parametrize("key", ["id", "title", "condition", "tests", "falsepositives", "date"])
def test_missing_required_key(write_rule: RuleWriter, key: str) -> None:
    doc = valid_rule()
    del doc[key]
    assert_fails(write_rule, doc, f"missing required key(s): {key}")


def test_unknown_top_level_key(write_rule: RuleWriter) -> None:
    assert_fails(write_rule, valid_rule(falsepositive=["x"]), "unknown key(s): falsepositive")


@pytest.mark.parametrize(
    ("key", "value"),
    [("level", "severe"), ("status", "draft"), ("action", "ban"), ("family", "coordination")],
)
def test_unknown_enumerations(write_rule: RuleWriter, key: str, value: str) -> None:
    assert_fails(write_rule, valid_rule(**{key: value}), f"{key}: unknown {key} {value!r}")


def test_empty_falsepositives(write_rule: RuleWriter) -> None:
    assert_fails(
        write_rule, valid_rule(falsepositives=[]), "falsepositives: must list at least one"
    )


def test_bad_date(write_rule: RuleWriter) -> None:
    assert_fails(write_rule, valid_rule(date="28/11/2026"), "date: must be a date YYYY-MM-DD")


def test_tests_need_positive_and_negative(write_rule: RuleWriter) -> None:
    doc = valid_rule()
    doc["tests"] = [doc["tests"][0]]
    assert_fails(write_rule, doc, "need at least one 'expect: match' and one 'expect: no_match'")


def test_tests_must_not_be_empty(write_rule: RuleWriter) -> None:
    assert_fails(write_rule, valid_rule(tests=[]), "tests: must be a non-empty list")


def test_bad_expect_and_duplicate_test_name(write_rule: RuleWriter) -> None:
    doc = valid_rule()
    doc["tests"].append({"name": "hit", "expect": "yes", "features": {}})
    path = write_rule(doc, name="bad.yml")
    problems = "\n".join(problems_of(path.parent))
    assert "tests[2].name: duplicate test name 'hit'" in problems
    assert "tests[2].expect: must be 'match' or 'no_match', got 'yes'" in problems


def test_test_value_out_of_range(write_rule: RuleWriter) -> None:
    doc = valid_rule()
    doc["tests"][0]["features"]["cot_share"] = 90
    assert_fails(write_rule, doc, "tests[0].features.cot_share: value 90 is outside")


def test_failing_inline_test(write_rule: RuleWriter) -> None:
    doc = valid_rule()
    doc["tests"][1]["features"]["mcq_share"] = 0.1  # the eval exclusion no longer applies
    path = write_rule(doc, name="bad.yml")
    problems = problems_of(path.parent)
    assert len(problems) == 1
    assert problems[0].startswith(
        f"{path}: inline test 'eval' failed: expected no_match, got match (matched on "
    )
    assert "mcq_share 0.1 < 0.3" in problems[0]


def test_failing_positive_test_explains_what_held_instead(write_rule: RuleWriter) -> None:
    doc = valid_rule()
    doc["tests"][0]["features"]["n_events"] = 20
    path = write_rule(doc, name="bad.yml")
    (problem,) = problems_of(path.parent)
    assert "expected match, got no_match (held instead: n_events 20 < 100)" in problem


def test_invalid_yaml_and_duplicate_yaml_key(write_rule: RuleWriter) -> None:
    assert_fails(write_rule, "id: [unclosed\n", "invalid YAML")
    text = "title: a\ntitle: b\n"
    assert_fails(write_rule, text, "duplicate key 'title'")


def test_empty_file_and_several_documents(write_rule: RuleWriter) -> None:
    assert_fails(write_rule, "", "expected a mapping of rule keys, got empty file")
    assert_fails(write_rule, "a: 1\n---\nb: 2\n", "2 YAML documents")


def test_all_problems_of_a_file_are_reported_at_once(write_rule: RuleWriter) -> None:
    doc = valid_rule(level="severe", action="ban")
    doc["condition"] = {"feature": "nope", "op": ">", "value": 1}
    path = write_rule(doc, name="bad.yml")
    problems = problems_of(path.parent)
    assert len(problems) == 3


def test_empty_or_missing_directory(tmp_path: Path) -> None:
    assert problems_of(tmp_path) == [f"{tmp_path}: no rule files (*.yml) found"]
    with pytest.raises(RuleValidationError, match="rules directory not found"):
        RuleSet.load(tmp_path / "nope")


def test_deprecated_rule_loads_but_is_not_evaluated(write_rule: RuleWriter) -> None:
    active = write_rule(name="a.yml")
    deprecated = valid_rule(status="deprecated")
    write_rule(deprecated, name="b.yml")
    rules = RuleSet.load(active.parent)
    assert len(rules) == 2
    assert rules.ids == [load_rule_file(active).id]
    assert rules.get(deprecated["id"]).deprecated
    report = check_directory(active.parent)
    assert deprecated["id"] in report.results  # its inline tests still run
