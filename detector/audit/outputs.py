"""Write an audit's results: ``accounts.csv``, ``alerts.jsonl`` and ``summary.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from detector.alerts import ALERT_FEATURES, rfc3339, verdict_alert
from detector.audit.pipeline import AuditResult
from detector.vocabulary import ALERT_ACTIONS

__all__ = ["KEY_FEATURES", "alerts_for", "summary_of", "write_accounts_csv", "write_alerts"]

# The features shown in accounts.csv after the verdict columns (those alerts carry).
KEY_FEATURES = ALERT_FEATURES


def write_accounts_csv(result: AuditResult, path: str | Path) -> pd.DataFrame:
    """``account_id, risk, action, cluster_id, evidence, purpose, reasons, n_events``, key features.

    ``evidence`` is the continuous harvest evidence and ``purpose`` the look-alike purpose
    evidence (:mod:`detector.evidence`), both in [0, 1].

    Sorted by risk, highest first.
    """
    verdicts = result.verdict_frame()
    if verdicts.empty:
        frame = pd.DataFrame(
            columns=[
                "account_id",
                "risk",
                "action",
                "cluster_id",
                "evidence",
                "purpose",
                "reasons",
                "n_events",
            ]
        )
        frame.to_csv(path, index=False)
        return frame
    feats = result.features
    frame = verdicts[["risk", "action", "cluster_id", "evidence", "purpose", "reasons"]].join(
        feats[["n_events", *KEY_FEATURES]]
    )
    frame = frame.sort_values(["risk", "n_events"], ascending=[False, False])
    frame.index.name = "account_id"
    frame.reset_index().to_csv(path, index=False, float_format="%.4g")
    return frame


def alerts_for(
    result: AuditResult, actions: tuple[str, ...] = ALERT_ACTIONS
) -> list[dict[str, Any]]:
    """One Alertmanager-shaped alert per account whose action is in ``actions``."""
    feats = result.features
    out = []
    for v in result.verdicts:
        if v.action not in actions:
            continue
        state = result.states[v.account_id]
        row = feats.loc[v.account_id]
        out.append(
            verdict_alert(v, row, starts_at=state.first_ts, model_version=result.model_version)
        )
    return out


def write_alerts(result: AuditResult, path: str | Path) -> int:
    """Write ``alerts.jsonl``; returns the number of alerts."""
    alerts = alerts_for(result)
    if result.clusters is not None:
        alerts += result.clusters.alerts(result)
    with open(path, "wb") as fh:
        for alert in alerts:
            fh.write(orjson.dumps(alert, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    return len(alerts)


def summary_of(result: AuditResult) -> dict[str, Any]:
    """Counts an operator wants first: records, accounts, actions, quarantine."""
    actions: dict[str, int] = {}
    for v in result.verdicts:
        actions[v.action] = actions.get(v.action, 0) + 1
    return {
        "records": result.n_records,
        "events": result.n_events,
        "accounts": len(result.features),
        "time_range": [rfc3339(result.first_ts), rfc3339(result.as_of)]
        if result.n_events
        else None,
        "actions": actions,
        "quarantined": dict(result.quarantine_counts),
        "files": result.files,
        "model_version": result.model_version,
        "rules": len(getattr(result.rules, "rules", []) or []),
        "clusters": len(getattr(result.clusters, "clusters", []) or []),
    }
