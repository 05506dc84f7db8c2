"""Score an audit against ground-truth labels: ranking metrics, flagged shares, per kind.

``python -m detector.evaluate accounts.csv labels.csv [--json]``

Two views of the same audit:

* **ranking** over the continuous ``risk`` column: ROC-AUC, average precision and recall
  at 1% false-positive rate (scikit-learn's metrics). Labelled accounts the audit never
  scored (no events) get risk 0.
* **alerts**: an account is *flagged* when its action is anything other than ``allow``
  (``review`` included: a review of a legitimate account is a false positive in the
  analyst's queue). Unscored accounts count as ``allow``. The per-kind table keeps the
  counts of each action.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from detector.vocabulary import ACTIONS_DESCENDING

__all__ = [
    "ACTIONS",
    "TARGET_FPR",
    "evaluate",
    "join_labels",
    "main",
    "per_kind_table",
    "recall_at_fpr",
    "threshold_at_fpr",
]

ACTIONS = ACTIONS_DESCENDING
TARGET_FPR = 0.01


def join_labels(accounts: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Labels joined with the audit's ``risk`` and ``action``, indexed by account id.

    Parameters
    ----------
    accounts : pandas.DataFrame
        Audit accounts (``account_id`` column or index, ``action``, optionally ``risk``).
    labels : pandas.DataFrame
        Ground truth: ``account_id``, ``label`` (benign|distill), ``kind``.

    Returns
    -------
    pandas.DataFrame
        One row per labelled account: ``label``, ``kind``, ``risk`` (0 when missing),
        ``action`` (``allow`` when missing), ``scored`` and ``flagged`` (action != allow).
    """
    acc = accounts.set_index("account_id") if "account_id" in accounts.columns else accounts
    lab = labels.set_index("account_id") if "account_id" in labels.columns else labels
    cols = [c for c in ("risk", "action") if c in acc.columns]
    joined = lab[["label", "kind"]].join(acc[cols], how="left")
    joined["scored"] = joined.index.isin(acc.index)
    if "risk" not in joined.columns:
        joined["risk"] = np.nan
    joined["risk"] = pd.to_numeric(joined["risk"], errors="coerce").fillna(0.0).astype(float)
    joined["action"] = joined["action"].fillna("allow").astype(str)
    joined["flagged"] = joined["action"] != "allow"
    return joined


def threshold_at_fpr(benign_scores: Sequence[float] | np.ndarray, fpr: float = TARGET_FPR) -> float:
    """Smallest score ``t`` such that at most ``fpr`` of the benign scores are ``>= t``.

    Parameters
    ----------
    benign_scores : array-like
        Scores of legitimate accounts.
    fpr : float
        Largest admitted false-positive rate.

    Returns
    -------
    float
        The threshold: just above the ``(k+1)``-th largest benign score, with
        ``k = floor(fpr * n)``; 0.0 when there are no benign scores.
    """
    scores = np.sort(np.asarray(benign_scores, dtype=np.float64))[::-1]
    if not len(scores):
        return 0.0
    k = int(np.floor(fpr * len(scores) + 1e-9))
    if k >= len(scores):
        return float(scores[-1])
    return float(np.nextafter(scores[k], np.inf))


def recall_at_fpr(
    y_true: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    fpr: float = TARGET_FPR,
) -> float | None:
    """Largest true-positive rate over thresholds whose false-positive rate is ``<= fpr``.

    Parameters
    ----------
    y_true : array-like of {0, 1}
        1 = distiller.
    scores : array-like
        Continuous risk, higher = more suspicious.
    fpr : float
        Largest admitted false-positive rate.

    Returns
    -------
    float or None
        Recall at that operating point; None when one class is absent.
    """
    y = np.asarray(y_true, dtype=int)
    if len(np.unique(y)) < 2:
        return None
    fprs, tprs, _ = roc_curve(y, np.asarray(scores, dtype=np.float64), drop_intermediate=False)
    return float(tprs[fprs <= fpr + 1e-12].max())


def per_kind_table(joined: pd.DataFrame) -> pd.DataFrame:
    """Per-kind alert counts and shares from :func:`join_labels` output.

    Returns
    -------
    pandas.DataFrame
        Indexed by kind (sorted): ``label``, ``accounts``, ``flagged``, ``flag_rate``,
        one count column per action (``block``, ``throttle``, ``review``, ``allow``) and
        ``mean_risk``.
    """
    rows = []
    for kind, group in joined.groupby("kind", sort=True):
        counts = group["action"].value_counts()
        rows.append(
            {
                "kind": str(kind),
                "label": str(group["label"].iloc[0]),
                "accounts": len(group),
                "flagged": int(group["flagged"].sum()),
                "flag_rate": round(float(group["flagged"].mean()), 4),
                **{a: int(counts.get(a, 0)) for a in ACTIONS},
                "mean_risk": round(float(group["risk"].mean()), 4),
            }
        )
    columns = ["kind", "label", "accounts", "flagged", "flag_rate", *ACTIONS, "mean_risk"]
    return pd.DataFrame(rows, columns=columns).set_index("kind")


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def evaluate(
    accounts: pd.DataFrame, labels: pd.DataFrame, *, fpr: float = TARGET_FPR
) -> dict[str, Any]:
    """Detection metrics of an audit against labels.

    Parameters
    ----------
    accounts : pandas.DataFrame
        ``accounts.csv`` of an audit (``account_id``, ``risk``, ``action``...).
    labels : pandas.DataFrame
        Ground truth: ``account_id``, ``label`` (benign|distill), ``kind``, ``campaign_id``.
    fpr : float
        False-positive rate of the recall operating point.

    Returns
    -------
    dict
        ``roc_auc``, ``average_precision``, ``recall_at_fpr`` (and its ``threshold``) on
        the risk; ``recall`` and ``fpr`` of flagged (action != allow) accounts; per-kind
        rows with the counts of each action.
    """
    joined = join_labels(accounts, labels)
    y = (joined["label"] == "distill").to_numpy(dtype=int)
    risk = joined["risk"].to_numpy(dtype=np.float64)
    both = 0 < y.sum() < len(y)
    distill = joined[y == 1]
    benign = joined[y == 0]
    threshold = threshold_at_fpr(benign["risk"], fpr) if len(benign) else None
    return {
        "accounts": len(joined),
        "distill_accounts": len(distill),
        "benign_accounts": len(benign),
        "roc_auc": _round(roc_auc_score(y, risk)) if both else None,
        "average_precision": _round(average_precision_score(y, risk)) if both else None,
        "target_fpr": fpr,
        "recall_at_fpr": _round(recall_at_fpr(y, risk, fpr)) if both else None,
        "threshold_at_fpr": threshold,
        "recall": _round(distill["flagged"].mean()) if len(distill) else None,
        "fpr": _round(benign["flagged"].mean()) if len(benign) else None,
        "review_rate_benign": (
            _round((benign["action"] == "review").mean()) if len(benign) else None
        ),
        "unscored_labelled": int((~joined["scored"]).sum()),
        "per_kind": per_kind_table(joined).to_dict(orient="index"),
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _print(result: dict[str, Any]) -> None:
    print(
        f"accounts {result['accounts']} (distill {result['distill_accounts']}, "
        f"benign {result['benign_accounts']}, unscored {result['unscored_labelled']})"
    )
    print(
        f"ROC-AUC {_fmt(result['roc_auc'])}  average precision "
        f"{_fmt(result['average_precision'])}  recall@{result['target_fpr']:.0%} FPR "
        f"{_fmt(result['recall_at_fpr'])}"
    )
    print(
        f"flagged (action != allow): recall {_fmt(result['recall'])}  "
        f"false-positive rate {_fmt(result['fpr'])}  benign sent to review "
        f"{_fmt(result['review_rate_benign'])}"
    )
    head = f"{'kind':<24}{'label':<9}{'accounts':>9}{'flagged':>9}{'rate':>8}"
    print(head + "".join(f"{a:>9}" for a in ACTIONS) + f"{'risk':>8}")
    for kind, row in result["per_kind"].items():
        print(
            f"{kind:<24}{row['label']:<9}{row['accounts']:>9}{row['flagged']:>9}"
            f"{row['flag_rate']:>8.3f}"
            + "".join(f"{row[a]:>9}" for a in ACTIONS)
            + f"{row['mean_risk']:>8.3f}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("accounts_csv")
    parser.add_argument("labels_csv")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--fpr", type=float, default=TARGET_FPR, help="recall operating point")
    args = parser.parse_args(argv)
    accounts = pd.read_csv(args.accounts_csv, dtype={"account_id": str, "cluster_id": str})
    labels = pd.read_csv(args.labels_csv, dtype={"account_id": str, "campaign_id": str})
    result = evaluate(accounts, labels, fpr=args.fpr)
    if args.json:
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
