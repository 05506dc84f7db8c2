"""The offline HTML report: sections, escaping, offline-only resources, bounded size."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from detector.aggregates import ADDITIVE, HOUR_S, AccountState
from detector.audit import svg
from detector.audit.pipeline import AuditResult
from detector.audit.report import format_feature, percentile_words, render_report
from detector.fusion import AccountVerdict
from detector.sketches import hash_strings

T0 = 1_714_521_600.0  # 2024-05-01 00:00 UTC
HOSTILE = "<script>alert(1)</script>"
HOSTILE_ATTR = '"><img src=x onerror=alert(2)>'
_IDX = {name: i for i, name in enumerate(ADDITIVE)}


@dataclass(frozen=True)
class Hit:
    rule_id: str
    title: str
    level: str
    action: str
    family: str
    evidence: tuple[str, ...] = ()


def make_state(n_hours: int, per_hour: int, cot_share: float, offset_h: int = 0) -> AccountState:
    """A hand-built aggregate: ``per_hour`` requests in each of ``n_hours`` hours."""
    st = AccountState()
    n = n_hours * per_hour
    cot = round(n * cot_share)
    values = {
        "n": n,
        "sum_prompt_tokens": 50 * n,
        "sum_completion_tokens": 800 * n,
        "sumsq_completion_tokens": 800.0**2 * n,
        "n_cot": cot,
        "sum_cot_score": 0.9 * cot,
        "n_logprobs": n // 2,
        "sum_prompt_words": 40 * n,
        "gap_n": max(n - 1, 0),
        "gap_sum": max(n - 1, 0) * 3600 / max(per_hour, 1),
        "gap_sumsq": max(n - 1, 0) * (3600 / max(per_hour, 1)) ** 2,
    }
    for name, value in values.items():
        st.counts[_IDX[name]] = value
    first_hour = int(T0 // HOUR_S) + offset_h
    for h in range(first_hour, first_hour + n_hours):
        st.hourly[h] = np.array([per_hour, 800.0 * per_hour, per_hour * cot_share])
        st.hour_of_day[h % 24] += per_hour
    st.topic_hist[0] = n
    st.first_ts = first_hour * HOUR_S + 5.0
    st.last_ts = (first_hour + n_hours - 1) * HOUR_S + 3000.0
    st.sketches["prompt"].add_hashes(hash_strings([f"p{i}" for i in range(n)]))
    st.sketches["ip"].add_hashes(hash_strings(["10.0.0.1"]))
    st.tops["model"].update({"model-a": float(n)})
    st.tops["user_agent"].update({HOSTILE_ATTR: float(n)})
    return st


def make_features(states: dict[str, AccountState], as_of: float) -> pd.DataFrame:
    from detector.features import feature_frame

    try:
        return feature_frame(states, as_of)
    except ImportError:  # text signals not installed yet: no topic id for "math"
        import detector.features.compute as compute

        orig = compute._math_topic_id
        compute._math_topic_id = lambda: 0
        try:
            return feature_frame(states, as_of)
        finally:
            compute._math_topic_id = orig


def make_verdict(account: str, risk: float, action: str, hits: list[Hit]) -> AccountVerdict:
    reasons = [f"rule '{h.title}' ({h.level}): {'; '.join(h.evidence)}" for h in hits]
    standouts = []
    if action != "allow":
        standouts = [
            {"feature": "cot_share", "value": 0.9, "percentile": 0.99, "meaning": "CoT share"}
        ]
        reasons += ["cot_share = 0.9, above 99% of accounts (CoT share)"]
        reasons += ["isolation forest: more anomalous than 99.0% of accounts"]
    return AccountVerdict(
        account_id=account,
        risk=risk,
        action=action,
        reasons=reasons,
        rule_ids=sorted(h.rule_id for h in hits),
        families=sorted({h.family for h in hits}),
        anomaly_percentile=0.99 if action != "allow" else 0.3,
        standouts=standouts,
    )


COT_RULE = Hit(
    "cot-harvest",
    "Chain-of-thought harvesting",
    "high",
    "throttle",
    "harvest",
    ("cot_share 0.9 >= 0.5", f"note {HOSTILE}"),
)
PROBE_RULE = Hit("logprob-probe", "Logprob probing", "medium", "review", "probing", ("x",))
QUIET_RULE = SimpleNamespace(
    id="never", title="Never matches", level="low", action="review", family="timing"
)


def build_result(
    n_flagged: int = 8, n_normal: int = 30, clusters: object = None, **kw: object
) -> AuditResult:
    states: dict[str, AccountState] = {}
    verdicts: list[AccountVerdict] = []
    hits: dict[str, list[Hit]] = {}
    for i in range(n_flagged):
        account = HOSTILE if i == 0 else (HOSTILE_ATTR if i == 1 else f"harvester-{i:03d}")
        states[account] = make_state(40, 30 + i, 0.9, offset_h=i % 5)
        hits[account] = [COT_RULE] + ([PROBE_RULE] if i % 2 else [])
        action = "block" if i % 3 == 0 else "throttle"
        verdicts.append(make_verdict(account, 0.99 - i * 0.001, action, hits[account]))
    for i in range(n_normal):
        account = f"user-{i:03d}"
        states[account] = make_state(3 + i % 7, 2, 0.05, offset_h=i % 40)
        if i == 0:
            hits[account] = [PROBE_RULE]
        verdicts.append(make_verdict(account, 0.0, "allow", hits.get(account, [])))
    as_of = max(s.last_ts for s in states.values()) if states else 0.0
    first = min(s.first_ts for s in states.values()) if states else 0.0
    features = make_features(states, as_of)
    n_events = int(sum(s.get("n") for s in states.values()))
    rules = SimpleNamespace(rules=[COT_RULE_RULE, PROBE_RULE_RULE, QUIET_RULE], version="abc")
    defaults: dict[str, object] = {
        "states": states,
        "features": features,
        "verdicts": verdicts,
        "hits": hits,
        "quarantine_counts": Counter({"schema": 3, "bad_timestamp": 1}),
        "n_records": n_events + 4,
        "n_events": n_events,
        "files": [
            {"file": "logs/a.jsonl.gz", "format": "litellm", "events": n_events, "quarantined": 4}
        ],
        "first_ts": first,
        "as_of": as_of,
        "model_version": "population-fit",
        "rules": rules,
        "clusters": clusters,
    }
    defaults.update(kw)
    return AuditResult(**defaults)  # type: ignore[arg-type]


COT_RULE_RULE = SimpleNamespace(
    id=COT_RULE.rule_id, title=COT_RULE.title, level="high", action="throttle", family="harvest"
)
PROBE_RULE_RULE = SimpleNamespace(
    id=PROBE_RULE.rule_id, title=PROBE_RULE.title, level="medium", action="review", family="probing"
)


def empty_result() -> AuditResult:
    return build_result(n_flagged=0, n_normal=0, quarantine_counts=Counter(), files=[])


class _Tags(HTMLParser):
    """Collects element and attribute names as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.append(tag)
        self.attrs += [name for name, _ in attrs]


SVG_RE = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
EXTERNAL_RE = re.compile(
    r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//))"""
    r"""|url\(|@import""",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def result() -> AuditResult:
    return build_result()


@pytest.fixture(scope="module")
def html(result: AuditResult) -> str:
    return render_report(result)


def test_every_section_present(html: str) -> None:
    for section in ("summary", "risk", "accounts", "rules", "features", "privacy"):
        assert f'id="{section}"' in html, section
    assert "no prompt text is stored or shown" in html.lower()
    assert "fingerprints" in html
    assert 'id="clusters"' not in html  # no clusters -> no section
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<h1>") == 1


def test_summary_counts(html: str, result: AuditResult) -> None:
    assert f"{result.n_events:,}" in html
    assert "schema: 3" in html and "bad_timestamp: 1" in html
    assert "litellm" in html and "population-fit" in html
    assert "2024-05-01" in html and "UTC" in html
    # 8 flagged accounts -> 8 account alerts
    assert "8 accounts" in html


def test_no_external_resources(html: str) -> None:
    bad = [m.group(0) for m in EXTERNAL_RE.finditer(html)]
    assert bad == []
    hrefs = re.findall(r"""href\s*=\s*["']([^"']*)""", html)
    assert hrefs and all(h.startswith("#") for h in hrefs)
    assert "<link" not in html and "<img" not in html.replace("&lt;img", "")


def test_hostile_account_ids_escaped(html: str) -> None:
    assert HOSTILE not in html
    assert HOSTILE_ATTR not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<script") == 1  # only the report's own sorting script
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    # what a browser would parse: no injected element or event-handler attribute
    tags = _Tags()
    tags.feed(html)
    assert "img" not in tags.names
    assert tags.names.count("script") == 1
    assert not [a for a in tags.attrs if a.startswith("on")]
    # hostile text inside SVG titles is escaped too (and the SVGs still parse, below)
    assert "Requests of &lt;script&gt;" in html


def test_top_n_limit_respected() -> None:
    res = build_result(n_flagged=30, n_normal=10)
    html = render_report(res, top_n=7)
    cards = re.findall(r'<article class="card[^"]*" id="acct-(\d+)"', html)
    assert cards == [str(i) for i in range(1, 8)]
    assert re.search(r"30 accounts are\s+flagged", html)
    # highest risk first: the first flagged account has the highest risk
    first = html.index('id="acct-1"')
    assert "&lt;script&gt;alert(1)" in html[first : first + 600]
    assert "harvester-029" not in html  # lowest-risk flagged account is not detailed
    assert len(SVG_RE.findall(html)) == 2 + 1 + 2 * 7  # risk, actions, activity, per account


def test_top_zero_shows_no_detail() -> None:
    html = render_report(build_result(), top_n=0)
    assert 'id="acct-' not in html


def test_svgs_well_formed_with_titles(html: str) -> None:
    svgs = SVG_RE.findall(html)
    assert len(svgs) >= 4
    for text in svgs:
        root = ET.fromstring(text)
        assert root.tag.endswith("svg")
        assert root.get("role") == "img"
        first = next(iter(root))
        assert first.tag.endswith("title") and (first.text or "").strip()


def test_rule_table_counts(html: str) -> None:
    table = html[html.index('id="rules"') : html.index('id="features"')]
    rows = re.findall(
        r"<tr><td>(.*?)</td>.*?data-v=\"(\d+)\">[\d,]+</td>\s*"
        r"<td class=\"num\" data-v=\"(\d+)\"",
        table,
        re.DOTALL,
    )
    got = {title: (int(m), int(f)) for title, m, f in rows}
    # cot rule: all 8 flagged; probe rule: 4 flagged + user-000; quiet rule listed with 0
    assert got["Chain-of-thought harvesting"] == (8, 8)
    assert got["Logprob probing"] == (5, 4)
    assert got["Never matches"] == (0, 0)


def test_account_detail_content(html: str) -> None:
    card = html[html.index('id="acct-1"') : html.index('id="acct-2"')]
    assert "Chain-of-thought harvesting" in card
    assert "cot_share 0.9 &gt;= 0.5" in card
    assert "note &lt;script&gt;" in card
    assert "of accounts" in card  # percentile in words
    assert "isolation forest" in card
    assert "chain-of-thought requests" in card  # timeline overlay legend
    assert "UTC hour of the day" in card
    assert "model-a" in card


def test_feature_summary(html: str) -> None:
    section = html[html.index('id="features"') : html.index('id="privacy"')]
    assert "cot_share" in section
    assert "Median, flagged" in section
    assert "8 flagged" in section and "30 other accounts" in section


def test_empty_audit_renders() -> None:
    html = render_report(empty_result())
    assert "No events in this audit" in html
    assert "No account was flagged" in html
    assert "No accounts were scored" in html
    for text in SVG_RE.findall(html):
        ET.fromstring(text)


def test_clusters_section() -> None:
    edges = [
        ("harvester-002", "harvester-003", 0.8, ["shared /24 prefix 10.0.0.0/24", HOSTILE]),
        ("harvester-003", HOSTILE, 0.4, "same user agent"),
    ]
    cluster = SimpleNamespace(
        cluster_id="c-1",
        members=["harvester-002", "harvester-003", HOSTILE],
        edges=edges,
        risk=0.91,
        action="block",
    )
    res = build_result(clusters=SimpleNamespace(clusters=[cluster]))
    html = render_report(res)
    section = html[html.index('id="clusters"') : html.index('id="privacy"')]
    assert "c-1" in section
    assert "shared /24 prefix 10.0.0.0/24" in section
    assert "same user agent" in section
    assert HOSTILE not in html
    assert 'href="#acct-' in section  # members link to their detail section
    # the account table names the cluster of its members and links to it
    top = html[html.index('id="top-table"') : html.index('id="acct-1"')]
    assert top.count('href="#cluster-1"') == 3
    graphs = [s for s in SVG_RE.findall(section) if 'class="chart graph"' in s]
    assert len(graphs) == 1
    root = ET.fromstring(graphs[0])
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f".//{ns}circle")) == 3
    assert len(root.findall(f".//{ns}line")) == 2


def test_empty_clusters_render_no_section() -> None:
    html = render_report(build_result(clusters=SimpleNamespace(clusters=[])))
    assert 'id="clusters"' not in html
    html = render_report(build_result(clusters=object()))
    assert 'id="clusters"' not in html


def test_size_bounded_for_large_population() -> None:
    base = build_result(n_flagged=4, n_normal=4)
    n = 20_000
    ids = [f"acct-{i:06d}" for i in range(n)]
    state = next(iter(base.states.values()))
    row = base.features.iloc[[0]]
    features = pd.DataFrame(
        np.repeat(row.to_numpy(), n, axis=0), columns=row.columns, index=pd.Index(ids)
    ).astype(row.dtypes.to_dict())
    rng = np.random.default_rng(0)
    risks = rng.beta(0.3, 3, n)
    verdicts = [
        make_verdict(a, float(r), "throttle" if r > 0.5 else "allow", [COT_RULE] if r > 0.5 else [])
        for a, r in zip(ids, risks, strict=True)
    ]
    res = build_result(
        n_flagged=0,
        n_normal=0,
        states=dict.fromkeys(ids, state),
        features=features,
        verdicts=verdicts,
        hits={v.account_id: [COT_RULE] for v in verdicts if v.action != "allow"},
        n_events=n * 100,
        first_ts=base.first_ts,
        as_of=base.as_of,
    )
    html = render_report(res, top_n=50)
    assert len(html.encode()) < 2_000_000
    assert len(re.findall(r'<article class="card', html)) == 50


def test_format_helpers() -> None:
    assert format_feature("cot_share", 0.925) == "92.5%"
    assert format_feature("events_per_hour", 1234.0) == "1,234/h"
    assert format_feature("mean_completion_tokens", 812.0) == "812 tokens"
    assert format_feature("median_gap_s", 0.5) == "0.5 s"
    assert percentile_words(1.0).startswith("extreme")
    assert "99.5%" in percentile_words(0.995)
    assert percentile_words(0.3).startswith("typical")
    assert svg.fmt_num(12_500) == "12k" and svg.fmt_num(0.25) == "0.25"


@pytest.mark.parametrize(
    "chart",
    [
        svg.histogram([0, 0], [0.0, 0.5, 1.0], title="t <&>", x_label="x"),
        svg.histogram([5, 0, 1000], [0, 1, 2, 3], title="t", x_label="x", log_y=True),
        svg.bar_chart([], title="empty"),
        svg.bar_chart([("a<b", 3.0, "#000"), ("c", 0.0, "#111")], title="t"),
        svg.timeline([], title="t", start_label="s", end_label="e"),
        svg.timeline(
            [0, 0], overlay=[0, 0], overlay_label="o", title="t", start_label="s", end_label="e"
        ),
        svg.hour_profile([0] * 24, title="t"),
        svg.circle_graph([], [], title="t"),
        svg.circle_graph([("a&b", "a&b", "#000")], [("a&b", "zz", 1.0, "x")], title="t"),
    ],
)
def test_svg_helpers_degenerate_inputs(chart: str) -> None:
    root = ET.fromstring(chart)
    assert root.find("{http://www.w3.org/2000/svg}title") is not None
    assert "nan" not in chart.lower().replace("meaning", "")


def test_long_audit_window_is_coarsened() -> None:
    res = build_result(n_flagged=2, n_normal=2)
    res.as_of = res.first_ts + 90 * 86400  # a 90-day window
    html = render_report(res)
    assert "requests per 10 h" in html  # 2161 hours -> 10-hour buckets, <= 240 points
    for text in SVG_RE.findall(html):
        ET.fromstring(text)
