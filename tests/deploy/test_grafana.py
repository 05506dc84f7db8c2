"""deploy/grafana/distillwatch.json: a valid dashboard whose every query (and every alert
expression of deploy/prometheus/alerts.yml) names only metrics distillwatch exports.

Known metric names come from ``service.metrics``: the families of every
:class:`~prometheus_client.CollectorRegistry` in the module, plus what every module-level
collector declares (``describe()``: the Redis-derived pipeline collector exports nothing
before its first snapshot), expanded into the sample names Prometheus stores (a counter
``x`` is ``x_total``, a histogram ``x`` is ``x_bucket`` / ``x_sum`` / ``x_count``, ...).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "distillwatch.json"
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"

#: series Prometheus itself writes for every target
PROMETHEUS_SERIES = {"up"}

# PromQL words that are not metric names: functions are recognised by the "(" after them,
# aggregation operators and keywords are listed.
KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "inf",
    "nan",
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_VARIABLE = re.compile(r"\$\{?\w+\}?")
_NUMBER = re.compile(r"(?<![\w:])(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:e[+-]?\d+)?(?:[smhdwy]|ms)*)")
_IDENT = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def promql_metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads.

    A small tokenizer (promtool has no parser CLI): strings, label matchers, ranges,
    ``by (...)``-style label lists, Grafana variables and numbers are removed; what is
    left are identifiers, of which function calls (followed by ``(``) and keywords are
    dropped.

    Parameters
    ----------
    expr : str
        The expression (may hold Grafana variables such as ``$__rate_interval``).

    Returns
    -------
    set of str
        The metric names.
    """
    text = _STRING.sub(" ", expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _LABEL_LIST.sub(" ", text)
    text = _VARIABLE.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in KEYWORDS:
            continue
        names.add(word)
    return names


def _sample_names(family: Metric) -> set[str]:
    """The series names Prometheus stores for one metric family."""
    name = family.name
    kind = family.type
    if kind == "counter":
        return {f"{name}_total", f"{name}_created"}
    if kind in ("histogram", "gaugehistogram"):
        return {f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
    if kind == "summary":
        return {name, f"{name}_sum", f"{name}_count", f"{name}_created"}
    if kind == "info":
        return {f"{name}_info"}
    return {name}


def _families() -> Iterator[Metric]:
    import service.metrics as metrics

    for value in vars(metrics).values():
        if isinstance(value, CollectorRegistry):
            yield from value.collect()
        elif not isinstance(value, type) and callable(getattr(value, "describe", None)):
            yield from value.describe()


def known_metric_names() -> set[str]:
    """Every series name distillwatch's processes export, plus Prometheus' ``up``."""
    names = set(PROMETHEUS_SERIES)
    for family in _families():
        names |= _sample_names(family)
    return names


def dashboard() -> dict[str, Any]:
    """The dashboard JSON."""
    return json.loads(DASHBOARD.read_text())


def _panels(panels: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title, expr) of every query of the dashboard."""
    return [
        (panel["title"], target["expr"])
        for panel in _panels(dashboard()["panels"])
        for target in panel.get("targets", [])
    ]


def alert_exprs() -> list[tuple[str, str]]:
    """(alert name, expr) of every rule of alerts.yml."""
    doc = yaml.safe_load(RULES.read_text())
    return [
        (rule.get("alert") or rule.get("record"), rule["expr"])
        for group in doc["groups"]
        for rule in group["rules"]
    ]


# -- the tokenizer itself ----------------------------------------------------------------
def test_tokenizer_finds_metric_names_only() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, route) (rate(http_seconds_bucket{route=~"/v1/'
        'score|up"}[$__rate_interval]))) / on (job) group_left(instance) max without '
        "(instance) (other_total offset 5m) > bool 1e3 and time() - last_ts > 15m"
    )
    assert promql_metric_names(expr) == {"http_seconds_bucket", "other_total", "last_ts"}
    assert promql_metric_names('up{job=~"distillwatch-.*"} == 0') == {"up"}
    assert promql_metric_names("sum(rate(a:b_total[5m])) or vector(0)") == {"a:b_total"}


def test_known_names_expand_family_types() -> None:
    names = known_metric_names()
    assert "distillwatch_decisions_total" in names  # counter
    assert "distillwatch_http_request_duration_seconds_bucket" in names  # histogram
    assert "distillwatch_http_request_duration_seconds" not in names
    assert "distillwatch_decisions" not in names
    assert "distillwatch_model_info" in names  # info
    assert "distillwatch_redis_up" in names  # gauge


# -- the dashboard -------------------------------------------------------------------------
def test_dashboard_is_a_valid_grafana_dashboard() -> None:
    dash = dashboard()
    assert dash["uid"] == "distillwatch"
    assert dash["schemaVersion"] >= 36
    assert dash["title"]
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    ds = variables["datasource"]
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"
    # the provisioned datasource (deploy/grafana/provisioning/datasources)
    assert ds["current"]["value"] == "prometheus" and ds["current"]["text"] == "Prometheus"
    ids = [p["id"] for p in _panels(dash["panels"])]
    assert len(ids) == len(set(ids))
    for panel in _panels(dash["panels"]):
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
    # panels do not overlap
    cells: set[tuple[int, int]] = set()
    for panel in _panels(dash["panels"]):
        pos = panel["gridPos"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, panel["title"]
                cells.add((x, y))


def test_dashboard_shows_what_the_issue_asks_for() -> None:
    read = set()
    for _, expr in dashboard_exprs():
        read |= promql_metric_names(expr)
    for name in (
        "distillwatch_pipeline_ingested_events_total",
        "distillwatch_pipeline_processed_events_total",
        "distillwatch_ingest_lag_events",
        "distillwatch_pipeline_quarantined_events_total",
        "distillwatch_pipeline_deadlettered_events_total",
        "distillwatch_alerts",
        "distillwatch_http_request_duration_seconds_bucket",
        "distillwatch_decisions_total",
        "distillwatch_fallback_decisions_total",
        "distillwatch_sink_deliveries_total",
        "distillwatch_sink_delivery_duration_seconds_bucket",
        "distillwatch_redis_up",
        "distillwatch_worker_batch_duration_seconds_bucket",
    ):
        assert name in read, name
    latency = [e for _, e in dashboard_exprs() if "http_request_duration_seconds_bucket" in e]
    quantiles = {re.match(r"histogram_quantile\(([\d.]+),", e).group(1) for e in latency}  # type: ignore[union-attr]
    assert quantiles == {"0.5", "0.95", "0.99"}
    assert all("/v1/score" in e and "/v1/check" in e for e in latency)


def test_every_dashboard_query_names_existing_metrics() -> None:
    known = known_metric_names()
    missing = {
        (title, name)
        for title, expr in dashboard_exprs()
        for name in promql_metric_names(expr)
        if name not in known
    }
    assert not missing, sorted(missing)
    assert all(promql_metric_names(expr) for _, expr in dashboard_exprs())


def test_every_alert_expression_names_existing_metrics() -> None:
    known = known_metric_names()
    missing = {
        (alert, name)
        for alert, expr in alert_exprs()
        for name in promql_metric_names(expr)
        if name not in known
    }
    assert not missing, sorted(missing)


def test_dashboard_queries_parse(tmp_path: Path) -> None:
    """promtool has no parser CLI, but ``check rules`` parses every recording rule's
    expression: the queries (Grafana's interval variables replaced) go in as rules."""
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    if not Path(promtool).exists():
        pytest.skip("promtool not installed (apt install prometheus)")
    rules = [
        {
            "record": f"dashboard:query_{i}",
            "expr": re.sub(r"\$__(rate_interval|interval|range)", "5m", expr),
        }
        for i, (_, expr) in enumerate(dashboard_exprs())
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    proc = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(rules)} rules found" in proc.stdout
