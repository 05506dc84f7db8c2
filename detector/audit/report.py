"""``report.html``: one self-contained, offline HTML page an analyst reads after an audit.

No CDN, fonts, images or scripts are loaded from anywhere: CSS and a small sorting /
filtering script are inline and every chart is an inline SVG from
:mod:`detector.audit.svg`. Everything taken from logs (account ids, user agents,
reasons) is HTML-escaped by Jinja2's autoescaping. Only the ``top_n`` highest-risk
accounts get a detail section, so the page stays a few MB for any population size;
histograms, counts and medians summarise the rest.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, StrictUndefined, Template
from markupsafe import Markup

from detector.audit import svg
from detector.audit.outputs import ALERT_ACTIONS, KEY_FEATURES
from detector.audit.pipeline import AuditResult
from detector.audit.report_template import CSS, SCRIPT, TEMPLATE
from detector.features.schema import FEATURES, FeatureSpec
from detector.vocabulary import ACTION_RANK, ACTIONS_DESCENDING, LEVEL_RANK

__all__ = ["format_feature", "percentile_words", "render_report"]

HOUR_S = 3600
ACTION_ORDER = ACTIONS_DESCENDING
ACTION_COLORS = {
    "block": "#b3261e",
    "throttle": "#d97706",
    "review": "#d4b000",
    "allow": "#9ca3af",
}
RISK_BINS = 20
MAX_TIMELINE_POINTS = 240
MAX_STANDOUTS = 6
STANDOUT_SHARE = 0.9
MAX_GRAPH_NODES = 40
MAX_GRAPH_EDGES = 300
MAX_CLUSTER_MEMBERS = 100
MAX_CLUSTER_EDGES = 15
MAX_CLUSTER_FEATURES = 12
GRAPH_LINKS_PER_NODE = 3
_SPEC: dict[str, FeatureSpec] = {f.name: f for f in FEATURES}
_UNIT_SUFFIX = {
    "1": "",
    "ratio": "",
    "1/h": "/h",
    "tokens/h": "tokens/h",
    "h": "h",
    "s": "s",
    "tokens": "tokens",
    "bit": "bits",
    "words": "words",
}


# --------------------------------------------------------------------------- formatting


def _utc(ts: float, seconds: bool = False) -> str:
    if not math.isfinite(ts):
        return "–"
    fmt = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return datetime.fromtimestamp(ts, tz=UTC).strftime(fmt) + " UTC"


def _duration(seconds: float) -> str:
    hours = max(seconds, 0.0) / HOUR_S
    if hours < 1:
        return f"{max(seconds, 0.0) / 60:.0f} min"
    if hours < 72:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def _num(value: float) -> str:
    if not math.isfinite(value):
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if value == int(value):
        return str(int(value))
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"


def _is_percent(name: str, unit: str) -> bool:
    return unit == "ratio" and (name.endswith("_share") or name == "distinct_prompt_ratio")


def format_feature(name: str, value: float) -> str:
    """A feature value with its unit, shares as percentages.

    Parameters
    ----------
    name : str
        Feature name (see :mod:`detector.features.schema`).
    value : float
        The value.

    Returns
    -------
    str
        e.g. ``"93.0%"``, ``"1,240 tokens/h"``, ``"0.42 s"``.
    """
    spec = _SPEC.get(name)
    unit = spec.unit if spec else "1"
    if _is_percent(name, unit) and math.isfinite(value):
        return f"{value * 100:.1f}%"
    suffix = _UNIT_SUFFIX.get(unit, unit)
    text = _num(float(value))
    return f"{text} {suffix}" if suffix and suffix != "/h" else text + suffix


def percentile_words(share_below: float) -> str:
    """Population position in words, e.g. ``"extreme: higher than 99.6% of accounts"``.

    Parameters
    ----------
    share_below : float
        Share of accounts (0..1) whose value is strictly lower than this account's, so
        ties (e.g. everyone at 100%) never read as outliers.

    Returns
    -------
    str
    """
    if share_below >= 0.99:
        band = "extreme"
    elif share_below >= 0.95:
        band = "very high"
    elif share_below >= 0.9:
        band = "high"
    elif share_below >= 0.5:
        band = "above median"
    else:
        band = "typical"
    return f"{band}: higher than {share_below * 100:.1f}% of accounts"


def _attr(obj: Any, *names: str, default: Any = None) -> Any:
    """First present attribute (or mapping key) of ``names`` on ``obj``."""
    for name in names:
        if isinstance(obj, Mapping) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            return getattr(obj, name)
    return default


# --------------------------------------------------------------------------- population


class _Population:
    """Sorted feature columns, for percentiles and medians of a few accounts."""

    def __init__(self, features: pd.DataFrame) -> None:
        self._features = features
        self._sorted: dict[str, np.ndarray] = {}

    def column(self, name: str) -> np.ndarray:
        if name not in self._sorted:
            if name in self._features.columns:
                col = self._features[name].to_numpy(dtype=np.float64, na_value=0.0)
            else:
                col = np.zeros(0)
            self._sorted[name] = np.sort(col)
        return self._sorted[name]

    def share_below(self, name: str, value: float) -> float:
        """Share of accounts whose ``name`` is strictly lower than ``value``."""
        arr = self.column(name)
        if arr.size == 0:
            return 0.0
        return float(np.searchsorted(arr, value, side="left") / arr.size)

    def median(self, name: str) -> float:
        arr = self.column(name)
        return float(np.median(arr)) if arr.size else math.nan


@dataclass(frozen=True, slots=True)
class _TimeAxis:
    """Hour buckets spanning the audit, coarsened to at most ``MAX_TIMELINE_POINTS``."""

    first_hour: int
    n_hours: int
    bucket: int

    @classmethod
    def of(cls, first_ts: float, last_ts: float) -> _TimeAxis:
        first = int(first_ts // HOUR_S)
        n_hours = max(int(last_ts // HOUR_S) - first + 1, 1)
        return cls(first, n_hours, max(math.ceil(n_hours / MAX_TIMELINE_POINTS), 1))

    @property
    def n_bins(self) -> int:
        return math.ceil(self.n_hours / self.bucket)

    def add(self, hourly: Mapping[int, Sequence[float]], out: np.ndarray) -> np.ndarray:
        """Add ``hourly`` (epoch hour -> [events, tokens, cot]) into ``out`` (bins x 3)."""
        for hour, row in hourly.items():
            idx = (int(hour) - self.first_hour) // self.bucket
            if 0 <= idx < out.shape[0]:
                out[idx] += np.asarray(row, dtype=np.float64)[:3]
        return out

    def events(self, hourlies: Iterable[Mapping[int, Sequence[float] | np.ndarray]]) -> np.ndarray:
        """Requests per bin summed over many accounts (vectorised: one pass, one bincount)."""
        keys: list[int] = []
        rows: list[Sequence[float] | np.ndarray] = []
        for hourly in hourlies:
            keys.extend(hourly.keys())
            rows.extend(hourly.values())
        hours = np.fromiter(keys, dtype=np.int64, count=len(keys))
        counts = np.fromiter((r[0] for r in rows), dtype=np.float64, count=len(rows))
        idx = (hours - self.first_hour) // self.bucket
        ok = (idx >= 0) & (idx < self.n_bins)
        return np.bincount(idx[ok], weights=counts[ok], minlength=self.n_bins)[: self.n_bins]

    def series(self, hourly: Mapping[int, Sequence[float]]) -> np.ndarray:
        return self.add(hourly, np.zeros((self.n_bins, 3)))

    @property
    def unit(self) -> str:
        return "requests/h" if self.bucket == 1 else f"requests per {self.bucket} h"

    def labels(self) -> tuple[str, str]:
        start = self.first_hour * HOUR_S
        end = (self.first_hour + self.n_bins * self.bucket) * HOUR_S
        return _utc(start), _utc(end)


# --------------------------------------------------------------------------- sections


def _ranked(result: AuditResult) -> list[Any]:
    """Verdicts by risk, then action severity, then volume (highest first)."""
    verdicts = result.verdicts
    if not verdicts:
        return []
    risk = np.fromiter((v.risk for v in verdicts), dtype=np.float64, count=len(verdicts))
    rank = np.fromiter(
        (ACTION_RANK.get(v.action, 0) for v in verdicts), dtype=np.int64, count=len(verdicts)
    )
    events = np.zeros(len(verdicts))
    if "n_events" in result.features.columns:
        ids = pd.Index([v.account_id for v in verdicts])
        col = result.features["n_events"].reindex(ids)
        events = col.to_numpy(dtype=np.float64, na_value=0.0)
    order = np.lexsort((-events, -rank, -risk))
    return [verdicts[i] for i in order]


def _summary(result: AuditResult) -> dict[str, Any]:
    actions = Counter(v.action for v in result.verdicts)
    clusters = _cluster_items(result)
    cluster_alerts = sum(1 for c in clusters if _attr(c, "action") in ALERT_ACTIONS)
    account_alerts = sum(actions[a] for a in ALERT_ACTIONS)
    rules = getattr(result.rules, "rules", None) or []
    has_range = result.n_events > 0
    return {
        "records": int(result.n_records),
        "events": int(result.n_events),
        "accounts": len(result.features),
        "time_range": (_utc(result.first_ts), _utc(result.as_of)) if has_range else None,
        "duration": _duration(result.as_of - result.first_ts) if has_range else "",
        "formats": sorted({str(f.get("format")) for f in result.files if f.get("format")}),
        "files": [
            {
                "file": str(f.get("file", "")),
                "format": str(f.get("format") or "unknown"),
                "events": int(f.get("events", 0)),
                "quarantined": int(f.get("quarantined", 0)),
            }
            for f in result.files
        ],
        "actions": [(a, actions.get(a, 0)) for a in ACTION_ORDER]
        + sorted((a, c) for a, c in actions.items() if a not in ACTION_ORDER),
        "account_alerts": account_alerts,
        "cluster_alerts": cluster_alerts,
        "alerts": account_alerts + cluster_alerts,
        "quarantined": int(sum(result.quarantine_counts.values())),
        "quarantine": sorted(result.quarantine_counts.items(), key=lambda kv: (-kv[1], kv[0])),
        "model_version": str(result.model_version),
        "rules": len(rules),
        "rules_version": str(getattr(result.rules, "version", "") or ""),
        "clusters": len(clusters),
        "as_of": _utc(result.as_of, seconds=True) if has_range else "–",
    }


def _activity_chart(result: AuditResult, flagged: set[str]) -> tuple[Markup | None, str]:
    """Requests of all accounts over time, flagged accounts' requests overlaid."""
    if result.n_events <= 0 or not result.states:
        return None, ""
    axis = _TimeAxis.of(result.first_ts, result.as_of)
    states = result.states
    total = axis.events(st.hourly for st in states.values())
    flag = axis.events(states[a].hourly for a in flagged if a in states)
    start, end = axis.labels()
    chart = svg.timeline(
        total.tolist(),
        overlay=flag.tolist(),
        overlay_label="flagged accounts",
        title=f"Requests of all accounts over time ({axis.unit}), flagged accounts dashed",
        start_label=start,
        end_label=end,
        unit=axis.unit,
        width=1100,
        height=120,
    )
    caption = (
        f"Requests of all accounts ({axis.unit}); the dashed line is the part sent by "
        f"the {len(flagged):,} flagged accounts."
    )
    return Markup(chart), caption


def _distribution(result: AuditResult, flagged: set[str]) -> dict[str, Any] | None:
    if not result.verdicts:
        return None
    risks = np.array([v.risk for v in result.verdicts], dtype=np.float64)
    edges = np.linspace(0.0, 1.0, RISK_BINS + 1)
    counts, _ = np.histogram(np.clip(risks, 0.0, 1.0), bins=edges)
    hist = svg.histogram(
        counts.tolist(),
        edges.tolist(),
        title="Histogram of account risk",
        x_label="risk",
        log_y=True,
    )
    actions = Counter(v.action for v in result.verdicts)
    items = [(a, float(actions.get(a, 0)), ACTION_COLORS[a]) for a in ACTION_ORDER]
    bars = svg.bar_chart(items, title="Accounts per recommended action", unit="accounts")
    activity, caption = _activity_chart(result, flagged)
    return {
        "histogram": Markup(hist),
        "actions": Markup(bars),
        "activity": activity,
        "activity_caption": caption,
    }


def _hit_rows(hits: Iterable[Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "rule_id": str(_attr(h, "rule_id", "id", default="")),
            "title": str(_attr(h, "title", default="")),
            "level": str(_attr(h, "level", default="")),
            "action": str(_attr(h, "action", default="")),
            "family": str(_attr(h, "family", default="")),
            "evidence": [str(e) for e in (_attr(h, "evidence", default=()) or ())],
        }
        for h in hits
    ]
    rows.sort(key=lambda r: (-LEVEL_RANK.get(r["level"], 0), r["title"]))
    return rows


def _standout_rows(verdict: Any, row: pd.Series | None, pop: _Population) -> list[dict[str, Any]]:
    """Features that set the account apart, most separating first.

    The verdict's standouts (fusion's reasons) plus every directional feature where the
    account is higher than 90% of the population; each with its share of accounts below.
    """
    if row is None:
        return []
    names = {str(s["feature"]) for s in verdict.standouts if str(s["feature"]) in row.index}
    below = {
        name: pop.share_below(name, float(row[name]))
        for name, spec in _SPEC.items()
        if name in row.index and (name in names or (spec.higher_is_suspicious and row[name] > 0))
    }
    chosen = [n for n, b in below.items() if n in names or b >= STANDOUT_SHARE]
    chosen.sort(key=lambda n: (-below[n], n))
    return [
        {
            "name": name,
            "value": format_feature(name, float(row[name])),
            "words": percentile_words(below[name]),
            "median": format_feature(name, pop.median(name)),
            "meaning": _SPEC[name].meaning if name in _SPEC else "",
        }
        for name in chosen[:MAX_STANDOUTS]
    ]


def _other_reasons(verdict: Any) -> list[str]:
    """Reasons not already shown as rule hits or standout features."""
    skip = tuple(f"{s['feature']} = " for s in verdict.standouts)
    return [
        r
        for r in verdict.reasons
        if not r.startswith("rule '") and not (skip and r.startswith(skip))
    ]


def _infra(state: Any) -> list[tuple[str, str]]:
    out = []
    for key, label in (
        ("model", "models"),
        ("user_agent", "user agents"),
        ("ip_prefix", "IP prefixes"),
    ):
        top = (getattr(state, "tops", None) or {}).get(key)
        common = top.most_common(3) if top is not None else []
        if common:
            out.append((label, ", ".join(f"{v} (≥{c:,.0f})" for v, c in common)))
    return out


def _account_charts(account: str, state: Any, axis: _TimeAxis | None) -> tuple[Markup, Markup]:
    if state is None or axis is None:
        empty = Markup('<p class="muted">No activity recorded.</p>')
        return empty, empty
    series = axis.series(state.hourly)
    start, end = axis.labels()
    line = svg.timeline(
        series[:, 0].tolist(),
        overlay=series[:, 2].tolist(),
        overlay_label="chain-of-thought requests",
        title=f"Requests of {account} over the audit window ({axis.unit})",
        start_label=start,
        end_label=end,
        unit=axis.unit,
    )
    hod = [float(x) for x in np.asarray(state.hour_of_day).ravel()[:24]]
    hours = svg.hour_profile(hod, title=f"Requests of {account} per UTC hour of the day")
    return Markup(line), Markup(hours)


def _anomaly_text(pct: float) -> str:
    if pct <= 0:
        return "not scored (too few requests or no model)"
    return f"more anomalous than {pct * 100:.1f}% of accounts"


def _account_detail(
    result: AuditResult,
    verdict: Any,
    rank: int,
    pop: _Population,
    axis: _TimeAxis | None,
    links: _ClusterLinks,
) -> dict[str, Any]:
    account = verdict.account_id
    state = result.states.get(account)
    row = result.features.loc[account] if account in result.features.index else None
    hits = _hit_rows(result.hits.get(account, ()))
    timeline, hours = _account_charts(account, state, axis)
    reasons = _other_reasons(verdict)
    active = "–"
    if state is not None and math.isfinite(state.first_ts):
        active = f"{_utc(state.first_ts)} – {_utc(state.last_ts)}"
    cluster = str(verdict.cluster_id) if verdict.cluster_id else links.member_of.get(account, "")
    return {
        "rank": rank,
        "anchor": f"acct-{rank}",
        "id": account,
        "short_id": _shorten(account, 28),
        "risk": float(verdict.risk),
        "action": verdict.action,
        "allowlisted": bool(verdict.allowlisted),
        "cluster_id": cluster,
        "short_cluster": _shorten(cluster, 20),
        "cluster_anchor": links.anchors.get(cluster, ""),
        "n_events": int(row["n_events"]) if row is not None and "n_events" in row.index else 0,
        "active": active,
        "anomaly": _anomaly_text(float(verdict.anomaly_percentile)),
        "hits": hits,
        "main_reason": _main_reason(verdict, hits),
        "other_reasons": reasons,
        "features": _standout_rows(verdict, row, pop),
        "timeline": timeline,
        "hours": hours,
        "infra": _infra(state) if state is not None else [],
    }


def _main_reason(verdict: Any, hits: Sequence[Mapping[str, Any]]) -> str:
    """The most severe rule's title (and how many more matched), else the first reason."""
    if hits:
        more = len(hits) - 1
        return hits[0]["title"] + (f" (+{more} more rule{'s' if more > 1 else ''})" if more else "")
    return _shorten(verdict.reasons[0], 110) if verdict.reasons else ""


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _top_accounts(
    result: AuditResult,
    ranked: Sequence[Any],
    top_n: int,
    links: _ClusterLinks,
) -> dict[str, Any]:
    shown = [v for v in ranked if v.action != "allow" or v.risk > 0][: max(top_n, 0)]
    pop = _Population(result.features)
    axis = _TimeAxis.of(result.first_ts, result.as_of) if result.n_events > 0 else None
    rows = [_account_detail(result, v, i + 1, pop, axis, links) for i, v in enumerate(shown)]
    return {"rows": rows, "n_flagged": sum(1 for v in ranked if v.action != "allow")}


def _rule_rows(result: AuditResult, flagged: set[str]) -> list[dict[str, Any]]:
    meta: dict[str, dict[str, Any]] = {}
    for rule in getattr(result.rules, "rules", None) or []:
        rid = str(_attr(rule, "id", "rule_id", default=""))
        meta[rid] = _hit_rows([rule])[0] | {"rule_id": rid}
        if _attr(rule, "status", default="") == "deprecated":
            meta[rid]["level"] += " (deprecated)"
    matched: Counter[str] = Counter()
    of_flagged: Counter[str] = Counter()
    for account, hits in result.hits.items():
        for row in _hit_rows(hits):
            meta.setdefault(row["rule_id"], row)
        ids = {str(_attr(h, "rule_id", "id", default="")) for h in hits}
        matched.update(ids)
        if account in flagged:
            of_flagged.update(ids)
    rows = []
    for rid, m in meta.items():
        rows.append(
            {
                "rule_id": rid,
                "short_id": _shorten(rid, 14),
                "title": m["title"] or rid,
                "level": m["level"],
                "level_rank": LEVEL_RANK.get(m["level"].split(" ")[0], 0),
                "action": m["action"] or "allow",
                "family": m["family"],
                "matched": matched.get(rid, 0),
                "flagged": of_flagged.get(rid, 0),
            }
        )
    rows.sort(key=lambda r: (-r["matched"], -r["level_rank"], r["rule_id"]))
    return rows


def _feature_rows(
    result: AuditResult, flagged: set[str]
) -> tuple[list[dict[str, Any]], tuple[int, int]]:
    feats = result.features
    if feats.empty:
        return [], (0, 0)
    names = [n for n in ("n_events", *KEY_FEATURES) if n in feats.columns]
    mask = feats.index.isin(list(flagged))
    flagged_f = feats.loc[mask, names].astype(np.float64)
    others_f = feats.loc[~mask, names].astype(np.float64)
    rows = [
        {
            "name": name,
            "meaning": _SPEC[name].meaning if name in _SPEC else "",
            "flagged": _quantile(flagged_f, name, 0.5),
            "others": _quantile(others_f, name, 0.5),
            "others_p90": _quantile(others_f, name, 0.9),
        }
        for name in names
    ]
    return rows, (int(mask.sum()), int((~mask).sum()))


def _quantile(frame: pd.DataFrame, name: str, q: float) -> str:
    return format_feature(name, float(frame[name].quantile(q))) if len(frame) else "–"


# --------------------------------------------------------------------------- clusters


def _cluster_items(result: AuditResult) -> list[Any]:
    obj = result.clusters
    if obj is None:
        return []
    items = obj if isinstance(obj, list | tuple) else _attr(obj, "clusters", default=None)
    try:
        return list(items or [])
    except TypeError:
        return []


def _cluster_order(items: Sequence[Any]) -> list[Any]:
    return sorted(items, key=lambda c: -float(_attr(c, "risk", default=0.0) or 0.0))


def _edge(e: Any) -> tuple[str, str, float, list[str]]:
    if isinstance(e, Mapping):
        a, b = e.get("a", e.get("source", "")), e.get("b", e.get("target", ""))
        weight, evidence = e.get("weight", 0.0), e.get("evidence", ())
    else:
        a, b, weight, evidence = [*list(e), 0.0, ()][:4]
    if isinstance(evidence, str):
        evidence = [evidence]
    return str(a), str(b), float(weight or 0.0), [str(x) for x in evidence or ()]


def _graph_edges(
    edges: Sequence[tuple[str, str, float, list[str]]], keep: set[str]
) -> list[tuple[str, str, float, list[str]]]:
    """Edges among ``keep``; for dense graphs only each account's strongest links."""
    inside = [e for e in edges if e[0] in keep and e[1] in keep]  # strongest first
    if len(inside) <= GRAPH_LINKS_PER_NODE * max(len(keep), 1):
        return inside[:MAX_GRAPH_EDGES]
    used: Counter[str] = Counter()
    out = []
    for e in inside:
        if used[e[0]] < GRAPH_LINKS_PER_NODE or used[e[1]] < GRAPH_LINKS_PER_NODE:
            out.append(e)
            used.update((e[0], e[1]))
    return out[:MAX_GRAPH_EDGES]


def _cluster_graph(
    cid: str,
    members: Sequence[str],
    edges: Sequence[tuple[str, str, float, list[str]]],
    verdicts: Mapping[str, Any],
) -> tuple[Markup, str]:
    degree: Counter[str] = Counter()
    for a, b, _, _ in edges:
        degree.update((a, b))
    keep = sorted(members, key=lambda m: (-degree.get(m, 0), m))[:MAX_GRAPH_NODES]
    nodes = [
        (m, m, ACTION_COLORS.get(getattr(verdicts.get(m), "action", "allow"), "#9ca3af"))
        for m in sorted(keep)
    ]
    drawn = _graph_edges(edges, set(keep))
    weights = [w for _, _, w, _ in drawn]
    low, high = min(weights, default=0.0), max(weights, default=1.0)
    span = high - low
    links = [
        (
            a,
            b,
            0.2 + 0.8 * ((w - low) / span if span > 0 else 1.0),
            f"{a} — {b} (strength {w:.2f}): " + "; ".join(ev),
        )
        for a, b, w, ev in drawn
    ]
    title = f"Links between the accounts of cluster {cid}"
    legend = [(a, ACTION_COLORS[a]) for a in ACTION_ORDER]
    chart = Markup(svg.circle_graph(nodes, links, title=title, legend=legend))
    caption = (
        f"{len(nodes)} of {len(members)} accounts on a circle, {len(links)} of {len(edges)} "
        "links drawn"
        + (" (each account's strongest)" if len(links) < len(edges) else "")
        + "; thicker lines are stronger links; node colour follows the account's action as "
        "in the key (actions are also written next to the members; hover for evidence)."
    )
    return chart, caption


def _cluster_features(c: Any) -> list[str]:
    feats = _attr(c, "features", default=None) or {}
    out = []
    for name, value in list(feats.items())[:MAX_CLUSTER_FEATURES]:
        try:
            out.append(f"{name} = {_num(float(value))}")
        except (TypeError, ValueError):
            out.append(f"{name} = {value}")
    return out


def _cluster_detail(
    c: Any, i: int, verdicts: Mapping[str, Any], account_anchors: Mapping[str, str]
) -> dict[str, Any]:
    cid = _cluster_id(c, i)
    members = [str(m) for m in (_attr(c, "members", default=()) or ())]
    edges = sorted((_edge(e) for e in (_attr(c, "edges", default=()) or ())), key=lambda e: -e[2])
    risk = _attr(c, "risk", default=None)
    graph, caption = _cluster_graph(cid, members, edges, verdicts)
    first, last = _attr(c, "first_ts", default=None), _attr(c, "last_ts", default=None)
    return {
        "id": cid,
        "anchor": f"cluster-{i}",
        "action": str(_attr(c, "action", default="review") or "review"),
        "risk": f"{float(risk):.2f}" if risk is not None else "–",
        "reason": str(_attr(c, "reason", default="") or ""),
        "evidence": [str(x) for x in (_attr(c, "evidence", default=()) or ())],
        "features": _cluster_features(c),
        "active": f"{_utc(float(first))} – {_utc(float(last))}" if first and last else "",
        "n_members": len(members),
        "n_edges": len(edges),
        "members": [
            {
                "id": m,
                "anchor": account_anchors.get(m, ""),
                "action": getattr(verdicts.get(m), "action", ""),
            }
            for m in members[:MAX_CLUSTER_MEMBERS]
        ],
        "more_members": max(len(members) - MAX_CLUSTER_MEMBERS, 0),
        "edges": [
            {"a": a, "b": b, "weight": w, "evidence": ev}
            for a, b, w, ev in edges[:MAX_CLUSTER_EDGES]
        ],
        "more_edges": max(len(edges) - MAX_CLUSTER_EDGES, 0),
        "graph": graph,
        "graph_caption": caption,
    }


def _clusters(
    result: AuditResult, top_n: int, account_anchors: Mapping[str, str]
) -> list[dict[str, Any]]:
    items = _cluster_order(_cluster_items(result))[: max(top_n, 0)]
    verdicts = {v.account_id: v for v in result.verdicts}
    return [_cluster_detail(c, i + 1, verdicts, account_anchors) for i, c in enumerate(items)]


def _cluster_id(c: Any, i: int) -> str:
    return str(_attr(c, "cluster_id", "id", default=f"cluster {i}"))


@dataclass(frozen=True, slots=True)
class _ClusterLinks:
    """Anchors of the detailed clusters and the cluster each account belongs to."""

    anchors: dict[str, str]
    member_of: dict[str, str]

    @classmethod
    def of(cls, result: AuditResult, top_n: int) -> _ClusterLinks:
        items = _cluster_order(_cluster_items(result))
        anchors = {_cluster_id(c, i + 1): f"cluster-{i + 1}" for i, c in enumerate(items[:top_n])}
        member_of: dict[str, str] = {}
        for i, c in enumerate(items):
            for m in _attr(c, "members", default=()) or ():
                member_of.setdefault(str(m), _cluster_id(c, i + 1))
        return cls(anchors, member_of)


# --------------------------------------------------------------------------- render


@lru_cache(maxsize=1)
def _template() -> Template:
    env = Environment(
        autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined
    )
    return env.from_string(TEMPLATE)


def render_report(
    result: AuditResult, *, top_n: int = 50, title: str = "distillwatch audit"
) -> str:
    """Render an audit as one self-contained HTML page.

    Parameters
    ----------
    result : AuditResult
        Output of :func:`detector.audit.pipeline.run_audit`.
    top_n : int
        Accounts (and clusters) that get a detail section, highest risk first; the rest
        are summarised by the distributions and tables.
    title : str
        Page title and heading.

    Returns
    -------
    str
        The HTML document (UTF-8 text; no external resources).
    """
    ranked = _ranked(result)
    flagged = {v.account_id for v in ranked if v.action != "allow"}
    top = _top_accounts(result, ranked, top_n, _ClusterLinks.of(result, max(top_n, 0)))
    account_anchors = {row["id"]: row["anchor"] for row in top["rows"]}
    features, counts = _feature_rows(result, flagged)
    return _template().render(
        title=title,
        css=Markup(CSS),
        script=Markup(SCRIPT),
        s=_summary(result),
        dist=_distribution(result, flagged),
        top=top,
        rules=_rule_rows(result, flagged),
        features=features,
        feature_counts=counts,
        clusters=_clusters(result, top_n, account_anchors),
    )
