"""Detection metrics against ground truth."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import pytest

from detector.evaluate import (
    evaluate,
    join_labels,
    main,
    per_kind_table,
    recall_at_fpr,
    threshold_at_fpr,
)


def frames():
    accounts = pd.DataFrame(
        {
            "account_id": ["d1", "d2", "d3", "b1", "b2", "b3", "b4"],
            "risk": [0.9, 0.8, 0.4, 0.1, 0.7, 0.3, 0.0],
            "action": ["block", "throttle", "review", "allow", "throttle", "review", "allow"],
        }
    )
    labels = pd.DataFrame(
        {
            "account_id": ["d1", "d2", "d3", "b1", "b2", "b3", "b4", "b5"],
            "label": ["distill"] * 3 + ["benign"] * 5,
            "kind": ["hydra", "hydra", "cot_harvest", "chat", "eval", "chat", "chat", "chat"],
            "campaign_id": ["c1", "c1", "", "", "", "", "", ""],
        }
    )
    return accounts, labels


def test_flagged_means_any_action_but_allow() -> None:
    out = evaluate(*frames())
    assert out["recall"] == 1.0  # review counts as flagged
    assert out["fpr"] == round(2 / 5, 4)  # b2 throttle, b3 review; b5 unscored -> allow
    assert out["review_rate_benign"] == round(1 / 5, 4)
    assert out["unscored_labelled"] == 1
    assert out["per_kind"]["hydra"] == {
        "label": "distill",
        "accounts": 2,
        "flagged": 2,
        "flag_rate": 1.0,
        "block": 1,
        "throttle": 1,
        "review": 0,
        "allow": 0,
        "mean_risk": 0.85,
    }
    chat = out["per_kind"]["chat"]
    assert (chat["accounts"], chat["flagged"], chat["review"], chat["allow"]) == (4, 1, 1, 3)


def test_missing_accounts_get_risk_zero_and_allow() -> None:
    joined = join_labels(*frames())
    assert joined.loc["b5", "risk"] == 0.0
    assert joined.loc["b5", "action"] == "allow"
    assert not joined.loc["b5", "flagged"] and not joined.loc["b5", "scored"]


def test_ranking_metrics_by_hand() -> None:
    out = evaluate(*frames())
    # distill risks 0.9, 0.8, 0.4; benign 0.7, 0.3, 0.1, 0.0, 0.0 (b5 missing)
    # pairs (d, b) ranked right: 0.9 -> 5, 0.8 -> 5, 0.4 -> 4 of 5: AUC = 14 / 15
    assert out["roc_auc"] == round(14 / 15, 4)
    # precision at each distiller: 1/1, 2/2, 3/4 -> AP = (1 + 1 + 0.75) / 3
    assert out["average_precision"] == round(2.75 / 3, 4)
    # 1% of 5 benign = 0 may be above: threshold just above 0.7, recall 2 / 3
    assert out["recall_at_fpr"] == round(2 / 3, 4)
    assert 0.7 < out["threshold_at_fpr"] < 0.8


def test_perfect_ranking_gives_auc_one() -> None:
    accounts, labels = frames()
    accounts["risk"] = [0.9, 0.8, 0.75, 0.1, 0.2, 0.3, 0.0]
    out = evaluate(accounts, labels)
    assert out["roc_auc"] == 1.0
    assert out["average_precision"] == 1.0
    assert out["recall_at_fpr"] == 1.0


def test_one_class_only_has_no_ranking_metrics() -> None:
    accounts, labels = frames()
    benign = labels[labels["label"] == "benign"]
    out = evaluate(accounts, benign)
    assert out["roc_auc"] is None and out["recall_at_fpr"] is None
    assert out["recall"] is None and out["fpr"] == round(2 / 5, 4)


def test_threshold_at_fpr_admits_at_most_the_share() -> None:
    rng = np.random.default_rng(0)
    benign = rng.random(1000)
    t = threshold_at_fpr(benign, 0.01)
    assert (benign >= t).mean() <= 0.01
    # the smallest such threshold: one more benign account would be above the next lower
    assert (benign >= np.sort(benign)[::-1][10]).mean() > 0.01
    ties = np.zeros(200)
    assert threshold_at_fpr(ties, 0.01) > 0.0  # all tied at 0: nothing may be at 0


@pytest.mark.parametrize("fpr", [0.0, 0.01, 0.1])
def test_recall_at_fpr_agrees_with_threshold(fpr: float) -> None:
    rng = np.random.default_rng(1)
    y = np.r_[np.ones(50, dtype=int), np.zeros(500, dtype=int)]
    scores = np.r_[rng.normal(1.5, 1.0, 50), rng.normal(0.0, 1.0, 500)]
    t = threshold_at_fpr(scores[y == 0], fpr)
    assert recall_at_fpr(y, scores, fpr) == pytest.approx((scores[y == 1] >= t).mean())


def test_per_kind_table_columns() -> None:
    table = per_kind_table(join_labels(*frames()))
    assert list(table.index) == ["chat", "cot_harvest", "eval", "hydra"]
    assert table.loc["eval", "throttle"] == 1 and table.loc["eval", "flag_rate"] == 1.0


def test_accounts_without_risk_column_rank_as_zero() -> None:
    accounts, labels = frames()
    out = evaluate(accounts.drop(columns="risk"), labels)
    assert out["roc_auc"] == 0.5 and out["recall"] == 1.0


def test_cli_prints_table_and_json(tmp_path, capsys) -> None:
    accounts, labels = frames()
    accounts.to_csv(tmp_path / "a.csv", index=False)
    labels.to_csv(tmp_path / "l.csv", index=False)
    assert main([str(tmp_path / "a.csv"), str(tmp_path / "l.csv")]) == 0
    text = capsys.readouterr().out
    assert "ROC-AUC 0.9333" in text and "cot_harvest" in text and "recall 1.0000" in text
    assert main([str(tmp_path / "a.csv"), str(tmp_path / "l.csv"), "--json"]) == 0
    data = orjson.loads(capsys.readouterr().out)
    assert data["per_kind"]["chat"]["review"] == 1
