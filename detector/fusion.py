"""Fusion: rule hits + harvest evidence + anomaly + cluster evidence -> risk, action, reasons.

The output is what analysts and gateways read, so every number comes with words:

* **risk** in [0, 1], continuous for every account: a noisy-OR of the matched rules'
  level weights, of the continuous harvest evidence (:mod:`detector.evidence`: output
  value, elicitation, breadth, persistence, focus and volume, discounted by look-alike
  purpose), nudged by the forest's percentile, and of the account's cluster risk. An
  account that matches no rule is still ordered against the population;
* **action**: the most severe action recommended by a matched rule or by the account's
  cluster, raised to ``block`` when rules of two or more families agree at high risk,
  and the risk ladder on top (``review`` from :attr:`FusionConfig.review_risk`). An
  account whose traffic shows a legitimate purpose (:mod:`detector.evidence`) is spared
  the low and medium rules: their action is dropped and their weight discounted. Capped
  at ``review`` for allowlisted accounts;
* **reasons**: the rules that matched with the conditions that held, the cluster, the
  strongest harvest factors, the look-alike purposes, then the features that most set
  the account apart, with their values and population percentiles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from detector.evidence import EvidenceConfig, harvest_evidence, purpose_text
from detector.features.schema import FEATURES
from detector.vocabulary import ACTION_RANK, ACTIONS

__all__ = [
    "ACTIONS",
    "LEVEL_WEIGHT",
    "AccountVerdict",
    "FusionConfig",
    "fuse",
    "standout_features",
]

_RANK = ACTION_RANK
LEVEL_WEIGHT: dict[str, float] = {"low": 0.3, "medium": 0.55, "high": 0.8, "critical": 0.93}
_SPEC = {f.name: f for f in FEATURES}


class HitLike(Protocol):
    """What fusion needs from a rule hit (see :mod:`detector.rules`)."""

    rule_id: str
    title: str
    level: str
    action: str
    family: str
    evidence: Sequence[str]


@dataclass(frozen=True, slots=True)
class FusionConfig:
    """Thresholds of the fusion.

    Parameters
    ----------
    evidence_review : float
        Harvest evidence that maps to ``review_risk``: the calibration point of the
        continuous risk. Chosen on the development populations (legacy simulator seed 99,
        ``distillsim`` seed 101) as the lowest evidence no legitimate account reached;
        ``docs/detection.md`` has the figures.
    evidence_weight : float
        Largest risk the harvest evidence alone contributes (below ``throttle``: the
        evidence alone never recommends more than review).
    anomaly_share : float
        Share of the evidence risk that depends on the forest's percentile (the rest is
        the evidence alone): the forest orders accounts with similar evidence.
    anomaly_floor : float
        Forest percentile from which an account is named as anomalous in the reasons.
    standout_percentile : float
        Population percentile from which a feature is named as setting the account apart.
    block_risk : float
        Risk at which agreeing rules of two families escalate to block.
    review_risk : float
        Risk from which an account is put up for review.
    purpose_floor : float
        Purpose evidence from which low and medium rules are spared (no action).
    evidence : EvidenceConfig
        Scales of the harvest evidence.
    """

    evidence_review: float = 0.3
    evidence_weight: float = 0.7
    anomaly_share: float = 0.15
    anomaly_floor: float = 0.95
    standout_percentile: float = 0.97
    block_risk: float = 0.9
    review_risk: float = 0.5
    purpose_floor: float = 0.5
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)

    def evidence_risk(self, evidence: float) -> float:
        """Risk of harvest evidence alone: linear to ``review_risk`` at ``evidence_review``,
        then linear to ``evidence_weight`` at twice that, flat after."""
        e = max(float(evidence), 0.0)
        if e <= self.evidence_review:
            return self.review_risk * e / self.evidence_review
        over = min((e - self.evidence_review) / self.evidence_review, 1.0)
        return self.review_risk + (self.evidence_weight - self.review_risk) * over


@dataclass(slots=True)
class AccountVerdict:
    """Fused outcome for one account."""

    account_id: str
    risk: float
    action: str
    reasons: list[str]
    rule_ids: list[str]
    families: list[str]
    anomaly_percentile: float
    standouts: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, float] = field(default_factory=dict)
    allowlisted: bool = False
    cluster_id: str | None = None


def _fmt(value: float) -> str:
    if value == int(value) and abs(value) < 1e9:
        return f"{int(value)}"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def standout_features(
    names: Sequence[str],
    values: np.ndarray,
    percentiles: np.ndarray,
    threshold: float,
    limit: int = 4,
) -> list[dict[str, Any]]:
    """Features where the account sits at or above ``threshold`` of the population.

    Only features whose schema direction says higher is more suspicious are named,
    highest percentile first; :func:`fuse` turns them into words.

    Parameters
    ----------
    names : sequence of str
        Feature names, aligned with ``values`` and ``percentiles``.
    values, percentiles : numpy.ndarray
        One account's feature values and their population percentiles (0..1).
    threshold : float
        Percentile from which a feature is named.
    limit : int
        Most features returned.
    """
    out: list[dict[str, Any]] = []
    for name, value, pct in zip(names, values, percentiles, strict=True):
        spec = _SPEC.get(name)
        if spec is None or spec.higher_is_suspicious is not True:
            continue
        if pct >= threshold and value > 0:
            out.append(
                {
                    "feature": name,
                    "value": float(value),
                    "percentile": float(pct),
                    "meaning": spec.meaning,
                }
            )
    out.sort(key=lambda d: (-d["percentile"], d["feature"]))
    return out[:limit]


def _standout_text(item: Mapping[str, Any]) -> str:
    pct = item["percentile"] * 100
    return (
        f"{item['feature']} = {_fmt(item['value'])}, above {pct:.0f}% of accounts "
        f"({item['meaning']})"
    )


def fuse(
    features: pd.DataFrame,
    hits: Mapping[str, Sequence[HitLike]],
    anomaly_percentile: pd.Series | None = None,
    *,
    allowlisted: set[str] | frozenset[str] = frozenset(),
    clusters: Mapping[str, Mapping[str, Any]] | None = None,
    config: FusionConfig | None = None,
) -> list[AccountVerdict]:
    """Fuse the scorers into one verdict per account.

    Parameters
    ----------
    features : pandas.DataFrame
        Feature frame indexed by account id.
    hits : mapping
        account id -> matched rules (objects with ``rule_id``, ``title``, ``level``,
        ``action``, ``family``, ``evidence``).
    anomaly_percentile : pandas.Series, optional
        Forest score as a population percentile, indexed by account id.
    allowlisted : set of str
        Accounts whose action is capped at review.
    clusters : mapping, optional
        account id -> ``{"cluster_id", "risk", "action", "reason"}`` from account linking.
    config : FusionConfig, optional
        Thresholds.

    Returns
    -------
    list of AccountVerdict
        In the order of ``features.index``.
    """
    cfg = config or FusionConfig()
    names = [str(c) for c in features.columns]
    values = features.to_numpy(dtype=np.float64, na_value=0.0)
    # share of accounts strictly below: ties never make an account "stand out"
    below = features.rank(method="min").to_numpy(dtype=np.float64, na_value=1.0) - 1.0
    pct = below / max(len(features), 1)
    directional_cols = np.array([_SPEC[n].higher_is_suspicious is True for n in names])
    stands = ((pct >= cfg.standout_percentile) & (values > 0) & directional_cols).any(axis=1)
    anomalies = (
        anomaly_percentile.reindex(features.index).fillna(0.0).to_numpy(dtype=np.float64)
        if anomaly_percentile is not None
        else np.zeros(len(features))
    )
    evidence = harvest_evidence(features, cfg.evidence)
    ev_rows = evidence.to_dict(orient="records")
    verdicts: list[AccountVerdict] = []
    for i, account in enumerate(features.index.astype(str)):
        all_hits = list(hits.get(account, ()))
        ev = ev_rows[i]
        purpose = float(ev["purpose"])
        # a legitimate purpose spares the low and medium rules (action and weight)
        spared = purpose >= cfg.purpose_floor
        account_hits = [h for h in all_hits if not spared or _is_strong(h)]
        spared_hits = [h for h in all_hits if h not in account_hits]
        standouts = (
            standout_features(names, values[i], pct[i], cfg.standout_percentile)
            if stands[i]
            else []
        )
        anomaly = float(anomalies[i])

        survive = 1.0
        for hit in account_hits:
            survive *= 1.0 - LEVEL_WEIGHT.get(hit.level, 0.3)
        for hit in spared_hits:
            survive *= 1.0 - LEVEL_WEIGHT.get(hit.level, 0.3) * (1.0 - purpose)
        evidence_risk = cfg.evidence_risk(
            float(ev["evidence"]) * (1.0 - cfg.anomaly_share + cfg.anomaly_share * anomaly)
        )
        survive *= 1.0 - evidence_risk
        cluster = (clusters or {}).get(account)
        cluster_action = str(cluster.get("action", "allow")) if cluster else "allow"
        cluster_risk = float(cluster.get("risk", 0.0)) if cluster else 0.0
        if spared and _RANK.get(cluster_action, 0) <= _RANK["review"]:
            # a weak cluster of accounts with a legitimate purpose (one team's eval runs)
            cluster_action, cluster_risk = "allow", cluster_risk * (1.0 - purpose)
        survive *= 1.0 - cluster_risk
        risk = float(np.clip(1.0 - survive, 0.0, 1.0))

        action = "allow"
        for hit in account_hits:
            if _RANK.get(hit.action, 0) > _RANK[action]:
                action = hit.action
        families = sorted({hit.family for hit in account_hits})
        if account_hits and len(families) >= 2 and risk >= cfg.block_risk:
            action = "block"
        if _RANK.get(cluster_action, 0) > _RANK[action]:
            action = cluster_action
        if action == "allow" and risk >= cfg.review_risk:
            action = "review"
        is_allowed = account in allowlisted
        if is_allowed and _RANK[action] > _RANK["review"]:
            action = "review"

        reasons = []
        for hit in sorted(account_hits, key=lambda h: -LEVEL_WEIGHT.get(h.level, 0)):
            evidence_text = "; ".join(hit.evidence)
            reasons.append(f"rule '{hit.title}' ({hit.level}): {evidence_text}")
        if cluster and cluster.get("reason"):
            reasons.append(str(cluster["reason"]))
        if evidence_risk >= 0.1:
            reasons.append(_evidence_text(ev))
        if anomaly >= cfg.anomaly_floor and evidence_risk >= 0.1:
            reasons.append(
                f"isolation forest: more anomalous than {anomaly * 100:.1f}% of accounts"
            )
        if spared:
            reasons += purpose_text(ev, cfg.purpose_floor)
            for hit in spared_hits:
                reasons.append(f"rule '{hit.title}' ({hit.level}) spared: legitimate purpose")
        reasons += [_standout_text(s) for s in standouts]
        if is_allowed:
            reasons.append("allowlisted: action capped at review")
        verdicts.append(
            AccountVerdict(
                account_id=account,
                risk=round(risk, 4),
                action=action,
                reasons=reasons,
                rule_ids=sorted(hit.rule_id for hit in all_hits),
                families=families,
                anomaly_percentile=round(anomaly, 4),
                standouts=standouts,
                evidence={k: round(float(v), 4) for k, v in ev.items()},
                allowlisted=is_allowed,
                cluster_id=str(cluster["cluster_id"]) if cluster else None,
            )
        )
    return verdicts


_FACTOR_TEXT = {
    "output_value": "output value",
    "elicitation": "elicitation",
    "breadth": "new items",
    "persistence": "persistence",
    "focus": "capability focus",
    "volume": "novel output volume (percentile)",
}


def _is_strong(hit: HitLike) -> bool:
    return LEVEL_WEIGHT.get(hit.level, 0.0) >= LEVEL_WEIGHT["high"]


def _evidence_text(ev: Mapping[str, float]) -> str:
    top = sorted(_FACTOR_TEXT, key=lambda k: -float(ev.get(k, 0.0)))[:3]
    parts = ", ".join(f"{_FACTOR_TEXT[k]} {float(ev[k]):.2f}" for k in top)
    return f"harvest evidence {float(ev['evidence']):.2f} ({parts})"
