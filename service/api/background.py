"""Background work of the service: refresh Redis-backed gauges; run the alert sinks.

Gauges (open alerts by severity and status, ingest lag, model version) and the snapshot
of the pipeline counters (the ``dw:stats`` hash, exported by
:data:`service.metrics.PIPELINE`) are read from Redis every ``interval`` seconds in a
worker thread, so neither a scrape nor a gateway request ever waits for them.
"""

from __future__ import annotations

import asyncio
import logging

from service import metrics
from service.api.context import Services
from service.redis_values import text as _dec
from service.stream.layout import group_lag_total, pipeline_stats

__all__ = ["refresh_gauges", "run_gauges"]

log = logging.getLogger("distillwatch.service")


def refresh_gauges(services: Services, max_alerts: int = 50_000) -> None:
    """Read the Redis-backed gauges once (blocking; call from a thread)."""
    client, keys = services.redis, services.keys
    fps = [_dec(f) for f in client.zrevrange(keys.alerts_index, 0, max_alerts - 1)]
    pipe = client.pipeline(transaction=False)
    for fp in fps:
        pipe.hmget(keys.alert(fp), "severity", "status")
    counts: dict[tuple[str, str], int] = {}
    for sev, status in pipe.execute() if fps else []:
        if sev is None:
            continue
        key = (_dec(sev), _dec(status or b"firing"))
        counts[key] = counts.get(key, 0) + 1
    metrics.ALERTS_OPEN.clear()
    for (sev, status), n in counts.items():
        metrics.ALERTS_OPEN.labels(sev, status).set(n)
    got = group_lag_total(client, keys, services.settings.group)
    metrics.INGEST_LAG.set(sum(got) if got else 0)
    metrics.PIPELINE.update(pipeline_stats(client, keys))
    version = client.get(keys.model_active) or client.get(keys.model_current)
    metrics.MODEL_INFO.info({"version": _dec(version) if version else "none"})


async def run_gauges(services: Services, interval: float = 5.0) -> None:
    """Refresh the gauges every ``interval`` seconds until cancelled."""
    warned = False
    while True:
        try:
            await asyncio.to_thread(refresh_gauges, services)
            warned = False
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis down: keep serving, say so once
            if not warned:
                log.warning("cannot refresh gauges from Redis: %s", exc)
                warned = True
        await asyncio.sleep(interval)
