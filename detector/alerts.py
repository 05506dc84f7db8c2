"""Alerts shaped like Prometheus Alertmanager's: labels identify, annotations explain.

The fingerprint is Alertmanager's own: 64-bit FNV-1a over the sorted label names and
values separated by ``0xff`` bytes, printed as 16 hex digits, so an alert posted to
Alertmanager's v2 API dedupes the same way it dedupes here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from detector.vocabulary import SEVERITY_OF_ACTION

__all__ = [
    "ALERTNAME_ACCOUNT",
    "ALERTNAME_CLUSTER",
    "ALERT_FEATURES",
    "RUNBOOK",
    "RUNBOOK_BASE_URL",
    "RUNBOOK_URL",
    "account_alert",
    "fingerprint",
    "rfc3339",
    "verdict_alert",
]

#: the feature values an account alert carries as evidence (batch and stream alike), and
#: the columns of ``accounts.csv`` after the verdict
ALERT_FEATURES: tuple[str, ...] = (
    "events_per_hour",
    "completion_tokens_per_hour",
    "distinct_prompt_ratio",
    "template_share",
    "topic_top_share",
    "cot_share",
    "mean_completion_tokens",
    "finish_length_share",
    "logprobs_share",
    "logit_bias_share",
    "max_tokens_tiny_share",
    "gap_cv",
    "hours_of_day_active",
    "distinct_ips",
    "distinct_ip_prefixes",
    "distinct_end_users",
    "mcq_share",
    "tools_share",
)

ALERTNAME_ACCOUNT = "DistillationSuspected"
ALERTNAME_CLUSTER = "DistillationCampaignSuspected"
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_SEP = 0xFF
_SEVERITY = SEVERITY_OF_ACTION
RUNBOOK_BASE_URL = "https://github.com/distillwatch/distillwatch/blob/main/docs/runbook.md"
RUNBOOK_URL = f"{RUNBOOK_BASE_URL}#detection-alerts"
RUNBOOK = (
    "Check the evidence and linked accounts on the account page; confirm the block or "
    'mark a false positive with a note (docs/runbook.md, section "Detection alerts").'
)


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's label-set fingerprint (FNV-1a 64, sorted names, 0xff separators)."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, str(labels[name])):
            for byte in part.encode():
                h ^= byte
                h = (h * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
            h ^= _SEP
            h = (h * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def rfc3339(ts: float) -> str:
    """Epoch seconds as an RFC 3339 UTC timestamp with a ``Z`` suffix."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def severity_of(action: str) -> str:
    """Alert severity for a recommended action."""
    return _SEVERITY.get(action, "info")


def account_alert(
    account_id: str,
    *,
    risk: float,
    action: str,
    reasons: Sequence[str],
    rule_ids: Sequence[str],
    evidence: Mapping[str, Any],
    starts_at: float,
    ends_at: float | None = None,
    cluster_id: str | None = None,
    model_version: str | None = None,
    generator_url: str = "",
) -> dict[str, Any]:
    """One Alertmanager-shaped alert for a flagged account.

    Parameters
    ----------
    account_id : str
        The account.
    risk : float
        Fused risk in [0, 1].
    action : str
        Recommended action (block, throttle, review).
    reasons : sequence of str
        Plain-language reasons, most important first.
    rule_ids : sequence of str
        Ids of the rules that matched (part of the identity of the alert).
    evidence : mapping
        Feature values (and percentiles) backing the reasons.
    starts_at, ends_at : float
        Epoch seconds of the first suspicious activity and, when resolved, the end.
    cluster_id : str, optional
        Linked-account cluster the account belongs to.
    model_version : str, optional
        Version of the anomaly model that scored it.
    generator_url : str
        Link back to the account page, when a service runs.

    Returns
    -------
    dict
        ``labels``, ``annotations``, ``startsAt``, ``endsAt``, ``generatorURL``, ``fingerprint``.
    """
    labels = {
        "alertname": ALERTNAME_ACCOUNT,
        "account_id": account_id,
        "severity": severity_of(action),
        "rule_ids": ",".join(sorted(rule_ids)),
    }
    import orjson

    annotations = {
        "summary": f"Account {account_id}: {action} recommended (risk {risk:.2f})",
        "description": "; ".join(reasons),
        "recommended_action": action,
        "risk": f"{risk:.3f}",
        "evidence": orjson.dumps(dict(evidence), option=orjson.OPT_SERIALIZE_NUMPY).decode(),
        "runbook": RUNBOOK,
        "runbook_url": RUNBOOK_URL,
    }
    if cluster_id:
        annotations["cluster_id"] = cluster_id
    if model_version:
        annotations["model_version"] = model_version
    return {
        "labels": labels,
        "annotations": annotations,
        "startsAt": rfc3339(starts_at),
        "endsAt": rfc3339(ends_at) if ends_at is not None else "0001-01-01T00:00:00Z",
        "generatorURL": generator_url,
        "fingerprint": fingerprint(labels),
    }


def verdict_alert(
    verdict: Any,
    row: Mapping[str, Any],
    *,
    starts_at: float,
    model_version: str | None,
) -> dict[str, Any]:
    """The alert of a fused verdict (:class:`detector.fusion.AccountVerdict`): what the
    offline audit writes to ``alerts.jsonl`` and the stream scorer puts on the alerts
    stream, built in one place so both carry the same evidence.

    Parameters
    ----------
    verdict : AccountVerdict
        The account's verdict.
    row : mapping
        Its feature values (a row of :func:`detector.features.feature_frame`).
    starts_at : float
        Event time the account was first seen.
    model_version : str or None
        The anomaly model used.
    """
    evidence: dict[str, Any] = {n: round(float(row[n]), 4) for n in ALERT_FEATURES}
    evidence["n_events"] = int(row["n_events"])
    evidence["standouts"] = verdict.standouts
    evidence["anomaly_percentile"] = verdict.anomaly_percentile
    evidence["harvest_evidence"] = verdict.evidence
    return account_alert(
        verdict.account_id,
        risk=verdict.risk,
        action=verdict.action,
        reasons=verdict.reasons,
        rule_ids=verdict.rule_ids,
        evidence=evidence,
        starts_at=starts_at,
        cluster_id=verdict.cluster_id,
        model_version=model_version,
    )
