"""Scoring a feature frame: rules, the anomaly model and fusion, in one call.

The offline audit (:func:`detector.audit.pipeline.run_audit`), the streaming scorer
(:class:`service.stream.scoring.Scorer`) and the leave-one-kind-out evaluation all score
through :func:`score_accounts`, so an account gets the same verdict on every path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from detector.fusion import AccountVerdict, FusionConfig, fuse
from detector.model import AccountAnomalyModel, fit_fallback

__all__ = ["score_accounts"]


def score_accounts(
    features: pd.DataFrame,
    *,
    rules: Any,
    allowlisted: Iterable[str] = (),
    model: AccountAnomalyModel | None = None,
    contamination: float = 0.05,
    min_events: int = 5,
    clusters: dict[str, dict[str, Any]] | None = None,
    fusion: FusionConfig | None = None,
) -> tuple[list[AccountVerdict], dict[str, list[Any]], AccountAnomalyModel | None]:
    """Run rules, the anomaly model and fusion over a feature frame.

    Parameters
    ----------
    features : pandas.DataFrame
        Feature frame indexed by account id.
    rules : detector.rules.RuleSet
        Loaded rules.
    allowlisted : iterable of str
        Accounts whose action is capped at review.
    model : AccountAnomalyModel, optional
        Trained model; when None one is fitted on the accounts with ``min_events`` or more.
    contamination : float
        Contamination for a model fitted here.
    min_events : int
        Accounts below this volume get no anomaly score.
    clusters : dict, optional
        Cluster verdicts per account (account linking).
    fusion : FusionConfig, optional
        Fusion thresholds.

    Returns
    -------
    (list, dict, model)
        Verdicts, rule hits per account, and the model used.
    """
    hits = rules.hits(features) if len(features) else {}
    anomaly = None
    eligible = features[features["n_events"] >= min_events]
    if model is None:
        model = fit_fallback(features, min_events=min_events, contamination=contamination)
    if model is not None and len(eligible):
        anomaly = pd.Series(model.percentile(eligible), index=eligible.index)
    verdicts = fuse(
        features,
        hits,
        anomaly,
        allowlisted=set(allowlisted),
        clusters=clusters,
        config=fusion,
    )
    return verdicts, hits, model
