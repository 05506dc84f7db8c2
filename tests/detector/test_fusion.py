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
    assert v["a5"].action == "allow" and v["a5"].risk == 0.0 and v["a5"].reasons == []


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


def test_anomaly_alone_is_review_at_most_and_needs_direction() -> None:
    anomaly = pd.Series({"a0": 1.0, "a3": 1.0})
    v = by_id(fuse(frame(), {}, anomaly))
    assert v["a0"].action == "review"  # stands out on cot_share
    assert any("isolation forest" in r for r in v["a0"].reasons)
    assert any(r.startswith("cot_share = 0.95, above") for r in v["a0"].reasons)
    assert v["a3"].action == "allow"  # anomalous but on no suspicious feature
    assert v["a3"].risk == 0.0


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
