"""What linking returns: clusters with their evidence, member verdicts and alerts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from detector.alerts import ALERTNAME_CLUSTER, RUNBOOK_URL, fingerprint, rfc3339, severity_of
from detector.linking.evidence import PairEvidence, fp_text

__all__ = ["ALERT_ACTIONS", "CLUSTER_RUNBOOK", "Cluster", "LinkResult", "summarize_evidence"]

ALERT_ACTIONS: tuple[str, ...] = ("block", "throttle", "review")
CLUSTER_RUNBOOK = (
    "Open the cluster on the dashboard: check the shared evidence (prefixes, templates, "
    "synchronised timing) and a sample of members' requests; confirm the action for all "
    "members at once or mark the cluster a false positive with a note (docs/linking.md; "
    'docs/runbook.md, section "Detection alerts").'
)
MEMBERS_SHOWN = 20
# An evidence item enters the member reason when at least this share of links carries it.
MIN_SHORT_SHARE = 0.2

_FAMILY_LABEL = {
    "ip_prefix": "shared prefix",
    "user_agent": "same user agent",
    "skeleton": "same template skeleton",
    "system": "same system prompt",
}
_FAMILY_SHORT = {"ip_prefix": "", "user_agent": "UA ", "skeleton": "template ", "system": "system "}


def _token_text(family: str, value: object) -> str:
    if family in ("skeleton", "system"):
        return fp_text(value)
    text = str(value)
    return f"'{text[:40]}'" if family == "user_agent" else text


def summarize_evidence(ev: PairEvidence, idx: np.ndarray) -> tuple[list[str], str]:
    """Cluster-level evidence from its internal edges.

    Parameters
    ----------
    ev : PairEvidence
        All edges.
    idx : numpy.ndarray
        Indices of the cluster's internal edges.

    Returns
    -------
    (list of str, str)
        One line per evidence item with how many links carry it, and a short phrase for
        the member reason (e.g. ``"sharing 203.0.113.0/24, template 1a2b..., synchronised
        minutes"``).
    """
    lines: list[str] = []
    short: list[str] = []
    total = max(idx.size, 1)
    for family in ("ip_prefix", "skeleton", "system", "user_agent"):
        sh = ev.shared.get(family)
        if sh is None:
            continue
        cols = sh.best[idx][sh.strength[idx] > 0]
        if cols.size == 0:
            continue
        ranked = Counter(cols.tolist()).most_common(3)
        values = [_token_text(family, ev.tables[family].values[c]) for c, _ in ranked]
        counts = [k for _, k in ranked]
        parts = ", ".join(f"{v} ({k} links)" for v, k in zip(values, counts, strict=True))
        lines.append(f"{_FAMILY_LABEL[family]}: {parts} of {total} links")
        if cols.size >= MIN_SHORT_SHARE * total:
            distinct = len(set(cols.tolist()))
            more = f" +{distinct - 1}" if distinct > 1 else ""
            short.append(f"{_FAMILY_SHORT[family]}{values[0]}{more}")
    for family, label in (("ip", "shared IPs"), ("api_key", "shared API keys")):
        sh = ev.shared.get(family)
        if sh is not None:
            k = int((sh.strength[idx] > 0).sum())
            if k:
                lines.append(f"{label} on {k} of {total} links")
                if k >= MIN_SHORT_SHARE * total:
                    short.append(label)
    sh = ev.shared.get("end_user")
    if sh is not None and (k := int((sh.strength[idx] > 0).sum())):
        lines.append(f"shared end-user ids on {k} of {total} links")
        if k >= MIN_SHORT_SHARE * total:
            short.append("shared end users")
    minute = ev.minute[idx] > 0
    if minute.any():
        med = float(np.median(ev.minute_j[idx][minute]))
        lines.append(
            f"synchronised active minutes on {int(minute.sum())} of {total} links "
            f"(median Jaccard {med:.2f})"
        )
        if minute.sum() >= MIN_SHORT_SHARE * total:
            short.append("synchronised minutes")
    nm = ev.new_model[idx]
    if (nm >= 0).any():
        names = Counter(ev.models[int(i)] for i in nm[nm >= 0]).most_common(2)
        lines.append(
            "moved together to a new model: " + ", ".join(f"{m} ({k} links)" for m, k in names)
        )
        short.append(f"moved together to {names[0][0]}")
    cohort = ev.cohort[idx] > 0
    if cohort.any():
        day = int(np.nanmin(ev.cohort_day[idx][cohort]))
        beh = float(np.median(ev.behaviour_sim[idx][cohort]))
        lines.append(
            f"synchronous onset on a shared template or system prompt on {int(cohort.sum())} "
            f"of {total} links (started together on day {day} of the data, median "
            f"{float(np.median(ev.cohort_dt[idx][cohort])) / 3600:.1f} h apart; similar "
            f"topics and behaviour, median similarity {beh:.2f})"
        )
        if cohort.sum() >= MIN_SHORT_SHARE * total:
            short.append(f"synchronous onset on day {day}")
    onset = np.isfinite(ev.onset_dt[idx])
    if onset.any():
        lines.append(f"simultaneous first requests on {int(onset.sum())} of {total} links")
        if onset.sum() >= MIN_SHORT_SHARE * total:
            short.append("simultaneous onset")
    hourly = np.isfinite(ev.hourly_r[idx])
    if hourly.any():
        lines.append(f"correlated hourly activity on {int(hourly.sum())} of {total} links")
    return lines, ", ".join(short[:4])


@dataclass(slots=True)
class Cluster:
    """One linked cluster of accounts.

    Items are also readable by key (``cluster["members"]``), for templates.

    Attributes
    ----------
    cluster_id : str
        ``c-`` + 10 hex digits of a hash of the sorted member ids (stable).
    members : list of str
        Member account ids, sorted.
    risk : float
        Risk each member receives from the cluster.
    action : str
        Recommended action for every member (``block``, ``review``, ``allow``).
    reason : str
        One line for each member's reasons.
    evidence : list of str
        Cluster-level evidence lines.
    features : dict
        Cluster features (size, volume, diversity, harvest ratios, link strength...).
    first_ts, last_ts : float
        First and last request of any member.
    affiliates : list of str
        Unlinked accounts sending the campaign's defining template as most of their
        traffic (slow members, late joiners; :mod:`detector.linking.affiliates`).
    affiliate_risk, affiliate_action : float, str
        What each affiliate receives (a fraction of ``risk``; at most ``review``).
    """

    cluster_id: str
    members: list[str]
    risk: float
    action: str
    reason: str
    evidence: list[str]
    features: dict[str, float]
    first_ts: float
    last_ts: float
    affiliates: list[str] = field(default_factory=list)
    affiliate_risk: float = 0.0
    affiliate_action: str = "allow"
    _edge_source: PairEvidence | None = field(default=None, repr=False)
    _edge_index: np.ndarray | None = field(default=None, repr=False)
    _accounts: np.ndarray | None = field(default=None, repr=False)
    _edges: list[tuple[str, str, float, list[str]]] | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        """Number of members."""
        return len(self.members)

    @property
    def edges(self) -> list[tuple[str, str, float, list[str]]]:
        """Internal links as ``(account_a, account_b, weight, evidence strings)``."""
        if self._edges is None:
            out: list[tuple[str, str, float, list[str]]] = []
            ev, idx, acc = self._edge_source, self._edge_index, self._accounts
            if ev is not None and idx is not None and acc is not None:
                for i in idx.tolist():
                    out.append(
                        (
                            str(acc[ev.a[i]]),
                            str(acc[ev.b[i]]),
                            round(float(ev.weight[i]), 3),
                            ev.texts(i),
                        )
                    )
            self._edges = out
        return self._edges

    def __getitem__(self, key: str) -> Any:
        if key.startswith("_") or not hasattr(self, key):
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """Dict-style access with a default."""
        try:
            return self[key]
        except KeyError:
            return default

    def to_dict(self, *, with_edges: bool = False) -> dict[str, Any]:
        """Plain dict (JSON-ready); edges only when asked (they can be many)."""
        out: dict[str, Any] = {
            "cluster_id": self.cluster_id,
            "size": self.size,
            "members": list(self.members),
            "risk": self.risk,
            "action": self.action,
            "reason": self.reason,
            "evidence": list(self.evidence),
            "features": {k: round(float(v), 4) for k, v in self.features.items()},
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "affiliates": list(self.affiliates),
            "affiliate_action": self.affiliate_action,
        }
        if with_edges:
            out["edges"] = [list(e) for e in self.edges]
        return out


def _members_text(members: list[str], shown: int = MEMBERS_SHOWN) -> str:
    head = ", ".join(members[:shown])
    rest = len(members) - shown
    return f"{head} (+{rest} more; {len(members)} in all)" if rest > 0 else head


@dataclass(slots=True)
class LinkResult:
    """Clusters found by :func:`~detector.linking.link_accounts`.

    Attributes
    ----------
    clusters : list of Cluster
        Clusters of at least ``min_cluster_size`` members, riskiest first.
    stats : dict
        Run statistics: accounts, candidate pairs, edges, seconds per stage.
    """

    clusters: list[Cluster]
    stats: dict[str, Any] = field(default_factory=dict)
    _by_account: dict[str, Cluster] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_account = {m: c for c in self.clusters for m in c.members}

    def __iter__(self) -> Iterator[Cluster]:
        return iter(self.clusters)

    def __len__(self) -> int:
        return len(self.clusters)

    def cluster_of(self, account_id: str) -> Cluster | None:
        """The cluster an account belongs to, if any."""
        return self._by_account.get(account_id)

    def flagged(self) -> list[Cluster]:
        """Clusters whose action is block, throttle or review."""
        return [c for c in self.clusters if c.action in ALERT_ACTIONS]

    def account_verdicts(self) -> dict[str, dict[str, Any]]:
        """Per member and affiliate: ``{"cluster_id", "risk", "action", "reason"}`` (the
        fusion input; affiliates also carry ``"affiliate": True``).

        Returns
        -------
        dict
            account id -> cluster verdict, for every member of every cluster.
        """
        out = {
            m: {
                "cluster_id": c.cluster_id,
                "risk": c.risk,
                "action": c.action,
                "reason": c.reason,
            }
            for c in self.clusters
            for m in c.members
        }
        for c in self.clusters:
            if not c.affiliates:
                continue
            reason = (
                f"sends the defining template of cluster {c.cluster_id} ({c.size} accounts, "
                f"cluster action {c.action}) as most of its traffic; affiliated by content "
                f"alone, action at most {c.affiliate_action}"
            )
            for m in c.affiliates:
                out.setdefault(
                    m,
                    {
                        "cluster_id": c.cluster_id,
                        "risk": c.affiliate_risk,
                        "action": c.affiliate_action,
                        "reason": reason,
                        "affiliate": True,
                    },
                )
        return out

    def alerts(self, result: Any = None) -> list[dict[str, Any]]:
        """One Alertmanager-shaped alert per flagged cluster.

        Parameters
        ----------
        result : detector.audit.AuditResult, optional
            The audit the clusters belong to (its model version is added when present).

        Returns
        -------
        list of dict
            ``labels`` (alertname ``DistillationCampaignSuspected``, ``cluster_id``,
            ``severity``), ``annotations`` (summary, description, members, member_count,
            evidence, recommended_action, risk, features, runbook, runbook_url),
            ``startsAt``, ``endsAt``, ``generatorURL``, ``fingerprint``.
        """
        version = getattr(result, "model_version", None) if result is not None else None
        out = []
        for c in self.flagged():
            labels = {
                "alertname": ALERTNAME_CLUSTER,
                "cluster_id": c.cluster_id,
                "severity": severity_of(c.action),
            }
            verb = {"block": "block all", "throttle": "throttle all", "review": "review all"}
            recommended = (
                f"{verb.get(c.action, c.action)} {c.size} member accounts of {c.cluster_id}"
            )
            annotations = {
                "summary": (
                    f"Coordinated cluster {c.cluster_id} of {c.size} accounts: "
                    f"{c.action} recommended (risk {c.risk:.2f})"
                ),
                "description": c.reason,
                "members": _members_text(c.members),
                "member_count": str(c.size),
                "evidence": "; ".join(c.evidence),
                "recommended_action": recommended,
                "action": c.action,
                "risk": f"{c.risk:.3f}",
                "features": orjson.dumps(
                    {k: round(float(v), 4) for k, v in c.features.items()}
                ).decode(),
                "runbook": CLUSTER_RUNBOOK,
                "runbook_url": RUNBOOK_URL,
            }
            if version:
                annotations["model_version"] = str(version)
            out.append(
                {
                    "labels": labels,
                    "annotations": annotations,
                    "startsAt": rfc3339(c.first_ts),
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "",
                    "fingerprint": fingerprint(labels),
                }
            )
        return out

    def frame(self) -> Any:
        """Members as a frame: ``account_id, cluster_id, cluster_size, risk, action``."""
        import pandas as pd

        rows = [
            {
                "account_id": m,
                "cluster_id": c.cluster_id,
                "cluster_size": c.size,
                "risk": c.risk,
                "action": c.action,
            }
            for c in self.clusters
            for m in c.members
        ]
        cols = ["account_id", "cluster_id", "cluster_size", "risk", "action"]
        return pd.DataFrame(rows, columns=cols)
