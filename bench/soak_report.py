"""Analysis and report of a soak run (``bench/soak.py``): phases, level-off, verdict,
the human table and the Markdown tables of docs/reliability.md."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from bench.soak_load import Second

__all__ = ["level_off", "markdown", "phase_table", "table", "verdict"]

#: faults during which (and ``REDIS_GRACE_S`` around which) fail-open answers are expected
REDIS_FAULTS = ("redis_restart", "redis_pause")
REDIS_GRACE_S = 2.0
#: "levels off": mean of the last third of the samples vs the middle third
LEVEL_GROWTH = 0.10


def level_off(samples: list[dict[str, Any]], end_t: float) -> dict[str, Any]:
    """Growth of each series from the middle third to the last third of the load window.

    A series levels off when its mean over the last third is less than ``LEVEL_GROWTH``
    (10 %) above its mean over the middle third, or grew by less than a small absolute
    floor (4 MiB of memory, 2,000 stream entries, 50 keys / sessions).
    """
    pts = [s for s in samples if s["t"] <= end_t]
    n = len(pts)
    if n < 6:
        return {"ok": None, "note": "too few samples"}
    mid, last = pts[n // 3 : 2 * n // 3], pts[2 * n // 3 :]
    series: dict[str, tuple[Any, float]] = {
        "rss_service_kib": (lambda s: s["rss_kib"].get("service"), 4096),
        "rss_workers_max_kib": (lambda s: s["rss_kib"].get("workers_max"), 4096),
        "rss_sinks_kib": (lambda s: s["rss_kib"].get("sinks"), 4096),
        "rss_redis_kib": (lambda s: s["rss_kib"].get("redis"), 4096),
        "redis_used_memory": (lambda s: s["redis"] and s["redis"]["used_memory"], 4 * 2**20),
        "xlen_events": (lambda s: s["redis"] and s["redis"]["xlen"]["events"], 2000),
        "redis_keys": (lambda s: s["redis"] and s["redis"]["keys"], 50),
        "sessions": (lambda s: s["redis"] and s["redis"]["sessions"], 50),
    }
    out: dict[str, Any] = {}
    ok = True
    for name, (get, floor) in series.items():
        a = [v for v in map(get, mid) if v]
        b = [v for v in map(get, last) if v]
        if not a or not b:
            continue
        ma, mb = sum(a) / len(a), sum(b) / len(b)
        growth = (mb - ma) / ma if ma else 0.0
        flat = growth < LEVEL_GROWTH or (mb - ma) < floor
        ok &= flat
        out[name] = {"mid": round(ma), "last": round(mb), "growth": round(growth, 4), "ok": flat}
    out["ok"] = ok
    return out


# -- phases ---------------------------------------------------------------------------------


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 2)


def phase_table(
    seconds: dict[int, Second], faults: list[dict[str, Any]], end_s: float
) -> dict[str, Any]:
    """Gateway figures per phase (each fault from its start to its recovery; the rest is
    ``steady``) and blocked accounts allowed, split by whether Redis was healthy."""
    # a Redis fault lasts until the gateway answers from state again (measured), at least
    # REDIS_GRACE_S after Redis is back: on a loaded machine the breaker's retry can lag
    redis_windows = [
        (
            f["start_s"] - 1.0,
            f["end_s"] + max(REDIS_GRACE_S, (f["recovery"].get("gateway_s") or 0.0) + 1.0),
        )
        for f in faults
        if f["fault"] in REDIS_FAULTS
    ]
    phase_of: dict[int, str] = {}
    for f in faults:
        for s in range(int(f["start_s"]), int(f["recovered_at_s"]) + 1):
            phase_of[s] = f["fault"]
    agg: dict[str, dict[str, Any]] = {}
    blocked = Counter()
    healthy_fail_open: list[tuple[int, int]] = []
    for sec, d in sorted(seconds.items()):
        if sec > end_s:
            continue
        name = phase_of.get(sec, "steady")
        a = agg.setdefault(
            name,
            {"lat": [], "statuses": Counter(), "errors": 0, "fail_open": 0, "seconds": set()}
            | {"blocked": 0, "blocked_allowed": 0},
        )
        a["blocked"] += d.blocked
        a["blocked_allowed"] += d.blocked_allowed
        a["lat"].extend(d.lat_ms)
        a["statuses"].update(d.statuses)
        a["errors"] += d.errors
        a["fail_open"] += d.fail_open
        a["seconds"].add(sec)
        in_redis_fault = any(lo <= sec <= hi for lo, hi in redis_windows)
        key = "redis_down" if in_redis_fault else "redis_healthy"
        blocked[f"{key}_asked"] += d.blocked
        blocked[f"{key}_allowed"] += d.blocked_allowed
        blocked[f"{key}_allowed_fail_open"] += d.blocked_allowed_fail_open
        blocked[f"{key}_allowed_from_state"] += d.blocked_allowed_state
        if not in_redis_fault and d.fail_open:
            healthy_fail_open.append((sec, d.fail_open))
    phases = {
        name: {
            "requests": len(a["lat"]) + a["errors"],
            "rps": round((len(a["lat"]) + a["errors"]) / max(len(a["seconds"]), 1), 1),
            "p50_ms": _pct(a["lat"], 0.5),
            "p99_ms": _pct(a["lat"], 0.99),
            "max_ms": _pct(a["lat"], 1.0),
            "status_503": a["statuses"].get(503, 0),
            "statuses": {str(k): v for k, v in a["statuses"].items()},
            "errors": a["errors"],
            "fail_open": a["fail_open"],
            "blocked_asked": a["blocked"],
            "blocked_allowed": a["blocked_allowed"],
        }
        for name, a in agg.items()
    }
    worst = sorted(
        ((max(d.lat_ms), sec) for sec, d in seconds.items() if d.lat_ms and sec <= end_s),
        reverse=True,
    )[:5]
    return {
        "phases": phases,
        "blocked": dict(blocked),
        "worst_seconds": [{"second": sec, "max_ms": round(ms, 1)} for ms, sec in worst],
        "fail_open_seconds_redis_healthy": healthy_fail_open[:50],
    }


def fairness(r: dict[str, Any]) -> dict[str, Any] | None:
    """What each ``token_flood`` did: the flood token's offered and served req/s against
    its quota, and the steady token's answers during the floods (statuses, p99) beside
    its steady phase. None when no flood ran."""
    floods = [f for f in r["faults"] if f["fault"] == "token_flood" and "flood_statuses" in f]
    if not floods:
        return None
    phases = r["gateway"]["phases"]
    during, steady = phases.get("token_flood", {}), phases.get("steady", {})
    statuses = during.get("statuses", {})
    return {
        "floods": len(floods),
        "quota_rps": floods[0]["flood_quota_rps"],
        "offered_rps_max": max(f["flood_offered_rps"] for f in floods),
        "served_rps_max": max(f["flood_served_rps"] for f in floods),
        "flood_seconds": floods[0]["flood_seconds"],
        "steady_token_requests": during.get("requests", 0),
        "steady_token_refused": sum(v for k, v in statuses.items() if k in ("429", "503")),
        "steady_token_errors": during.get("errors", 0),
        "steady_token_p99_ms": during.get("p99_ms"),
        "steady_phase_p99_ms": steady.get("p99_ms"),
    }


def verdict(r: dict[str, Any], events_maxlen: int) -> dict[str, Any]:
    """The pass / fail checks of a run."""
    eo, b = r["exactly_once"], r["gateway"]["blocked"]
    fin = r["final"]["redis"] or {}
    xl = fin.get("xlen", {})
    mal = [f["answer"] for f in r["faults"] if f["fault"] == "malformed"]
    checks = {
        "no_event_lost": eo["lost"] == 0,
        "no_event_doubled": eo["doubled"] == 0,
        "ingest_all_confirmed": r["ingest"]["unconfirmed_batches"] == 0,
        "no_blocked_allowed_redis_healthy": b.get("redis_healthy_allowed", 0) == 0,
        "no_blocked_allowed_from_state": b.get("redis_down_allowed_from_state", 0) == 0,
        "every_fault_recovered": all(f["recovery"]["recovered"] for f in r["faults"]),
        "events_stream_bounded": xl.get("events", 0) <= events_maxlen * 1.05 + 1000,
        "malformed_quarantined": all(
            m.get("quarantined") == 200 and m.get("added", 0) + m.get("duplicates", 0) == 100
            for m in mal
        ),
        "no_child_crashed": not r["children_exited"],
    }
    fair = fairness(r)
    if fair is not None:
        # the quota holds (its 2 s burst and one sync of slack spread over the flood) and
        # the steady caller is never refused nor failed while another token floods
        slack = 2.5 * fair["quota_rps"] * 2.0 / max(fair["flood_seconds"], 1.0)
        checks["flood_held_to_its_quota"] = fair["served_rps_max"] <= (
            1.1 * fair["quota_rps"] + slack
        )
        checks["flood_spares_other_tokens"] = (
            fair["steady_token_refused"] == 0 and fair["steady_token_errors"] == 0
        )
    lv = r["level_off"].get("ok")
    if lv is not None and r["config"]["minutes"] >= 2:  # shorter: still warming up
        checks["memory_levels_off"] = bool(lv)
    return {"ok": all(checks.values()), "checks": checks}


# -- report ---------------------------------------------------------------------------------


def table(r: dict[str, Any]) -> str:
    """The human summary of a report."""
    eo, b = r["exactly_once"], r["gateway"]["blocked"]
    lines = [
        f"soak: {r['load_s']} s of load, gateway {r['config']['rate']:g}/s, ingest "
        f"{r['config']['ingest_rate']:g} events/s, {r['config']['cores']} cores; saturation "
        f"{r['saturation_rps']} req/s",
        f"events: offered {eo['offered']:,} unique over {eo['accounts']} accounts, in state "
        f"{eo['in_state']:,}: lost {eo['lost']}, doubled {eo['doubled']} (re-sent on purpose "
        f"{r['ingest']['resent_events']:,}, failed posts retried {r['ingest']['failed_posts']}, "
        f"drain {eo['drain_s']} s); stats {eo['stats']}",
        f"blocked accounts: Redis healthy {b.get('redis_healthy_allowed', 0)} allowed of "
        f"{b.get('redis_healthy_asked', 0)}; Redis down/paused {b.get('redis_down_allowed', 0)} "
        f"allowed of {b.get('redis_down_asked', 0)} (fail-open "
        f"{b.get('redis_down_allowed_fail_open', 0)}, from state "
        f"{b.get('redis_down_allowed_from_state', 0)})",
        "phase            requests   req/s   p50 ms   p99 ms    max ms   503s  fail-open  errors"
        "  blocked allowed/asked",
    ]
    for name, p in sorted(r["gateway"]["phases"].items()):
        lines.append(
            f"  {name:<14} {p['requests']:>8} {p['rps']:>7} {p['p50_ms']!s:>8} {p['p99_ms']!s:>8}"
            f" {p['max_ms']!s:>9} {p['status_503']:>6} {p['fail_open']:>10} {p['errors']:>7}"
            f"  {p['blocked_allowed']}/{p['blocked_asked']}"
        )
    lines.append(f"slowest seconds of the run: {r['gateway']['worst_seconds']}")
    lines.append(
        "fail-open answers with Redis healthy (second, count): "
        f"{r['gateway']['fail_open_seconds_redis_healthy']}"
    )
    lines.append(f"service counters: {r.get('service_metrics')}")
    lines.append("fault           at s   gateway s   lag s   sink s  score s   notes")
    for f in r["faults"]:
        rc = f["recovery"]
        notes = {
            k: v
            for k, v in f.items()
            if k not in ("fault", "start_s", "end_s", "recovery", "recovered_at_s")
        }
        lines.append(
            f"  {f['fault']:<13} {f['start_s']:>6} {rc['gateway_s']!s:>10} {rc['lag_s']!s:>7}"
            f" {rc['sink_s']!s:>8} {rc['score_s']!s:>8}   reclaim {rc.get('reclaim_s', '-')}"
            f" {json.dumps(notes)[:100]}"
        )
    lv = r["level_off"]
    lines.append("level-off (mean of last third vs middle third of the samples):")
    for k, v in lv.items():
        if isinstance(v, dict):
            lines.append(
                f"  {k:<22} {v['mid']:>14,} -> {v['last']:>14,}  {v['growth']:+.1%}  "
                + ("ok" if v["ok"] else "GROWING")
            )
    fin = r["final"]
    lines.append(f"final RSS KiB: {fin['rss_kib']}")
    lines.append(f"final Redis: {fin['redis']}")
    lines.append(f"dead letters: {r['dead_letters']}; sink {r['sink']}; SSE {r['sse']}")
    lines.append(f"TTL audit: {r['ttl_audit']}")
    fair = fairness(r)
    if fair is not None:
        lines.append(f"token flood (fairness): {fair}")
    lines.append(f"verdict: {'PASS' if r['verdict']['ok'] else 'FAIL'} {r['verdict']['checks']}")
    return "\n".join(lines)


def markdown(r: dict[str, Any]) -> str:
    """The report as the Markdown tables of docs/reliability.md (``--markdown``)."""
    c, eo, b = r["config"], r["exactly_once"], r["gateway"]["blocked"]
    out = [
        f"Run: `--minutes {c['minutes']:g} --rate {c['rate']:g} --ingest-rate "
        f"{c['ingest_rate']:g} --seed {c['seed']}`; {c['cores']} cores, load average "
        f"{c['load_avg_before'][0]:.2f} before, {r['load_avg_after'][0]:.2f} after; saturation "
        f"(wrk -c32) {r['saturation_rps']} req/s; events stream bound {c['events_maxlen']:,}; "
        f"fault hold {c['hold_s']:.1f} s. Verdict: **{'PASS' if r['verdict']['ok'] else 'FAIL'}**"
        f" ({', '.join(k for k, v in r['verdict']['checks'].items() if not v) or 'all checks'}"
        f"{' failed' if not r['verdict']['ok'] else ' passed'}).",
        "",
        "| exactly once | |",
        "|---|---|",
        f"| unique events offered (accepted) | {eo['offered']:,} over {eo['accounts']} accounts |",
        f"| events in window state | {eo['in_state']:,} |",
        f"| lost / doubled | {eo['lost']} / {eo['doubled']} |",
        f"| re-sent on purpose / failed posts retried | {r['ingest']['resent_events']:,} / "
        f"{r['ingest']['failed_posts']} |",
        f"| stats: ingested / processed / duplicates | {eo['stats'].get('ingested')} / "
        f"{eo['stats'].get('processed')} / {eo['stats'].get('duplicates')} |",
        f"| drain after the load | {eo['drain_s']} s |",
        "",
        "| blocked accounts | asked | allowed | of which fail-open | from state |",
        "|---|---|---|---|---|",
    ]
    for key, label in (("redis_healthy", "Redis healthy"), ("redis_down", "Redis down/paused")):
        out.append(
            f"| {label} | {b.get(key + '_asked', 0):,} | {b.get(key + '_allowed', 0):,} | "
            f"{b.get(key + '_allowed_fail_open', 0):,} | {b.get(key + '_allowed_from_state', 0)} |"
        )
    out += [
        "",
        "| phase | requests | req/s | p50 ms | p99 ms | max ms | 503 | fail-open | "
        "blocked allowed/asked |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, p in sorted(r["gateway"]["phases"].items()):
        out.append(
            f"| {name} | {p['requests']:,} | {p['rps']} | {p['p50_ms']} | {p['p99_ms']} | "
            f"{p['max_ms']} | {p['status_503']} | {p['fail_open']:,} | "
            f"{p['blocked_allowed']:,}/{p['blocked_asked']:,} |"
        )
    out += [
        "",
        "| fault | at s | gateway s | lag s | sink s | score s | reclaim s | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in r["faults"]:
        rc = f["recovery"]
        notes = {
            k: v
            for k, v in f.items()
            if k not in ("fault", "start_s", "end_s", "recovery", "recovered_at_s", "answer")
        }
        if "answer" in f:
            notes = {k: f["answer"].get(k) for k in ("status", "added", "quarantined")}
        out.append(
            f"| {f['fault']} | {f['start_s']} | {rc['gateway_s']} | {rc['lag_s']} | "
            f"{rc['sink_s']} | {rc.get('score_s')} | {rc.get('reclaim_s', '')} | "
            f"{json.dumps(notes).replace('|', '/')} |"
        )
    fair = fairness(r)
    if fair is not None:
        out += [
            "",
            "| token flood (fairness) | |",
            "|---|---|",
            f"| floods / seconds each | {fair['floods']} / {fair['flood_seconds']} |",
            f"| flood token: quota, offered (max), served (max) req/s | {fair['quota_rps']:g}, "
            f"{fair['offered_rps_max']:g}, {fair['served_rps_max']:g} |",
            f"| steady token during the floods: requests, refused (429/503), errors | "
            f"{fair['steady_token_requests']:,}, {fair['steady_token_refused']}, "
            f"{fair['steady_token_errors']} |",
            f"| steady token p99 ms: during floods / steady phase | "
            f"{fair['steady_token_p99_ms']} / {fair['steady_phase_p99_ms']} |",
        ]
    out += ["", "| series (level-off rule) | middle third | last third | growth | |"]
    out.append("|---|---|---|---|---|")
    for k, v in r["level_off"].items():
        if isinstance(v, dict):
            out.append(
                f"| {k} | {v['mid']:,} | {v['last']:,} | {v['growth']:+.1%} | "
                f"{'ok' if v['ok'] else 'growing'} |"
            )
    fin = r["final"]["redis"] or {}
    out += [
        "",
        f"Final: RSS KiB {r['final']['rss_kib']}; Redis used_memory "
        f"{fin.get('used_memory', 0) / 2**20:.1f} MiB, streams {fin.get('xlen')}, keys "
        f"{fin.get('keys')}, live sessions {fin.get('sessions')}. Dead letters "
        f"{r['dead_letters']}. Sink: {r['sink']}. SSE: {r['sse']}. Service counters: "
        f"{r.get('service_metrics')}. Keys without TTL: {r['ttl_audit']['no_ttl_examples']}.",
    ]
    return "\n".join(out)
