"""Alerts in Redis: one hash per fingerprint, lifecycle entries on a bounded stream.

An account's alert is identified by its Alertmanager fingerprint (labels: alertname,
account, severity, rule ids). Re-scoring the same situation updates the alert's hash
(risk, evidence, last seen) instead of adding a duplicate; a change of severity or rules
resolves the old alert and fires a new one; an account that falls back to ``allow``
resolves its alert. Only firing and resolved transitions are appended to the
``alerts`` stream. An alert an analyst marked ``false_positive`` stays suppressed: its
fingerprint is kept in the ``suppressions`` hash (no TTL), so re-scoring never fires it
again, even after the alert's own hash expired (the scorer also keeps the account's
stored verdict at ``allow`` for it).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from detector.alerts import rfc3339
from service.redis_client import multi_key_pipeline
from service.redis_keys import Keys
from service.redis_values import text as _dec

__all__ = ["SUPPRESSED", "sync_account_alert"]

#: Statuses set by analysts that re-scoring must keep (issue 6 sets them).
KEPT = ("acknowledged", "false_positive")
SUPPRESSED = ("false_positive",)


def _verdict_fields(alert: dict[str, Any]) -> dict[str, Any]:
    """The alert hash's fields copied from the verdict (for filters and listings)."""
    return {
        "severity": alert["labels"]["severity"],
        "action": alert["annotations"]["recommended_action"],
        "risk": alert["annotations"]["risk"],
        "rule_ids": alert["labels"].get("rule_ids", ""),
        "cluster_id": alert["annotations"].get("cluster_id", ""),
    }


def _resolve(
    client: Any, keys: Keys, fp: str, account_id: str, now: float, as_of: float, maxlen: int
) -> None:
    state, body = client.hmget(keys.alert(fp), "status", "alert")
    if state is None or _dec(state) in ("resolved", "false_positive"):
        return
    ends = rfc3339(now)
    pipe = multi_key_pipeline(client)
    pipe.hset(
        keys.alert(fp),
        mapping={"status": "resolved", "endsAt": ends, "resolved_as_of": repr(as_of)},
    )
    pipe.zadd(keys.alerts_index, {fp: now})
    entry = {
        "fingerprint": fp,
        "status": "resolved",
        "account_id": account_id,
        "as_of": repr(as_of),
        "endsAt": ends,
    }
    if body is not None:
        entry["alert"] = _dec(body)  # sinks close the alert downstream, even after expiry
    pipe.xadd(keys.alerts, entry, maxlen=maxlen, approximate=True)
    pipe.execute()


def _keep_suppressed(
    pipe: Any,
    keys: Keys,
    alert: dict[str, Any],
    account_id: str,
    existing: dict[str, str],
    suppression: Any,
    now: float,
    as_of: float,
    ttl: int,
) -> None:
    """Queue the writes keeping a false-positive alert suppressed on ``pipe``."""
    fp = alert["fingerprint"]
    akey = keys.alert(fp)
    mapping = {"last_seen": rfc3339(now), "as_of": repr(as_of)}
    record: dict[str, Any] = {}
    if suppression is not None:
        try:
            loaded = orjson.loads(suppression)
            record = loaded if isinstance(loaded, dict) else {}
        except orjson.JSONDecodeError:
            record = {}
    if existing.get("status") not in SUPPRESSED:
        # the alert hash expired (or was never marked): rebuild it as a false positive
        mapping.update(
            {
                "fingerprint": fp,
                "account_id": account_id,
                "status": "false_positive",
                "startsAt": existing.get("startsAt", alert["startsAt"]),
                "alert": orjson.dumps(alert, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
                **_verdict_fields(alert),
                "fp_by": str(record.get("by", "")),
                "fp_at": str(record.get("at", "")),
            }
        )
    pipe.hset(akey, mapping=mapping)
    pipe.expire(akey, ttl)
    pipe.zadd(keys.alerts_index, {fp: now})


def sync_account_alert(
    client: Any,
    keys: Keys,
    account_id: str,
    alert: dict[str, Any] | None,
    *,
    as_of: float,
    maxlen: int,
    ttl: int,
    now: float | None = None,
) -> str:
    """Bring an account's alert in Redis in line with its latest verdict.

    Parameters
    ----------
    client : redis.Redis
        Connection.
    keys : Keys
        Key names.
    account_id : str
        The account.
    alert : dict or None
        Alertmanager-shaped alert (:func:`detector.alerts.account_alert`), or None when
        the account's action no longer warrants one.
    as_of : float
        Event time of the scoring (the stream's clock), recorded for detection delay.
    maxlen : int
        Approximate bound of the alerts stream.
    ttl : int
        Seconds an alert hash is kept after its last update.
    now : float, optional
        Wall time (default: ``time.time()``).

    Returns
    -------
    str
        What happened: ``none``, ``fired``, ``updated``, ``suppressed`` or ``resolved``.
    """
    now = time.time() if now is None else now
    raw = client.get(keys.account_alert(account_id))
    current = _dec(raw) if raw is not None else None
    if alert is None:
        if current is None:
            return "none"
        _resolve(client, keys, current, account_id, now, as_of, maxlen)
        client.delete(keys.account_alert(account_id))
        return "resolved"
    fp = alert["fingerprint"]
    akey = keys.alert(fp)
    read = client.pipeline(transaction=False)
    read.hgetall(akey)
    read.hget(keys.suppressions, fp)
    raw_alert, suppression = read.execute()
    existing = {_dec(k): _dec(v) for k, v in raw_alert.items()}
    status = existing.get("status")
    if current is not None and current != fp:
        _resolve(client, keys, current, account_id, now, as_of, maxlen)
    pipe = multi_key_pipeline(client)
    pipe.set(keys.account_alert(account_id), fp, ex=ttl)
    if status in SUPPRESSED or suppression is not None:
        _keep_suppressed(pipe, keys, alert, account_id, existing, suppression, now, as_of, ttl)
        pipe.execute()
        return "suppressed"
    firing = status in (None, "resolved")
    if firing:
        body = dict(alert)
        mapping = {
            "fingerprint": fp,
            "account_id": account_id,
            "status": "firing",
            "startsAt": alert["startsAt"],
            "fired_at": rfc3339(now),
            "fired_as_of": repr(as_of),
        }
    else:
        body = dict(alert, startsAt=existing.get("startsAt", alert["startsAt"]))
        mapping = {"status": status or "firing"}
    mapping.update(
        {
            "alert": orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
            **_verdict_fields(alert),
            "last_seen": rfc3339(now),
            "as_of": repr(as_of),
        }
    )
    pipe.hset(akey, mapping=mapping)
    pipe.hincrby(akey, "updates", 1)
    pipe.expire(akey, ttl)
    pipe.zadd(keys.alerts_index, {fp: now})
    if firing:
        pipe.xadd(
            keys.alerts,
            {
                "fingerprint": fp,
                "status": "firing",
                "account_id": account_id,
                "severity": mapping["severity"],
                "action": mapping["action"],
                "risk": mapping["risk"],
                "as_of": repr(as_of),
                "alert": mapping["alert"],
            },
            maxlen=maxlen,
            approximate=True,
        )
    pipe.execute()
    return "fired" if firing else "updated"
