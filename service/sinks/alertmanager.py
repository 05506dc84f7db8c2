"""The Alertmanager sink: ``POST <url>/api/v2/alerts`` with a list of postable alerts.

Alertmanager's v2 API (``postableAlerts`` in its OpenAPI spec) takes a JSON array of::

    {"labels": {str: str}, "annotations": {str: str},
     "startsAt": date-time, "endsAt": date-time, "generatorURL": uri}

Only ``labels`` is required; label and annotation values must be strings, so nested
values (the evidence) are sent as JSON text. Alertmanager computes the same fingerprint
as distillwatch (FNV-1a over the sorted labels), so re-posting an alert updates it.

Like Prometheus, the sink keeps open alerts alive: a firing alert is posted with
``endsAt`` = now + 4 × ``resend_s`` and every alert still firing (or acknowledged) in
Redis is re-posted every ``resend_s`` seconds; should distillwatch stop, Alertmanager
resolves them on its own once ``endsAt`` passes. A resolution (or a false-positive mark)
is posted with ``endsAt`` = the time of the transition. With ``resend_s`` = 0 firing
alerts carry no ``endsAt`` and Alertmanager's ``resolve_timeout`` applies.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

import orjson

from detector.alerts import rfc3339
from service import metrics
from service.sinks.base import AlertEntry, DeliveryError, HttpSink

__all__ = ["ENDING_STATUSES", "AlertmanagerSink", "postable_alert"]

log = logging.getLogger("distillwatch.sinks")

#: entry statuses that end the alert in Alertmanager
ENDING_STATUSES = ("resolved", "false_positive")
#: alert hash statuses that are still open (re-sent)
OPEN_STATUSES = ("firing", "acknowledged")
API_PATH = "/api/v2/alerts"


def _string(v: Any) -> str:
    if isinstance(v, str):
        return v
    return orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _parse(ts: str) -> datetime | None:
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None


def postable_alert(
    alert: dict[str, Any], status: str, *, at: float, horizon_s: float | None
) -> dict[str, Any] | None:
    """One Alertmanager postable alert from a distillwatch alert.

    Parameters
    ----------
    alert : dict
        Alertmanager-shaped alert (:func:`detector.alerts.account_alert`).
    status : str
        ``firing``, ``acknowledged``, ``resolved`` or ``false_positive``.
    at : float
        Wall time of the transition (resolutions end then) or of the post (firing).
    horizon_s : float or None
        Firing alerts end at ``at + horizon_s`` unless re-sent; None: no ``endsAt``.

    Returns
    -------
    dict or None
        The postable alert, or None when ``alert`` has no labels.
    """
    labels = alert.get("labels")
    if not isinstance(labels, dict) or not labels:
        return None
    out: dict[str, Any] = {
        "labels": {str(k): _string(v) for k, v in labels.items()},
        "annotations": {str(k): _string(v) for k, v in (alert.get("annotations") or {}).items()},
    }
    starts = alert.get("startsAt")
    if isinstance(starts, str) and starts and not starts.startswith("0001-"):
        out["startsAt"] = starts
    ends: float | None = None
    if status in ENDING_STATUSES:
        ends = at
        if status == "false_positive":
            out["annotations"]["resolution"] = "false_positive"
    elif horizon_s:
        ends = at + horizon_s
    if ends is not None:
        start_dt = _parse(out.get("startsAt", ""))
        if start_dt is not None and start_dt.timestamp() > ends:
            ends = start_dt.timestamp()  # Alertmanager refuses endsAt before startsAt
        out["endsAt"] = rfc3339(ends)
    url = alert.get("generatorURL")
    if isinstance(url, str) and url:
        out["generatorURL"] = url
    return out


class AlertmanagerSink(HttpSink):
    """POST alert batches to Alertmanager's v2 API and keep open alerts alive.

    Parameters
    ----------
    base_url : str
        Alertmanager's base URL (``http://alertmanager:9093``); a trailing
        ``/api/v2/alerts`` is accepted too.
    timeout_s : float
        Budget of one attempt.
    resend_s : float
        Re-post open alerts this often, seconds (0: never; see the module docstring).
    batch : int
        Alerts per request when re-sending.
    max_open : int
        Most alerts re-sent per round (newest first).
    """

    name = "alertmanager"

    def __init__(
        self,
        base_url: str,
        timeout_s: float = 5.0,
        *,
        resend_s: float = 60.0,
        batch: int = 100,
        max_open: int = 50_000,
    ) -> None:
        super().__init__(timeout_s)
        base = base_url.rstrip("/")
        self.url = base if base.endswith(API_PATH) else base + API_PATH
        self.resend_s = resend_s
        self.batch = max(int(batch), 1)
        self.max_open = max_open
        self._next_resend = time.monotonic() + resend_s if resend_s > 0 else float("inf")
        self._resend_warned = False

    @property
    def horizon_s(self) -> float | None:
        """How long a posted firing alert lasts without a re-send (None: Alertmanager's)."""
        return 4 * self.resend_s if self.resend_s > 0 else None

    def payload(self, alerts: list[AlertEntry], now: float | None = None) -> list[dict[str, Any]]:
        """Postable alerts for a batch (entries without labels, or of other statuses such
        as ``acknowledged``, are left out)."""
        now = time.time() if now is None else now
        out = []
        for entry in alerts:
            if entry.alert is None:
                log.warning("alertmanager sink: no labels for %s (%s)", entry.fingerprint, entry.id)
                continue
            if entry.status in ENDING_STATUSES:
                at = entry.at
            elif entry.status == "firing":
                at = now
            else:
                continue
            item = postable_alert(entry.alert, entry.status, at=at, horizon_s=self.horizon_s)
            if item is not None:
                out.append(item)
        return out

    async def send(self, alerts: list[AlertEntry]) -> int:
        """POST the batch as one JSON array."""
        items = self.payload(alerts)
        if items:
            await self.post(self.url, orjson.dumps(items), {"Content-Type": "application/json"})
        skipped = len(alerts) - len(items)
        if skipped:
            metrics.SINK_DELIVERIES.labels(self.name, "skipped").inc(skipped)
        return len(items)

    async def tick(self, client: Any, keys: Any) -> None:
        """Re-post every open alert when ``resend_s`` has passed (single attempt)."""
        if time.monotonic() < self._next_resend:
            return
        self._next_resend = time.monotonic() + self.resend_s
        try:
            n = await self.resend(client, keys)
            self._resend_warned = False
            log.debug("alertmanager sink: re-sent %d open alerts", n)
        except (DeliveryError, OSError, ValueError) as exc:
            if not self._resend_warned:
                log.warning("alertmanager sink: re-send failed: %s", exc)
                self._resend_warned = True
        except Exception as exc:  # Redis errors: next round
            if not self._resend_warned:
                log.warning("alertmanager sink: re-send failed: %r", exc)
                self._resend_warned = True

    async def resend(self, client: Any, keys: Any, now: float | None = None) -> int:
        """Post every alert still open in Redis once; returns how many were posted."""
        now = time.time() if now is None else now
        fps = await client.zrevrange(keys.alerts_index, 0, self.max_open - 1)
        if not fps:
            return 0
        pipe = client.pipeline(transaction=False)
        for fp in fps:
            pipe.hmget(keys.alert(fp.decode() if isinstance(fp, bytes) else fp), "status", "alert")
        items = []
        for status, blob in await pipe.execute():
            if status is None or blob is None:
                continue
            if (status.decode() if isinstance(status, bytes) else status) not in OPEN_STATUSES:
                continue
            try:
                alert = orjson.loads(blob)
            except orjson.JSONDecodeError:
                continue
            item = postable_alert(alert, "firing", at=now, horizon_s=self.horizon_s)
            if item is not None:
                items.append(item)
        for i in range(0, len(items), self.batch):
            chunk = items[i : i + self.batch]
            await self.post(self.url, orjson.dumps(chunk), {"Content-Type": "application/json"})
        return len(items)
