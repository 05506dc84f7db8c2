"""The shared vocabulary: one action ladder used by fusion, rules, linking, alerts."""

from __future__ import annotations

import doctest

import pytest

import detector.vocabulary as vocab
from detector import alerts, fusion
from detector.audit import outputs, report
from detector.linking import linker
from detector.rules import model as rules_model
from detector.vocabulary import Action, flagged, rank, risk_bands, stricter


def test_doctests_pass() -> None:
    result = doctest.testmod(vocab)
    assert result.attempted >= 3 and result.failed == 0


def test_the_ladder_orders_actions_not_letters() -> None:
    assert sorted(["block", "allow", "throttle", "review"], key=rank) == list(vocab.ACTIONS)
    assert Action.BLOCK > Action.THROTTLE > Action.REVIEW > Action.ALLOW
    assert Action.REVIEW >= "review" and not Action.REVIEW < "review"
    assert stricter("block", "review") == "block" and stricter("allow", "review") == "review"
    assert rank("no such action") == 0
    assert [a for a in vocab.ACTIONS if flagged(a)] == ["review", "throttle", "block"]
    assert Action("throttle") == "throttle" and f"{Action.BLOCK}" == "block"


def test_every_module_uses_the_one_ladder() -> None:
    assert fusion.ACTIONS is vocab.ACTIONS
    assert (
        report.ACTION_ORDER == vocab.ACTIONS_DESCENDING == ("block", "throttle", "review", "allow")
    )
    assert outputs.ALERT_ACTIONS == vocab.ALERT_ACTIONS
    assert linker._ACTION_RANK is vocab.ACTION_RANK
    assert rules_model.ACTIONS == ("review", "throttle", "block")  # what a rule may recommend
    assert rules_model.LEVELS == vocab.LEVELS
    assert alerts._SEVERITY is vocab.SEVERITY_OF_ACTION
    assert set(vocab.SEVERITY_OF_ACTION) == set(vocab.ACTIONS)


def test_risk_bands_are_the_fusion_thresholds() -> None:
    cfg = fusion.FusionConfig()
    assert [(b.name, b.lo) for b in risk_bands()] == [
        ("review", cfg.review_risk),
        ("block", cfg.block_risk),
    ]
    moved = fusion.FusionConfig(review_risk=0.4, block_risk=0.95)
    assert [b.lo for b in risk_bands(moved)] == [0.4, 0.95]
    body = vocab.vocabulary()
    assert body["risk_bands"] == [{"name": "review", "lo": 0.5}, {"name": "block", "lo": 0.9}]


@pytest.mark.parametrize("action", list(Action))
def test_fused_verdicts_speak_the_vocabulary(action: Action) -> None:
    assert action.value in vocab.ACTIONS and vocab.ACTION_RANK[action.value] == rank(action)
