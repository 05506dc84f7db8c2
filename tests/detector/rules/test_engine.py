"""RuleSet: vectorised evaluation equals row-by-row, evidence, reload, defaults, speed."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector.features.schema import FEATURE_NAMES
from detector.rules import BENIGN_DEFAULTS, RuleHit, RuleSet, feature_row
from detector.rules.condition import truth
from detector.rules.defaults import missing_defaults
from tests.detector.rules._helpers import RuleWriter, valid_rule


@pytest.fixture(scope="module")
def shipped(repo_root: Path) -> RuleSet:
    return RuleSet.load(repo_root / "rules")


def random_frame(n: int, seed: int, nan_share: float = 0.05) -> pd.DataFrame:
    """Feature rows scattered around the thresholds rules use, with some NaN."""
    rng = np.random.default_rng(seed)
    data = {}
    for name, default in BENIGN_DEFAULTS.items():
        if name.endswith("_share") or name == "distinct_prompt_ratio":
            col = rng.random(n)
        elif name == "hours_of_day_active":
            col = rng.integers(0, 25, n).astype(float)
        else:
            col = rng.exponential(max(float(default), 1.0) * 30, n)
        col[rng.random(n) < nan_share] = np.nan
        data[name] = col
    return pd.DataFrame(data, index=pd.Index([f"acct-{i}" for i in range(n)], name="account_id"))


def test_defaults_cover_the_schema() -> None:
    assert missing_defaults() == []
    assert set(BENIGN_DEFAULTS) == set(FEATURE_NAMES)
    assert feature_row()["n_events"] == 40
    assert math.isnan(feature_row({"cot_share": None})["cot_share"])
    with pytest.raises(KeyError):
        feature_row({"nope": 1})


def test_neutral_row_matches_no_shipped_rule(shipped: RuleSet) -> None:
    frame = pd.DataFrame([feature_row()])
    assert not shipped.evaluate(frame).to_numpy().any()
    assert shipped.hits_for(feature_row()) == []


def test_evaluate_equals_row_by_row_on_100_rows(shipped: RuleSet) -> None:
    frame = random_frame(100, seed=1)
    matches = shipped.evaluate(frame)
    assert list(matches.columns) == shipped.ids
    assert matches.index.equals(frame.index)
    assert all(dtype == np.dtype(bool) for dtype in matches.dtypes)
    for account, row in frame.iterrows():
        values = row.to_dict()
        expected = [truth(rule.condition, values) is True for rule in shipped.active]
        assert matches.loc[account].tolist() == expected
        hit_ids = {h.rule_id for h in shipped.hits_for(row)}
        assert hit_ids == {rid for rid, hit in zip(shipped.ids, expected, strict=True) if hit}


def test_random_rows_do_hit_rules(shipped: RuleSet) -> None:
    """Guard for the comparison above: the random frame exercises matches and misses."""
    matches = shipped.evaluate(random_frame(2000, seed=2))
    assert matches.to_numpy().any()
    assert not matches.to_numpy().all()


def test_hits_equals_hits_for(shipped: RuleSet) -> None:
    frame = random_frame(300, seed=3)
    hits = shipped.hits(frame)
    matches = shipped.evaluate(frame)
    assert set(hits) == set(matches.index[matches.any(axis=1)])
    for account, account_hits in hits.items():
        assert account_hits == shipped.hits_for(frame.loc[account])


def test_hits_for_evidence_and_order(write_rule: RuleWriter) -> None:
    low = valid_rule(level="low", action="review", title="B low")
    high = valid_rule(level="high", action="block", title="A high")
    write_rule(low, name="a.yml")
    path = write_rule(high, name="b.yml")
    rules = RuleSet.load(path.parent)
    row = feature_row({"cot_share": 0.92, "n_events": 500})
    hits = rules.hits_for(row)
    assert [h.title for h in hits] == ["A high", "B low"]
    hit = hits[0]
    assert isinstance(hit, RuleHit)
    assert (hit.rule_id, hit.level, hit.action, hit.family) == (
        high["id"],
        "high",
        "block",
        "harvest",
    )
    assert hit.evidence == ("cot_share 0.92 >= 0.5", "n_events 500 >= 100", "mcq_share 0.02 < 0.3")
    assert hit.conditions[0].actual == pytest.approx(0.92)
    assert hit.to_dict()["evidence"] == list(hit.evidence)
    assert rules.hits_for(pd.Series(row)) == hits


def test_nan_feature_never_matches(write_rule: RuleWriter) -> None:
    rules = RuleSet.load(write_rule().parent)
    frame = pd.DataFrame(
        [
            feature_row({"cot_share": 0.9, "n_events": 500}),
            feature_row({"cot_share": None, "n_events": 500}),
            feature_row({"cot_share": 0.9, "n_events": 500, "mcq_share": None}),
        ]
    )
    assert rules.evaluate(frame).iloc[:, 0].tolist() == [True, False, False]


def test_nullable_and_integer_columns(write_rule: RuleWriter) -> None:
    rules = RuleSet.load(write_rule().parent)
    frame = pd.DataFrame([feature_row({"cot_share": 0.9, "n_events": 500})] * 2)
    frame["n_events"] = pd.array([500, None], dtype="Int64")
    assert rules.evaluate(frame).iloc[:, 0].tolist() == [True, False]


def test_missing_feature_column_is_an_error(write_rule: RuleWriter) -> None:
    rules = RuleSet.load(write_rule().parent)
    frame = pd.DataFrame([feature_row()]).drop(columns=["cot_share"])
    with pytest.raises(KeyError, match="cot_share"):
        rules.evaluate(frame)
    with pytest.raises(KeyError, match="cot_share"):
        rules.hits_for(frame.iloc[0])


def test_empty_frame(shipped: RuleSet) -> None:
    frame = pd.DataFrame(columns=list(FEATURE_NAMES), dtype="float64")
    out = shipped.evaluate(frame)
    assert out.shape == (0, len(shipped.ids))
    assert shipped.hits(frame) == {}


def test_reload_picks_up_edits_and_keeps_old_set(write_rule: RuleWriter) -> None:
    doc = valid_rule()
    path = write_rule(doc)
    first = RuleSet.load(path.parent)
    row = feature_row({"cot_share": 0.55, "n_events": 500})
    assert first.hits_for(row)

    doc["condition"]["all"][0]["value"] = 0.6
    doc["tests"][0]["features"]["cot_share"] = 0.9
    write_rule(doc)
    second = RuleSet.load(path.parent)
    assert second.hits_for(row) == []
    assert second.version != first.version
    assert first.hits_for(row)  # the old set is untouched

    doc["condition"]["all"][0]["feature"] = "nope"
    write_rule(doc)
    with pytest.raises(ValueError, match="unknown feature 'nope'"):
        RuleSet.load(path.parent)


def test_constructor_rejects_duplicate_ids(write_rule: RuleWriter) -> None:
    rules = RuleSet.load(write_rule().parent)
    with pytest.raises(ValueError, match="duplicate rule ids"):
        RuleSet([*rules.rules, *rules.rules])


def test_repr_and_required_features(shipped: RuleSet) -> None:
    assert "active" in repr(shipped)
    assert shipped.required_features <= set(FEATURE_NAMES)


def test_100k_accounts_in_well_under_a_second(shipped: RuleSet) -> None:
    frame = random_frame(100_000, seed=4, nan_share=0.01)
    start = time.perf_counter()
    matches = shipped.evaluate(frame)
    elapsed = time.perf_counter() - start
    assert matches.shape == (100_000, len(shipped.ids))
    assert elapsed < 1.0, f"evaluate took {elapsed:.2f}s"
