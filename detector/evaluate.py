"""Score an audit against ground-truth labels: recall, false-positive rate, per kind.

``python -m detector.evaluate accounts.csv labels.csv [--json]``

An account counts as *flagged* when its recommended action is ``block`` or
``throttle`` (an alert that asks for enforcement); ``review`` is reported separately.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import orjson
import pandas as pd

__all__ = ["FLAG_ACTIONS", "evaluate", "main"]

FLAG_ACTIONS = ("block", "throttle")


def evaluate(accounts: pd.DataFrame, labels: pd.DataFrame) -> dict[str, Any]:
    """Detection metrics of an audit against labels.

    Parameters
    ----------
    accounts : pandas.DataFrame
        ``accounts.csv`` of an audit (``account_id``, ``action``, ``cluster_id``...).
    labels : pandas.DataFrame
        Ground truth: ``account_id``, ``label`` (benign|distill), ``kind``, ``campaign_id``.

    Returns
    -------
    dict
        ``recall``, ``fpr``, ``review_rate_benign``, per-kind rates and counts.
    """
    acc = accounts.set_index("account_id")
    lab = labels.set_index("account_id")
    joined = lab.join(acc[["action"]], how="left")
    joined["action"] = joined["action"].fillna("allow")
    joined["flagged"] = joined["action"].isin(FLAG_ACTIONS)
    joined["reviewed"] = joined["action"] == "review"
    distill = joined[joined["label"] == "distill"]
    benign = joined[joined["label"] == "benign"]
    per_kind = {}
    for kind, group in joined.groupby("kind", sort=True):
        per_kind[str(kind)] = {
            "label": str(group["label"].iloc[0]),
            "accounts": len(group),
            "flagged": int(group["flagged"].sum()),
            "flag_rate": round(float(group["flagged"].mean()), 4),
            "review_rate": round(float(group["reviewed"].mean()), 4),
        }
    return {
        "accounts": len(joined),
        "distill_accounts": len(distill),
        "benign_accounts": len(benign),
        "recall": round(float(distill["flagged"].mean()), 4) if len(distill) else None,
        "fpr": round(float(benign["flagged"].mean()), 4) if len(benign) else None,
        "review_rate_benign": round(float(benign["reviewed"].mean()), 4) if len(benign) else None,
        "unscored_labelled": int(joined.index.difference(acc.index).size),
        "per_kind": per_kind,
    }


def _print(result: dict[str, Any]) -> None:
    print(
        f"accounts {result['accounts']} (distill {result['distill_accounts']}, "
        f"benign {result['benign_accounts']})"
    )
    print(
        f"recall {result['recall']}  false-positive rate {result['fpr']}  "
        f"benign sent to review {result['review_rate_benign']}"
    )
    print(f"{'kind':<18}{'label':<9}{'accounts':>9}{'flagged':>9}{'rate':>8}{'review':>8}")
    for kind, row in result["per_kind"].items():
        print(
            f"{kind:<18}{row['label']:<9}{row['accounts']:>9}{row['flagged']:>9}"
            f"{row['flag_rate']:>8.3f}{row['review_rate']:>8.3f}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("accounts_csv")
    parser.add_argument("labels_csv")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    accounts = pd.read_csv(args.accounts_csv, dtype={"account_id": str, "cluster_id": str})
    labels = pd.read_csv(args.labels_csv, dtype={"account_id": str, "campaign_id": str})
    result = evaluate(accounts, labels)
    if args.json:
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
