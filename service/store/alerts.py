"""Alerts: list with filters, read one, triage (acknowledge, resolve, false positive), notes.

An alert is the hash ``keys.alert(fp)`` written by the scorer
(:mod:`service.stream.alert_store`); ``keys.alerts_index`` orders fingerprints by their
last update. Every triage action is checked against the alert's current status inside
a ``WATCH``/``MULTI`` transaction (two analysts acting at once cannot both win), adds
``<what>_by`` / ``<what>_at`` fields, pushes ``{"by", "at", "action", "note"}`` onto the
alert's trail (``keys.alert_notes(fp)``, newest first) and appends a lifecycle entry to
the ``alerts`` stream for the sinks.

Transitions::

    firing        -> acknowledged | resolved | false_positive
    acknowledged  -> resolved | false_positive
    resolved      -> false_positive
    false_positive   (final: re-scoring never fires the fingerprint again)

A false positive also writes a durable suppression record (``keys.suppressions``, no
TTL) and sets the account's stored verdict to ``allow`` at once (``suppressed=1``) so
gateways stop acting on it before the next re-scoring.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import orjson
from redis.exceptions import WatchError

from service.redis_client import is_cluster, multi_key_pipeline
from service.redis_keys import Keys
from service.store.common import (
    Conflict,
    NotFound,
    dec,
    decode_hash,
    json_or,
    now_rfc3339,
    pipelined,
    split_ids,
    to_float,
    to_int,
)

__all__ = [
    "ACTIONS",
    "NOTES_CAP",
    "SORTS",
    "STATUSES",
    "TRANSITIONS",
    "acknowledge_many",
    "add_note",
    "get_alert",
    "list_alerts",
    "list_notes",
    "push_trail",
    "trail_entry",
    "trail_ttl",
    "transition",
]

STATUSES = ("firing", "acknowledged", "resolved", "false_positive")
SORTS = ("risk", "last_seen", "started")
#: triage action -> (statuses it may start from, status it leads to, field prefix)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "acknowledge": (("firing",), "acknowledged", "ack"),
    "resolve": (("firing", "acknowledged"), "resolved", "resolved"),
    "false_positive": (("firing", "acknowledged", "resolved"), "false_positive", "fp"),
}
ACTIONS = tuple(TRANSITIONS)
#: most entries kept on one alert's trail
NOTES_CAP = 500

#: fields read for every live alert to filter and sort
_FILTER_FIELDS = (
    "status",
    "severity",
    "action",
    "risk",
    "account_id",
    "rule_ids",
    "cluster_id",
    "last_seen",
    "startsAt",
)
_SUMMARY_FIELDS = (
    "fingerprint",
    "account_id",
    "status",
    "severity",
    "action",
    "risk",
    "startsAt",
    "fired_at",
    "last_seen",
    "endsAt",
    "updates",
    "rule_ids",
    "cluster_id",
    "ack_by",
    "ack_at",
    "resolved_by",
    "resolved_at",
    "fp_by",
    "fp_at",
)


def _summary(fp: str, row: dict[str, str | None]) -> dict[str, Any]:
    return {
        "fingerprint": row.get("fingerprint") or fp,
        "account_id": row.get("account_id") or "",
        "status": row.get("status") or "firing",
        "severity": row.get("severity") or "",
        "action": row.get("action") or "",
        "risk": to_float(row.get("risk"), 0.0),
        "rule_ids": split_ids(row.get("rule_ids")),
        "cluster_id": row.get("cluster_id") or None,
        "starts_at": row.get("startsAt"),
        "fired_at": row.get("fired_at"),
        "last_seen": row.get("last_seen"),
        "ends_at": row.get("endsAt"),
        "updates": to_int(row.get("updates")),
        "acknowledged_by": row.get("ack_by"),
        "acknowledged_at": row.get("ack_at"),
        "resolved_by": row.get("resolved_by"),
        "resolved_at": row.get("resolved_at"),
        "false_positive_by": row.get("fp_by"),
        "false_positive_at": row.get("fp_at"),
    }


def _body_fields(body: Any) -> tuple[str, str, str]:
    """(rule ids, cluster id, summary) from an alert's JSON body."""
    doc = json_or(body, {})
    if not isinstance(doc, dict):
        return "", "", ""
    labels = doc.get("labels") if isinstance(doc.get("labels"), dict) else {}
    notes = doc.get("annotations") if isinstance(doc.get("annotations"), dict) else {}
    return (
        str(labels.get("rule_ids", "")),
        str(notes.get("cluster_id", "")),
        str(notes.get("summary", "")),
    )


def _live_fingerprints(client: Any, keys: Keys, max_age_s: float | None, now: float) -> list[str]:
    if max_age_s is None:
        raw = client.zrevrange(keys.alerts_index, 0, -1)
    else:
        raw = client.zrevrangebyscore(keys.alerts_index, "+inf", now - max_age_s)
    return [dec(f) for f in raw]


def list_alerts(
    client: Any,
    keys: Keys,
    *,
    status: str | None = None,
    severity: str | None = None,
    rule_id: str | None = None,
    cluster_id: str | None = None,
    account_id: str | None = None,
    action: str | None = None,
    sort: str = "risk",
    order: str = "desc",
    offset: int = 0,
    limit: int = 50,
    max_age_s: float | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """One page of alerts matching every given filter.

    Parameters
    ----------
    client : redis.Redis
        Connection.
    keys : Keys
        Key names.
    status, severity, rule_id, cluster_id, account_id, action : str, optional
        Filters (exact match; ``rule_id`` matches any of the alert's rules).
    sort : {"risk", "last_seen", "started"}
        Sort key; ties are broken by fingerprint so pages are stable.
    order : {"desc", "asc"}
        Sort direction.
    offset, limit : int
        The page.
    max_age_s : float, optional
        Ignore index entries not updated for this long (their hashes have expired).
    now : float, optional
        Wall time (default: ``time.time()``).

    Returns
    -------
    dict
        ``items`` (alert summaries, with ``summary`` text), ``total`` (matches before
        paging), ``offset``, ``limit``.

    Notes
    -----
    Reads the index and a few fields of every live alert in chunked pipelines
    (alerts are a small fraction of the accounts), then the page's alert bodies.
    """
    now = time.time() if now is None else now
    fps = _live_fingerprints(client, keys, max_age_s, now)
    rows = pipelined(client, fps, lambda p, fp: p.hmget(keys.alert(fp), *_FILTER_FIELDS))
    candidates: list[tuple[str, dict[str, str | None]]] = []
    for fp, values in zip(fps, rows, strict=True):
        row = {
            f: (dec(v) if v is not None else None)
            for f, v in zip(_FILTER_FIELDS, values, strict=True)
        }
        if row["status"] is None:
            continue  # expired, or only a partial hash
        candidates.append((fp, row))
    legacy = [fp for fp, row in candidates if row["rule_ids"] is None]
    if legacy and (rule_id or cluster_id):
        bodies = pipelined(client, legacy, lambda p, fp: p.hget(keys.alert(fp), "alert"))
        filled = {fp: _body_fields(b) for fp, b in zip(legacy, bodies, strict=True)}
        for fp, row in candidates:
            if fp in filled:
                row["rule_ids"], row["cluster_id"] = filled[fp][0], filled[fp][1]
    matched = []
    for fp, row in candidates:
        if status and row["status"] != status:
            continue
        if severity and row["severity"] != severity:
            continue
        if action and row["action"] != action:
            continue
        if account_id and row["account_id"] != account_id:
            continue
        if cluster_id and (row["cluster_id"] or "") != cluster_id:
            continue
        if rule_id and rule_id not in split_ids(row["rule_ids"]):
            continue
        matched.append((fp, row))
    reverse = order != "asc"
    if sort == "last_seen":
        matched.sort(key=lambda m: (m[1]["last_seen"] or "", m[0]), reverse=reverse)
    elif sort == "started":
        matched.sort(key=lambda m: (m[1]["startsAt"] or "", m[0]), reverse=reverse)
    else:
        matched.sort(key=lambda m: (to_float(m[1]["risk"], 0.0), m[0]), reverse=reverse)
    chosen = matched[offset : offset + limit]
    page = []
    if chosen:
        pipe = client.pipeline(transaction=False)
        for fp, _row in chosen:
            pipe.hmget(keys.alert(fp), *_SUMMARY_FIELDS)
            pipe.hget(keys.alert(fp), "alert")
        replies = pipe.execute()
        for i, (fp, row) in enumerate(chosen):
            values, body = replies[2 * i], replies[2 * i + 1]
            full = {
                f: (dec(v) if v is not None else None)
                for f, v in zip(_SUMMARY_FIELDS, values, strict=True)
            }
            for f, v in row.items():  # keep what was filtered on (legacy fill-ins)
                full[f] = full[f] if full[f] is not None else v
            item = _summary(fp, full)
            page.append(item)
            rules, cluster, summary = _body_fields(body)
            item["summary"] = summary
            if not item["rule_ids"] and rules:
                item["rule_ids"] = split_ids(rules)
            if item["cluster_id"] is None and cluster:
                item["cluster_id"] = cluster
    return {"items": page, "total": len(matched), "offset": offset, "limit": limit}


def get_alert(client: Any, keys: Keys, fingerprint: str, trail: int = 20) -> dict[str, Any]:
    """One alert with its labels, annotations, evidence, suppression and latest trail.

    Parameters
    ----------
    client : redis.Redis
        Connection.
    keys : Keys
        Key names.
    fingerprint : str
        The alert.
    trail : int
        Newest trail entries included.

    Returns
    -------
    dict
        The summary fields plus ``labels``, ``annotations``, ``evidence``, ``summary``,
        ``description``, ``recommended_action``, ``suppression`` (or None), ``trail``
        and ``trail_total``.

    Raises
    ------
    NotFound
        When the alert does not exist (or expired).
    """
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.alert(fingerprint))
    pipe.hget(keys.suppressions, fingerprint)
    pipe.lrange(keys.alert_notes(fingerprint), 0, max(trail, 1) - 1)
    pipe.llen(keys.alert_notes(fingerprint))
    raw, suppression, notes, n_notes = pipe.execute()
    state = decode_hash(raw)
    if "status" not in state:
        raise NotFound(f"alert {fingerprint} not found")
    row: dict[str, str | None] = {f: state.get(f) for f in _SUMMARY_FIELDS}
    body = json_or(state.get("alert"), {})
    body = body if isinstance(body, dict) else {}
    labels = body.get("labels") if isinstance(body.get("labels"), dict) else {}
    annotations = body.get("annotations") if isinstance(body.get("annotations"), dict) else {}
    if row["rule_ids"] is None:
        row["rule_ids"] = str(labels.get("rule_ids", ""))
    if row["cluster_id"] is None:
        row["cluster_id"] = str(annotations.get("cluster_id", ""))
    out = _summary(fingerprint, row)
    evidence = json_or(annotations.get("evidence"), {})
    sup = json_or(suppression, None)
    out.update(
        {
            "summary": str(annotations.get("summary", "")),
            "description": str(annotations.get("description", "")),
            "recommended_action": str(annotations.get("recommended_action", out["action"])),
            "labels": {str(k): str(v) for k, v in labels.items()},
            "annotations": {str(k): str(v) for k, v in annotations.items()},
            "evidence": evidence if isinstance(evidence, dict) else {},
            "model_version": annotations.get("model_version"),
            "suppression": sup if isinstance(sup, dict) else None,
            "trail": _parse_notes(notes),
            "trail_total": int(n_notes or 0),
        }
    )
    return out


def _parse_notes(raw: Sequence[Any]) -> list[dict[str, Any]]:
    out = []
    for item in raw:
        doc = json_or(item, None)
        if not isinstance(doc, dict):
            continue
        note = doc.get("note")
        out.append(
            {
                "by": str(doc.get("by", "")),
                "at": str(doc.get("at", "")),
                "action": str(doc.get("action", "note")),
                "note": str(note) if note is not None else None,
            }
        )
    return out


def trail_entry(by: str, action: str, note: str | None, at: str) -> bytes:
    """A trail entry: JSON ``{"by", "at", "action", "note"}``."""
    return orjson.dumps({"by": by, "at": at, "action": action, "note": note})


def push_trail(pipe: Any, keys: Keys, fingerprint: str, entry: bytes, ttl_s: int | None) -> None:
    """Queue an entry on an alert's trail (newest first, capped, expiring with the alert).

    Parameters
    ----------
    pipe : redis.client.Pipeline
        Where the commands are queued.
    keys : Keys
        Key names.
    fingerprint : str
        The alert.
    entry : bytes
        JSON ``{"by", "at", "action", "note"}``.
    ttl_s : int or None
        Seconds the trail is kept (None: as long as the alert, i.e. no expiry).
    """
    nkey = keys.alert_notes(fingerprint)
    pipe.lpush(nkey, entry)
    pipe.ltrim(nkey, 0, NOTES_CAP - 1)
    if ttl_s is not None:
        pipe.expire(nkey, ttl_s, gt=True)
        pipe.expire(nkey, ttl_s, nx=True)


def trail_ttl(alert_pttl: int, ttl: int) -> int | None:
    """Seconds an alert's trail is kept: at least ``ttl``, and as long as the alert (whose
    remaining life is ``alert_pttl`` ms); None when the alert never expires."""
    if alert_pttl == -1:
        return None  # the alert never expires: neither does its trail
    return max(ttl, math.ceil(max(alert_pttl, 0) / 1000))


def transition(
    client: Any,
    keys: Keys,
    fingerprint: str,
    action: str,
    by: str,
    note: str | None = None,
    *,
    ttl: int,
    maxlen: int,
    now: float | None = None,
) -> dict[str, Any]:
    """Apply a triage action to an alert; returns the alert afterwards.

    Parameters
    ----------
    client : redis.Redis
        Connection.
    keys : Keys
        Key names.
    fingerprint : str
        The alert.
    action : {"acknowledge", "resolve", "false_positive"}
        What the analyst does.
    by : str
        Who (the caller's token name).
    note : str, optional
        Why.
    ttl : int
        The alert (and its trail) is kept at least this long after the action, seconds.
    maxlen : int
        Approximate bound of the alerts stream.
    now : float, optional
        Wall time (default: ``time.time()``).

    Returns
    -------
    dict
        :func:`get_alert` of the alert after the change.

    Raises
    ------
    NotFound
        When the alert does not exist.
    Conflict
        When the alert's status does not allow ``action``.
    """
    if action not in TRANSITIONS:
        raise ValueError(f"unknown action {action!r}")
    allowed, target, prefix = TRANSITIONS[action]
    now = time.time() if now is None else now
    at = now_rfc3339(now)
    akey = keys.alert(fingerprint)
    # One Redis: everything in one MULTI/EXEC under WATCH of the alert. A Redis Cluster
    # cannot span slots in a transaction: there the alert's own keys (hash and trail, one
    # slot) change atomically under the WATCH, and the population-wide and account keys
    # follow in a pipeline right after EXEC (each write is idempotent).
    cluster = is_cluster(client)
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(akey)
                reader = client if cluster else pipe
                state = decode_hash(pipe.hgetall(akey))
                status = state.get("status")
                if status is None:
                    raise NotFound(f"alert {fingerprint} not found")
                if status not in allowed:
                    raise Conflict(f"cannot {action.replace('_', ' ')} an alert that is {status}")
                account = state.get("account_id", "")
                alert_pttl = int(pipe.pttl(akey))
                score_known = bool(account) and bool(reader.exists(keys.score(account)))
                open_fp = reader.get(keys.account_alert(account)) if account else None
                pipe.multi()
                after = client.pipeline(transaction=False) if cluster else pipe
                mapping = {"status": target, f"{prefix}_by": by, f"{prefix}_at": at}
                if target == "resolved":
                    mapping["endsAt"] = at
                pipe.hset(akey, mapping=mapping)
                pipe.expire(akey, ttl, gt=True)
                after.zadd(keys.alerts_index, {fingerprint: now})
                entry_ttl = trail_ttl(alert_pttl, ttl)
                push_trail(pipe, keys, fingerprint, trail_entry(by, action, note, at), entry_ttl)
                entry = {"fingerprint": fingerprint, "status": target, "account_id": account}
                entry.update({"by": by, "at": at, "note": note or ""})
                if target in ("resolved", "false_positive"):
                    entry["endsAt"] = at  # sinks close the alert downstream
                if state.get("alert"):
                    entry["alert"] = state["alert"]
                if target == "resolved" and open_fp is not None and dec(open_fp) == fingerprint:
                    after.delete(keys.account_alert(account))
                if target == "false_positive":
                    record = {"account_id": account, "by": by, "at": at, "note": note}
                    after.hset(keys.suppressions, fingerprint, orjson.dumps(record))
                    if score_known:
                        after.hset(
                            keys.score(account),
                            mapping={"action": "allow", "suppressed": 1, "suppressed_by": by},
                        )
                after.xadd(keys.alerts, entry, maxlen=maxlen, approximate=True)
                pipe.execute()
                if after is not pipe:
                    after.execute()
                break
            except WatchError:
                continue
    return get_alert(client, keys, fingerprint)


def acknowledge_many(
    client: Any,
    keys: Keys,
    fingerprints: Sequence[str],
    by: str,
    note: str | None = None,
    *,
    ttl: int,
    maxlen: int,
) -> list[dict[str, str]]:
    """Acknowledge several alerts; one result per distinct fingerprint, in order.

    Returns
    -------
    list of dict
        ``{"fingerprint", "result", "detail"}`` with ``result`` one of ``acknowledged``,
        ``not_found`` or ``conflict``.
    """
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for fp in fingerprints:
        if fp in seen:
            continue
        seen.add(fp)
        try:
            transition(client, keys, fp, "acknowledge", by, note, ttl=ttl, maxlen=maxlen)
            out.append({"fingerprint": fp, "result": "acknowledged", "detail": ""})
        except NotFound as exc:
            out.append({"fingerprint": fp, "result": "not_found", "detail": str(exc)})
        except Conflict as exc:
            out.append({"fingerprint": fp, "result": "conflict", "detail": str(exc)})
    return out


def add_note(
    client: Any,
    keys: Keys,
    fingerprint: str,
    by: str,
    note: str,
    *,
    ttl: int,
    action: str = "note",
    now: float | None = None,
) -> dict[str, Any]:
    """Add a note (or another trail entry) to an existing alert; returns the entry.

    Raises
    ------
    NotFound
        When the alert does not exist.
    """
    pipe = client.pipeline(transaction=False)
    pipe.hget(keys.alert(fingerprint), "status")
    pipe.pttl(keys.alert(fingerprint))
    status, pttl = pipe.execute()
    if status is None:
        raise NotFound(f"alert {fingerprint} not found")
    at = now_rfc3339(now)
    pipe = multi_key_pipeline(client)
    entry = trail_entry(by, action, note, at)
    push_trail(pipe, keys, fingerprint, entry, trail_ttl(int(pttl), ttl))
    pipe.execute()
    return {"by": by, "at": at, "action": action, "note": note}


def list_notes(
    client: Any, keys: Keys, fingerprint: str, offset: int = 0, limit: int = 100
) -> dict[str, Any]:
    """One page of an alert's trail, newest first.

    Returns
    -------
    dict
        ``items`` ({"by", "at", "action", "note"}), ``total``, ``offset``, ``limit``.

    Raises
    ------
    NotFound
        When neither the alert nor a trail exists.
    """
    pipe = client.pipeline(transaction=False)
    pipe.exists(keys.alert(fingerprint))
    pipe.lrange(keys.alert_notes(fingerprint), offset, offset + limit - 1)
    pipe.llen(keys.alert_notes(fingerprint))
    exists, raw, total = pipe.execute()
    if not exists and not total:
        raise NotFound(f"alert {fingerprint} not found")
    return {"items": _parse_notes(raw), "total": int(total), "offset": offset, "limit": limit}
