"""Figures of the dashboard's overview page, read from Redis in a few round trips.

Alerts by severity and status, the risk distribution, the riskiest accounts and
clusters, ingest health (lag, quarantine, events per second), the model in use, and the
gateway answers of this service process (decisions, fail-mode answers, load shed; read
from its own Prometheus registry, not from Redis).
Everything is O(log n) or bounded in Redis except the alert counts, which read one short
hash field pair per indexed alert (pipelined, capped) and are cached for a few seconds.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from typing import Any

import orjson

from service import metrics
from service.redis_keys import Keys
from service.store.common import dec
from service.stream.layout import group_lag_total, pipeline_stats, stream_clock, stream_lengths

__all__ = ["RISK_BINS", "OverviewReader", "gateway_health"]

#: edges of the risk histogram (10 bins of 0.1; the last one includes 1.0)
RISK_BINS: tuple[float, ...] = tuple(round(i / 10, 1) for i in range(11))
_TOP = 10
_TOP_CLUSTERS = 8
#: clusters read for the top list (the hash holds one entry per cluster of the last refresh)
_MAX_CLUSTERS = 2_000


def _num(v: Any) -> float | None:
    try:
        return float(dec(v)) if v is not None else None
    except ValueError:
        return None


def _samples(name: str) -> list[tuple[dict[str, str], float]]:
    """``(labels, value)`` of every sample named ``name`` in the service's registry."""
    out = []
    for family in metrics.REGISTRY.collect():
        for sample in family.samples:
            if sample.name == name:
                out.append((sample.labels, sample.value))
    return out


def gateway_health() -> dict[str, Any]:
    """Gateway answers of this process since it started: by action, from the fail mode,
    shed under overload, and the event loop's lag right now."""
    by_action: dict[str, int] = {}
    for labels, v in _samples("distillwatch_decisions_total"):
        by_action[labels["action"]] = by_action.get(labels["action"], 0) + int(v)
    shed: dict[str, int] = {}
    for labels, v in _samples("distillwatch_shed_requests_total"):
        shed[labels["reason"]] = shed.get(labels["reason"], 0) + int(v)
    fallback = sum(int(v) for _l, v in _samples("distillwatch_fallback_decisions_total"))
    lag = _samples("distillwatch_event_loop_lag_seconds")
    inflight = _samples("distillwatch_gateway_inflight_requests")
    return {
        "decisions": by_action,
        "fail_mode_answers": fallback,
        "shed": shed,
        "shed_total": sum(shed.values()),
        "loop_lag_s": lag[0][1] if lag else 0.0,
        "inflight": int(inflight[0][1]) if inflight else 0,
    }


class OverviewReader:
    """Reads the overview; keeps alert counts briefly and samples counters for rates.

    Parameters
    ----------
    keys : Keys
        Key names.
    group : str
        The workers' consumer group on the events stream.
    counts_ttl_s : float
        How long alert counts are reused.
    max_alerts : int
        Most alerts counted (newest updates first).
    """

    def __init__(
        self, keys: Keys, group: str, counts_ttl_s: float = 3.0, max_alerts: int = 100_000
    ) -> None:
        self.keys = keys
        self.group = group
        self.counts_ttl_s = counts_ttl_s
        self.max_alerts = max_alerts
        self._counts: tuple[float, dict[str, Any]] | None = None
        self._samples: deque[tuple[float, float, float]] = deque(maxlen=64)
        self._lock = threading.Lock()

    # -- pieces ------------------------------------------------------------------------
    def alert_counts(self, client: Any) -> dict[str, Any]:
        """Alerts by severity and status: ``{"by": {sev: {status: n}}, "total", ...}``."""
        now = time.monotonic()
        with self._lock:
            if self._counts is not None and now - self._counts[0] < self.counts_ttl_s:
                return self._counts[1]
        fps = client.zrevrange(self.keys.alerts_index, 0, self.max_alerts - 1)
        by: dict[str, dict[str, int]] = {}
        total = 0
        for start in range(0, len(fps), 5_000):
            pipe = client.pipeline(transaction=False)
            for fp in fps[start : start + 5_000]:
                pipe.hmget(self.keys.alert(dec(fp)), "severity", "status")
            for sev, status in pipe.execute():
                if sev is None:
                    continue
                s, st = dec(sev), dec(status) if status is not None else "firing"
                by.setdefault(s, {})
                by[s][st] = by[s].get(st, 0) + 1
                total += 1
        out = {"by": by, "total": total, "capped": len(fps) >= self.max_alerts}
        with self._lock:
            self._counts = (now, out)
        return out

    def events_rate(self, ingested: float, processed: float) -> dict[str, float | None]:
        """Events per second ingested and processed since an earlier sample (None at first)."""
        now = time.monotonic()
        with self._lock:
            samples = self._samples
            base = None
            for t, i, p in samples:
                if now - t >= 1.0:
                    base = (t, i, p)
                # keep the newest sample at least one second old, within five minutes
            while samples and now - samples[0][0] > 300:
                samples.popleft()
            if not samples or now - samples[-1][0] >= 1.0:
                samples.append((now, ingested, processed))
        if base is None:
            return {"ingested_per_s": None, "processed_per_s": None, "over_s": None}
        dt = now - base[0]
        return {
            "ingested_per_s": max(0.0, (ingested - base[1]) / dt),
            "processed_per_s": max(0.0, (processed - base[2]) / dt),
            "over_s": round(dt, 1),
        }

    # -- the page ----------------------------------------------------------------------
    def read(self, client: Any) -> dict[str, Any]:
        """Everything the overview page shows.

        Parameters
        ----------
        client : redis.Redis
            Connection (blocking; call from a worker thread).

        Returns
        -------
        dict
            ``alerts``, ``risk`` (histogram, accounts scored and with state),
            ``top_accounts``, ``top_clusters``, ``ingest``, ``model``.
        """
        k = self.keys
        pipe = client.pipeline(transaction=False)
        for lo, hi in itertools.pairwise(RISK_BINS):
            pipe.zcount(k.risk, lo, hi if hi >= 1.0 else f"({hi}")
        pipe.zcard(k.risk)
        pipe.zrevrange(k.risk, 0, _TOP - 1, withscores=True)
        pipe.xlen(k.quarantine)
        pipe.get(k.model_active)
        pipe.get(k.model_current)
        pipe.hlen(k.clusters)
        pipe.zcard(k.alerts_index)
        replies = pipe.execute()
        nb = len(RISK_BINS) - 1
        bins = [int(n) for n in replies[:nb]]
        scored, top, n_quarantine, active, current, n_clusters, n_alerts = replies[nb:]
        # per-partition keys, merged (service.stream.layout)
        pipe = client.pipeline(transaction=False)
        for part in k.parts():
            pipe.zcard(part.accounts)
        with_state = sum(pipe.execute())
        stats_raw = pipeline_stats(client, k)
        lengths = stream_lengths(client, k)
        n_events, n_dead = lengths["events"], lengths["deadletter"]
        clock = stream_clock(client, k)

        pipe = client.pipeline(transaction=False)
        for acct, _risk in top:
            pipe.hmget(k.score(dec(acct)), "action", "cluster_id", "rule_ids", "suppressed")
        details = pipe.execute() if top else []
        top_accounts = [
            {
                "account_id": dec(acct),
                "risk": float(risk),
                "action": dec(d[0]) if d[0] is not None else None,
                "cluster_id": dec(d[1]) if d[1] else None,
                "rule_ids": [r for r in dec(d[2] or b"").split(",") if r],
                "suppressed": dec(d[3] or b"0") == "1",
            }
            for (acct, risk), d in zip(top, details, strict=True)
        ]

        stats = {dec(a): _num(b) or 0.0 for a, b in stats_raw.items()}
        quarantined = {
            name.split(":", 1)[1]: int(v)
            for name, v in stats.items()
            if name.startswith("quarantined:")
        }
        got = group_lag_total(client, k, self.group)
        lag, pending = got if got is not None else (None, None)
        ingest = {
            "events_in_stream": int(n_events),
            "lag": lag,
            "pending": pending,
            "quarantine_len": int(n_quarantine),
            "deadletter_len": int(n_dead),
            "quarantined": quarantined,
            "quarantined_total": sum(quarantined.values()),
            "ingested": int(stats.get("ingested", 0)),
            "duplicates": int(stats.get("duplicates", 0)),
            "processed": int(stats.get("processed", 0)),
            "clock": _num(clock),
            **self.events_rate(stats.get("ingested", 0.0), stats.get("processed", 0.0)),
        }
        return {
            "generated_at": time.time(),
            "alerts": {**self.alert_counts(client), "indexed": int(n_alerts)},
            "risk": {
                "bins": [
                    {"lo": lo, "hi": hi, "count": n}
                    for lo, hi, n in zip(RISK_BINS[:-1], RISK_BINS[1:], bins, strict=True)
                ],
                "scored": int(scored),
                "with_state": int(with_state),
            },
            "top_accounts": top_accounts,
            "top_clusters": self.top_clusters(client, int(n_clusters)),
            "clusters_total": int(n_clusters),
            "ingest": ingest,
            "gateway": gateway_health(),
            "model": {
                "active": dec(active) if active else None,
                "published": dec(current) if current else None,
            },
        }

    def top_clusters(self, client: Any, n_clusters: int) -> list[dict[str, Any]]:
        """The riskiest clusters of the last refresh (members counted, not listed)."""
        if n_clusters == 0:
            return []
        if n_clusters <= _MAX_CLUSTERS:
            raw = client.hvals(self.keys.clusters)
        else:  # a sample is enough for a top list on a huge population
            _cursor, page = client.hscan(self.keys.clusters, 0, count=_MAX_CLUSTERS)
            raw = list(page.values())
        out = []
        for blob in raw:
            try:
                c = orjson.loads(blob)
            except orjson.JSONDecodeError:
                continue
            feats = c.get("features") or {}
            out.append(
                {
                    "cluster_id": c.get("cluster_id"),
                    "size": c.get("size") or len(c.get("members") or []),
                    "risk": float(c.get("risk") or 0.0),
                    "action": c.get("action"),
                    "reason": c.get("reason", ""),
                    "volume": feats.get("events") or feats.get("n_events"),
                }
            )
        out.sort(key=lambda c: (-c["risk"], -c["size"]))
        return out[:_TOP_CLUSTERS]
