"""Condition trees: operators, nesting, three-valued NaN logic, feature_ref, evidence."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from detector.rules.condition import (
    AllOf,
    AnyOf,
    Leaf,
    NotOf,
    collect_evidence,
    describe,
    fmt_number,
    parse_condition,
    truth,
    truth_vector,
)
from detector.rules.defaults import feature_row

NAN = math.nan


def parse(data: Any):
    node, problems = parse_condition(data)
    assert problems == []
    return node


def vector(node, frame: pd.DataFrame) -> np.ndarray:
    return truth_vector(node, lambda name: frame[name].to_numpy(np.float64))[0]


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        (">", 0.5, [False, False, True, False]),
        (">=", 0.5, [False, True, True, False]),
        ("<", 0.5, [True, False, False, False]),
        ("<=", 0.5, [True, True, False, False]),
        ("==", 0.5, [False, True, False, False]),
        ("!=", 0.5, [True, False, True, False]),
        ("between", [0.4, 0.5], [False, True, False, False]),
        ("in", [0.2, 0.9], [True, False, True, False]),
    ],
)
def test_each_operator_vector_and_row(op: str, value: Any, expected: list[bool]) -> None:
    node = parse({"feature": "cot_share", "op": op, "value": value})
    frame = pd.DataFrame({"cot_share": [0.2, 0.5, 0.9, NAN]})
    assert vector(node, frame).tolist() == expected
    assert [truth(node, {"cot_share": v}) is True for v in frame["cot_share"]] == expected


def test_nan_never_satisfies_a_comparison_even_not_equal() -> None:
    for op in (">", ">=", "<", "<=", "==", "!="):
        node = parse({"feature": "cot_share", "op": op, "value": 0.5})
        assert truth(node, {"cot_share": NAN}) is None
        assert truth(node, {"cot_share": None}) is None


def test_not_of_unknown_stays_unknown() -> None:
    node = parse({"not": {"feature": "mcq_share", "op": ">=", "value": 0.3}})
    assert truth(node, {"mcq_share": NAN}) is None
    frame = pd.DataFrame({"mcq_share": [NAN, 0.1, 0.9]})
    t, f = truth_vector(node, lambda n: frame[n].to_numpy(np.float64))
    assert t.tolist() == [False, True, False]
    assert f.tolist() == [False, False, True]


def test_kleene_all_and_any() -> None:
    a_true = {"feature": "n_events", "op": ">=", "value": 10}
    a_false = {"feature": "n_events", "op": "<", "value": 10}
    unknown = {"feature": "cot_share", "op": ">=", "value": 0.5}
    row = {"n_events": 50.0, "cot_share": NAN}
    assert truth(parse({"all": [a_true, unknown]}), row) is None
    assert truth(parse({"all": [a_false, unknown]}), row) is False
    assert truth(parse({"any": [a_true, unknown]}), row) is True
    assert truth(parse({"any": [a_false, unknown]}), row) is None


def test_nested_groups() -> None:
    node = parse(
        {
            "all": [
                {
                    "any": [
                        {"feature": "cot_share", "op": ">=", "value": 0.5},
                        {"feature": "reasoning_token_share", "op": ">=", "value": 0.6},
                    ]
                },
                {
                    "not": {
                        "all": [
                            {"feature": "end_user_share", "op": ">=", "value": 0.8},
                            {"feature": "distinct_end_users", "op": ">=", "value": 100},
                        ]
                    }
                },
            ]
        }
    )
    assert isinstance(node, AllOf)
    assert isinstance(node.items[0], AnyOf)
    assert isinstance(node.items[1], NotOf)
    base = {
        "cot_share": 0.1,
        "reasoning_token_share": 0.7,
        "end_user_share": 0.9,
        "distinct_end_users": 10,
    }
    assert truth(node, base) is True
    assert truth(node, {**base, "distinct_end_users": 500}) is False
    assert truth(node, {**base, "reasoning_token_share": 0.1}) is False


def test_feature_ref_with_scale() -> None:
    node = parse(
        {"feature": "distinct_ip_prefixes", "op": ">=", "feature_ref": "distinct_ips", "scale": 0.8}
    )
    assert node == Leaf("distinct_ip_prefixes", ">=", None, "distinct_ips", 0.8)
    frame = pd.DataFrame(
        {"distinct_ip_prefixes": [80.0, 79.0, NAN, 10.0], "distinct_ips": [100.0, 100.0, 5.0, NAN]}
    )
    assert vector(node, frame).tolist() == [True, False, False, False]
    assert truth(node, {"distinct_ip_prefixes": 10.0, "distinct_ips": NAN}) is None


def test_feature_ref_default_scale_is_one() -> None:
    node = parse({"feature": "distinct_api_keys", "op": ">", "feature_ref": "distinct_user_agents"})
    assert truth(node, {"distinct_api_keys": 3, "distinct_user_agents": 2}) is True
    assert truth(node, {"distinct_api_keys": 2, "distinct_user_agents": 2}) is False


def test_evidence_texts_including_negation_and_ref() -> None:
    node = parse(
        {
            "all": [
                {"feature": "cot_share", "op": ">=", "value": 0.5},
                {
                    "any": [
                        {"feature": "n_events", "op": ">=", "value": 100},
                        {"feature": "mean_n", "op": ">=", "value": 4},
                    ]
                },
                {
                    "not": {
                        "any": [
                            {"feature": "mcq_share", "op": ">=", "value": 0.3},
                            {"feature": "tools_share", "op": "in", "value": [1]},
                        ]
                    }
                },
                {
                    "feature": "distinct_ip_prefixes",
                    "op": ">=",
                    "feature_ref": "distinct_ips",
                    "scale": 0.8,
                },
            ]
        }
    )
    row = feature_row(
        {"cot_share": 0.92, "n_events": 2400, "distinct_ips": 400, "distinct_ip_prefixes": 380}
    )
    texts = [e.text for e in collect_evidence(node, row)]
    assert texts == [
        "cot_share 0.92 >= 0.5",
        "n_events 2400 >= 100",
        "mcq_share 0.02 < 0.3",
        "tools_share 0.05 not in [1]",
        "distinct_ip_prefixes 380 >= 0.8 x distinct_ips 400 (= 320)",
    ]
    assert collect_evidence(node, {**row, "cot_share": 0.1}) == []
    why_not = collect_evidence(node, {**row, "cot_share": 0.1}, want=False)
    assert [e.text for e in why_not] == ["cot_share 0.1 < 0.5"]


def test_evidence_to_dict() -> None:
    node = parse({"feature": "n_events", "op": "between", "value": [10, 20]})
    (ev,) = collect_evidence(node, {"n_events": 15})
    assert ev.to_dict()["value"] == [10.0, 20.0]
    assert str(ev) == "n_events 15 between [10, 20]"


def test_describe_one_line() -> None:
    node = parse(
        {
            "all": [
                {"feature": "cot_share", "op": ">=", "value": 0.5},
                {
                    "not": {
                        "any": [
                            {"feature": "mcq_share", "op": ">=", "value": 0.3},
                            {"feature": "short_answer_share", "op": ">=", "value": 0.4},
                        ]
                    }
                },
            ]
        }
    )
    assert describe(node) == (
        "cot_share >= 0.5 AND NOT (mcq_share >= 0.3 OR short_answer_share >= 0.4)"
    )


def test_fmt_number() -> None:
    assert fmt_number(0.92) == "0.92"
    assert fmt_number(1500.0) == "1500"
    assert fmt_number(1234.5678) == "1234.6"
    assert fmt_number(NAN) == "NaN"
    assert fmt_number(math.inf) == "inf"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"feature": "cot_shares", "op": ">", "value": 1}, "unknown feature 'cot_shares'"),
        ({"feature": "cot_share", "op": "=>", "value": 0.5}, "unknown operator '=>'"),
        ({"feature": "cot_share", "op": ">", "value": "high"}, "needs a number"),
        ({"feature": "cot_share", "op": ">", "value": True}, "needs a number"),
        ({"feature": "cot_share", "op": ">", "value": 50}, "not a percentage"),
        ({"feature": "n_events", "op": ">", "value": -1}, "outside"),
        ({"feature": "cot_share", "op": "between", "value": [0.5]}, "[low, high]"),
        ({"feature": "cot_share", "op": "between", "value": [0.6, 0.5]}, "low 0.6 > high 0.5"),
        ({"feature": "cot_share", "op": "in", "value": []}, "non-empty list"),
        ({"feature": "cot_share", "op": "in", "value": 0.5}, "non-empty list"),
        ({"feature": "cot_share", "op": ">"}, "exactly one of 'value' or 'feature_ref'"),
        (
            {"feature": "cot_share", "op": ">", "value": 1, "feature_ref": "mcq_share"},
            "exactly one",
        ),
        ({"feature": "cot_share", "op": "in", "feature_ref": "mcq_share"}, "'feature_ref' works"),
        ({"feature": "cot_share", "op": ">", "feature_ref": "nope"}, "unknown feature 'nope'"),
        ({"feature": "cot_share", "op": ">", "value": 0.1, "scale": 2}, "only allowed together"),
        ({"feature": "cot_share", "op": ">", "value": 0.1, "vaule": 2}, "unknown key(s) 'vaule'"),
        ({"feature": "cot_share", "value": 0.1}, "missing 'op'"),
        ({"all": []}, "non-empty list"),
        ({"any": {"feature": "cot_share"}}, "non-empty list"),
        (
            {"all": [{"feature": "cot_share", "op": ">", "value": 0.1}], "any": []},
            "exactly one key",
        ),
        ({"maybe": []}, "expected one of 'all', 'any', 'not'"),
        ([1, 2], "expected a mapping"),
    ],
)
def test_parse_problems(data: Any, fragment: str) -> None:
    node, problems = parse_condition(data)
    assert node is None
    assert any(fragment in p for p in problems), problems


def test_problem_paths_point_into_the_tree() -> None:
    _, problems = parse_condition(
        {
            "all": [
                {"feature": "cot_share", "op": ">", "value": 0.1},
                {"not": {"feature": "mcq_shar", "op": ">", "value": 0.1}},
            ]
        }
    )
    assert problems[0].startswith("condition.all[1].not.feature: unknown feature 'mcq_shar'")
    assert "did you mean 'mcq_share'" in problems[0]
