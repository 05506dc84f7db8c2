"""Alertmanager-shaped alerts and their fingerprint."""

from __future__ import annotations

from detector.alerts import RUNBOOK_URL, account_alert, fingerprint, rfc3339


def test_fingerprint_matches_alertmanager_fnv1a() -> None:
    # Alertmanager's fingerprint of the empty label set is the FNV-1a 64 offset basis.
    assert fingerprint({}) == "cbf29ce484222325"
    a = fingerprint({"alertname": "X", "account_id": "a1"})
    b = fingerprint({"account_id": "a1", "alertname": "X"})
    assert a == b and len(a) == 16
    assert fingerprint({"alertname": "X", "account_id": "a2"}) != a
    # the separator byte keeps name/value boundaries apart
    assert fingerprint({"ab": "c"}) != fingerprint({"a": "bc"})


def test_account_alert_shape() -> None:
    alert = account_alert(
        "acct-1",
        risk=0.93,
        action="block",
        reasons=["rule 'x' (critical): cot_share 0.9 >= 0.6"],
        rule_ids=["b", "a"],
        evidence={"cot_share": 0.9},
        starts_at=1_790_000_000.5,
        cluster_id="c-1",
        model_version="v1",
    )
    assert alert["labels"] == {
        "alertname": "DistillationSuspected",
        "account_id": "acct-1",
        "severity": "critical",
        "rule_ids": "a,b",
    }
    assert alert["fingerprint"] == fingerprint(alert["labels"])
    ann = alert["annotations"]
    assert ann["recommended_action"] == "block" and ann["cluster_id"] == "c-1"
    assert "cot_share" in ann["evidence"] and "Detection alerts" in ann["runbook"]
    assert ann["runbook_url"] == RUNBOOK_URL
    assert RUNBOOK_URL == (
        "https://github.com/distillwatch/distillwatch/blob/main/docs/runbook.md#detection-alerts"
    )
    assert alert["startsAt"] == "2026-09-21T14:13:20.500Z"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"


def test_rfc3339_is_utc_z() -> None:
    assert rfc3339(0) == "1970-01-01T00:00:00.000Z"
