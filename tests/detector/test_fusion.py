"""Fusion of rule hits, anomaly percentiles and clusters into risk, action and reasons."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from detector.features import FEATURE_NAMES
from detector.fusion import FusionConfig, fuse


@dataclass
class Hit:
    rule_id: str
    title: str
    level: str
    action: str
    family: str
    evidence: tuple[str, ...] = ("cot_share 0.9 >= 0.6",)


def frame(n: int = 100) -> pd.DataFrame:
    f = pd.DataFrame(
        np.full((n, len(FEATURE_NAMES)), 0.05),
        columns=list(FEATURE_NAMES),
        index=[f"a{i}" for i in range(n)],
    )
    f.loc["a0", "cot_share"] = 0.95  # stands out on a directional feature
    return f


def by_id(verdicts):
    return {v.account_id: v for v in verdicts}


def test_no_evidence_allows() -> None:
    v = by_id(fuse(frame(), {}))
    assert v["a5"].action == "allow" and v["a5"].risk < 0.05 and v["a5"].reasons == []


def harvest_frame() -> pd.DataFrame:
    """A chat-like population with one harvester (a9) and graded look-alikes."""
    f = frame()
    f["n_events"] = 40.0
    f["mean_completion_tokens"] = 300.0
    f["completion_prompt_ratio"] = 1.0
    f["distinct_prompt_ratio"] = 0.9
    f["novel_output_tokens"] = 10_000.0
    for acct, mean_c, ratio, cot in (("a9", 2500.0, 20.0, 0.9), ("a8", 900.0, 4.0, 0.3)):
        f.loc[acct, ["mean_completion_tokens", "completion_prompt_ratio", "cot_share"]] = (
            mean_c,
            ratio,
            cot,
        )
        f.loc[acct, ["n_events", "novel_output_tokens"]] = (3000.0, mean_c * 3000)
        f.loc[acct, ["hours_of_day_active", "active_hour_share", "active_hours"]] = (24, 1, 48)
    return f


def test_risk_is_continuous_and_orders_harvest_below_any_rule() -> None:
    v = by_id(fuse(harvest_frame(), {}))
    assert v["a9"].risk > v["a8"].risk > v["a5"].risk > 0.0
    assert v["a9"].evidence["output_value"] > 0.7
    assert any(r.startswith("harvest evidence") for r in v["a9"].reasons)


def test_legitimate_purpose_spares_weak_rules_and_clusters() -> None:
    f = harvest_frame()
    # a translation service: output as long as the input
    f.loc["a8", ["completion_prompt_ratio", "mean_completion_tokens"]] = (1.0, 400.0)
    hits = {
        "a8": [Hit("r1", "volume", "medium", "review", "volume")],
        "a9": [Hit("r1", "volume", "medium", "review", "volume")],
    }
    clusters = {"a8": {"cluster_id": "c-1", "risk": 0.6, "action": "review", "reason": "team"}}
    v = by_id(fuse(f, hits, clusters=clusters))
    assert v["a8"].action == "allow"
    assert any("spared" in r for r in v["a8"].reasons)
    assert any(r.startswith("looks like outputs no longer") for r in v["a8"].reasons)
    assert v["a9"].action == "review"  # the same rule stands where no purpose shows
    strong = {"a8": [Hit("r2", "probe", "critical", "block", "probing")]}
    assert by_id(fuse(f, strong))["a8"].action == "block"  # strong rules are never spared


def test_rule_action_and_reasons() -> None:
    hits = {"a1": [Hit("r1", "CoT harvesting", "critical", "block", "harvest")]}
    v = by_id(fuse(frame(), hits))["a1"]
    assert v.action == "block"
    assert v.risk >= 0.9
    assert v.rule_ids == ["r1"]
    assert v.reasons[0].startswith("rule 'CoT harvesting' (critical): cot_share 0.9")


def test_two_families_escalate_to_block_only_at_high_risk() -> None:
    hits = {
        "a1": [
            Hit("r1", "t1", "high", "throttle", "harvest"),
            Hit("r2", "t2", "high", "throttle", "timing"),
        ],
        "a2": [
            Hit("r1", "t1", "low", "throttle", "harvest"),
            Hit("r3", "t3", "low", "review", "timing"),
        ],
    }
    v = by_id(fuse(frame(), hits))
    assert v["a1"].action == "block"
    assert v["a2"].action == "throttle"


def test_anomaly_orders_but_never_acts_alone() -> None:
    f = harvest_frame()
    anomaly = pd.Series({"a0": 1.0, "a3": 1.0, "a9": 1.0})
    v = by_id(fuse(f, {}, anomaly))
    plain = by_id(fuse(f, {}))
    assert v["a3"].action == "allow"  # anomalous, no harvest evidence
    assert v["a9"].risk > plain["a9"].risk  # the forest raises accounts with evidence
    assert v["a3"].risk - plain["a3"].risk < 0.01
    assert any("isolation forest" in r for r in v["a9"].reasons)


def test_allowlist_caps_at_review() -> None:
    hits = {"a1": [Hit("r1", "t", "critical", "block", "harvest")]}
    v = by_id(fuse(frame(), hits, allowlisted={"a1"}))["a1"]
    assert v.action == "review" and v.allowlisted
    assert v.reasons[-1].startswith("allowlisted")


def test_cluster_raises_members() -> None:
    clusters = {"a7": {"cluster_id": "c-1", "risk": 0.9, "action": "block", "reason": "member"}}
    v = by_id(fuse(frame(), {}, clusters=clusters))["a7"]
    assert v.action == "block" and v.cluster_id == "c-1" and v.risk >= 0.9
    assert "member" in v.reasons


def test_config_thresholds_apply() -> None:
    hits = {"a1": [Hit("r1", "t", "medium", "review", "harvest")]}
    strict = by_id(fuse(frame(), hits, config=FusionConfig(review_risk=0.99)))["a1"]
    assert strict.action == "review"  # the rule's own recommendation still stands
