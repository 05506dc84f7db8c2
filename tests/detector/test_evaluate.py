"""Detection metrics against ground truth."""

from __future__ import annotations

import pandas as pd

from detector.evaluate import evaluate, main


def frames():
    accounts = pd.DataFrame(
        {
            "account_id": ["d1", "d2", "d3", "b1", "b2", "b3", "b4"],
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


def test_recall_fpr_and_per_kind() -> None:
    out = evaluate(*frames())
    assert out["recall"] == round(2 / 3, 4)  # review does not count as flagged
    assert out["fpr"] == round(1 / 5, 4)  # b5 was never scored: allow
    assert out["review_rate_benign"] == round(1 / 5, 4)
    assert out["unscored_labelled"] == 1
    assert out["per_kind"]["hydra"] == {
        "label": "distill",
        "accounts": 2,
        "flagged": 2,
        "flag_rate": 1.0,
        "review_rate": 0.0,
    }
    assert out["per_kind"]["eval"]["flag_rate"] == 1.0


def test_cli_prints_table(tmp_path, capsys) -> None:
    accounts, labels = frames()
    accounts.to_csv(tmp_path / "a.csv", index=False)
    labels.to_csv(tmp_path / "l.csv", index=False)
    assert main([str(tmp_path / "a.csv"), str(tmp_path / "l.csv")]) == 0
    text = capsys.readouterr().out
    assert "recall 0.6667" in text and "cot_harvest" in text
