"""Accounts: ranked by risk, one account's verdict, features, history, analyst decisions.

The scorer keeps per account a ``score`` hash (the verdict gateways read), a ``features``
hash, a ``history`` list of snapshots and its open alert's fingerprint, and ranks every
account in the ``risk`` ZSET. An analyst's confirmed block is the ``decision`` hash
(gateways read it too, :mod:`service.api.decisions`), indexed in ``keys.decisions``.
"""

from __future__ import annotations

import time
from typing import Any

from service.redis_client import multi_key_pipeline
from service.redis_keys import Keys
from service.store.alerts import push_trail, trail_entry, trail_ttl
from service.store.common import (
    CHUNK,
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
from service.store.score_record import parse_score

__all__ = [
    "account_features",
    "account_history",
    "clear_decision",
    "confirm_block",
    "get_account",
    "get_decision",
    "list_accounts",
    "parse_score",
]

_LIST_FIELDS = (
    "risk",
    "action",
    "rule_ids",
    "cluster_id",
    "n_events",
    "scored_at",
    "as_of",
    "model_version",
    "suppressed",
    "allowlisted",
)
#: linked accounts listed on an account page (the cluster page lists them all)
LINKED_SHOWN = 50


def _list_item(account: str, risk_rank: float, values: list[Any]) -> dict[str, Any] | None:
    row = {
        f: (dec(v) if v is not None else None) for f, v in zip(_LIST_FIELDS, values, strict=True)
    }
    if row["action"] is None:
        return None  # ranked but its verdict expired
    return {
        "account_id": account,
        "risk": to_float(row["risk"], risk_rank),
        "action": row["action"],
        "rule_ids": split_ids(row["rule_ids"]),
        "cluster_id": row["cluster_id"] or None,
        "n_events": to_int(row["n_events"]),
        "scored_at": row["scored_at"],
        "as_of": to_float(row["as_of"]),
        "model_version": row["model_version"] or None,
        "suppressed": row["suppressed"] == "1",
        "allowlisted": row["allowlisted"] == "1",
    }


def list_accounts(
    client: Any,
    keys: Keys,
    *,
    action: str | None = None,
    min_risk: float | None = None,
    offset: int = 0,
    limit: int = 50,
    via_alerts: bool = False,
) -> dict[str, Any]:
    """One page of accounts, riskiest first.

    Parameters
    ----------
    client : redis.Redis
        Connection.
    keys : Keys
        Key names.
    action : str, optional
        Only accounts whose stored verdict has this action.
    min_risk : float, optional
        Only accounts at or above this risk.
    offset, limit : int
        The page.
    via_alerts : bool
        ``action`` raises alerts (``settings.alert_actions``): look for its accounts
        among the alerts' accounts instead of reading every ranked account.

    Returns
    -------
    dict
        ``items``, ``total``, ``offset``, ``limit``.

    Notes
    -----
    Without ``action`` the page comes straight from the ``risk`` ZSET (``O(log n +
    limit)``) and ``total`` from ``ZCOUNT``. With an alerting ``action`` the cost is in
    the number of alerts; ``action=allow`` reads every ranked account at or above
    ``min_risk`` in chunked pipelines.
    """
    low = "-inf" if min_risk is None else repr(float(min_risk))
    if action is None:
        pipe = client.pipeline(transaction=False)
        pipe.zrevrangebyscore(keys.risk, "+inf", low, start=offset, num=limit, withscores=True)
        pipe.zcount(keys.risk, low, "+inf")
        ranked, total = pipe.execute()
        page = [(dec(a), float(s)) for a, s in ranked]
    else:
        if via_alerts and action != "allow":
            fps = [dec(f) for f in client.zrange(keys.alerts_index, 0, -1)]
            owners = pipelined(client, fps, lambda p, fp: p.hget(keys.alert(fp), "account_id"))
            names = sorted({dec(a) for a in owners if a is not None})
        else:
            names = [dec(a) for a in client.zrevrangebyscore(keys.risk, "+inf", low)]
        rows = pipelined(
            client, names, lambda p, a: p.hmget(keys.score(a), "action", "risk"), CHUNK
        )
        floor = -1.0 if min_risk is None else float(min_risk)
        matches = []
        for name, (act, risk) in zip(names, rows, strict=True):
            if act is None or dec(act) != action:
                continue
            value = to_float(risk, 0.0) or 0.0
            if value >= floor:
                matches.append((name, value))
        matches.sort(key=lambda m: (-m[1], m[0]))
        total, page = len(matches), matches[offset : offset + limit]
    rows = pipelined(client, page, lambda p, item: p.hmget(keys.score(item[0]), *_LIST_FIELDS))
    items = []
    for (account, score), values in zip(page, rows, strict=True):
        item = _list_item(account, score, values)
        if item is not None:
            items.append(item)
    return {"items": items, "total": int(total), "offset": offset, "limit": limit}


def get_decision(client: Any, keys: Keys, account_id: str) -> dict[str, Any] | None:
    """The analyst decision on an account (``{"action", "by", "at", "note"}``), or None."""
    return _decision(decode_hash(client.hgetall(keys.decision(account_id))))


def _decision(d: dict[str, str]) -> dict[str, Any] | None:
    if not d.get("action"):
        return None
    return {
        "action": d["action"],
        "by": d.get("by", ""),
        "at": d.get("at", ""),
        "note": d.get("note") or None,
    }


def get_account(client: Any, keys: Keys, account_id: str) -> dict[str, Any]:
    """Everything the account page shows, in two round trips.

    Returns
    -------
    dict
        ``account_id``, ``known``, the typed verdict (:func:`parse_score`), ``features``
        (name -> float), ``rule_hits`` (``rule_ids`` and ``reasons``), ``cluster`` (id,
        size, risk, action, reason and up to 50 ``linked_accounts``, or None),
        ``open_alert`` (fingerprint or None), ``decision`` (or None).

    Raises
    ------
    NotFound
        When the account has neither a verdict, a rank, features nor a decision.
    """
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.score(account_id))
    pipe.hgetall(keys.features(account_id))
    pipe.get(keys.account_alert(account_id))
    pipe.hgetall(keys.decision(account_id))
    pipe.zscore(keys.risk, account_id)
    raw_score, raw_features, open_fp, raw_decision, ranked = pipe.execute()
    score, feats = decode_hash(raw_score), decode_hash(raw_features)
    decision = _decision(decode_hash(raw_decision))
    if not score and not feats and decision is None and ranked is None:
        raise NotFound(f"account {account_id} not found")
    verdict = parse_score(score)
    if not score and ranked is not None:
        verdict["risk"] = float(ranked)
    cluster = None
    if verdict["cluster_id"]:
        doc = json_or(client.hget(keys.clusters, verdict["cluster_id"]), None)
        if isinstance(doc, dict):
            members = [str(m) for m in doc.get("members", []) if str(m) != account_id]
            cluster = {
                "cluster_id": verdict["cluster_id"],
                "size": to_int(doc.get("size"), len(members) + 1),
                "risk": to_float(doc.get("risk"), 0.0),
                "action": str(doc.get("action", "")),
                "reason": str(doc.get("reason", "")),
                "linked_accounts": members[:LINKED_SHOWN],
            }
        else:
            cluster = {
                "cluster_id": verdict["cluster_id"],
                "size": None,
                "risk": None,
                "action": None,
                "reason": None,
                "linked_accounts": [],
            }
    features = {k: v for k, v in ((k, to_float(x)) for k, x in feats.items()) if v is not None}
    return {
        "account_id": account_id,
        "known": bool(score),
        **verdict,
        "features": features,
        "rule_hits": {"rule_ids": verdict["rule_ids"], "reasons": verdict["reasons"]},
        "cluster": cluster,
        "open_alert": dec(open_fp) if open_fp is not None else None,
        "decision": decision,
    }


def _snapshot(raw: Any) -> dict[str, Any] | None:
    doc = json_or(raw, None)
    if not isinstance(doc, dict):
        return None
    rules = doc.get("rule_ids", [])
    if isinstance(rules, str):
        rules = split_ids(rules)
    feats = doc.get("features", {})
    return {
        "t": to_float(doc.get("t")),
        "as_of": to_float(doc.get("as_of")),
        "risk": to_float(doc.get("risk"), 0.0),
        "action": str(doc.get("action", "")),
        "rule_ids": [str(r) for r in rules] if isinstance(rules, list) else [],
        "n_events": to_int(doc.get("n_events")),
        "features": {
            str(k): v for k, v in ((k, to_float(x)) for k, x in feats.items()) if v is not None
        }
        if isinstance(feats, dict)
        else {},
    }


def account_history(
    client: Any, keys: Keys, account_id: str, offset: int = 0, limit: int = 100
) -> dict[str, Any]:
    """Score snapshots of an account, newest first (unreadable entries skipped).

    Returns
    -------
    dict
        ``account_id``, ``items`` ({"t", "as_of", "risk", "action", "rule_ids",
        "n_events", "features"}), ``total``, ``offset``, ``limit``.

    Raises
    ------
    NotFound
        When the account is unknown and has no history.
    """
    pipe = client.pipeline(transaction=False)
    pipe.lrange(keys.history(account_id), offset, offset + limit - 1)
    pipe.llen(keys.history(account_id))
    pipe.exists(keys.score(account_id), keys.decision(account_id))
    raw, total, exists = pipe.execute()
    if not total and not exists:
        raise NotFound(f"account {account_id} not found")
    items = [s for s in (_snapshot(r) for r in raw) if s is not None]
    return {
        "account_id": account_id,
        "items": items,
        "total": int(total),
        "offset": offset,
        "limit": limit,
    }


def _band(value: float, pct: dict[str, float | None]) -> str | None:
    p50, p90, p99 = pct.get("p50"), pct.get("p90"), pct.get("p99")
    if p50 is None or p90 is None or p99 is None:
        return None
    if value > p99:
        return "above p99"
    if value > p90:
        return "p90-p99"
    if value > p50:
        return "p50-p90"
    return "at or below p50"


def account_features(client: Any, keys: Keys, account_id: str) -> dict[str, Any]:
    """An account's feature values beside the population's percentiles.

    Returns
    -------
    dict
        ``account_id``, ``as_of`` (of the population), ``n_accounts``, ``scored_as_of``
        (of the account's values) and ``features``: a list of ``{"name", "value", "p50",
        "p90", "p99", "band"}`` (percentiles None when the population lacks the feature).

    Raises
    ------
    NotFound
        When the account has no stored features.
    """
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.features(account_id))
    pipe.get(keys.population)
    pipe.hget(keys.score(account_id), "as_of")
    raw, pop_raw, as_of = pipe.execute()
    feats = decode_hash(raw)
    if not feats:
        raise NotFound(f"no features stored for account {account_id}")
    pop = json_or(pop_raw, {})
    pop = pop if isinstance(pop, dict) else {}
    percentiles = pop.get("percentiles") if isinstance(pop.get("percentiles"), dict) else {}
    rows = []
    for name in sorted(feats):
        value = to_float(feats[name])
        if value is None:
            continue
        p = percentiles.get(name) if isinstance(percentiles.get(name), dict) else {}
        pct = {q: to_float(p.get(q)) for q in ("p50", "p90", "p99")}
        rows.append({"name": name, "value": value, **pct, "band": _band(value, pct)})
    return {
        "account_id": account_id,
        "as_of": to_float(pop.get("as_of")),
        "n_accounts": to_int(pop.get("n_accounts")) if pop.get("n_accounts") is not None else None,
        "scored_as_of": to_float(as_of),
        "features": rows,
    }


def _known(client: Any, keys: Keys, account_id: str) -> bool:
    pipe = client.pipeline(transaction=False)
    pipe.exists(keys.score(account_id), keys.features(account_id), keys.decision(account_id))
    pipe.zscore(keys.risk, account_id)
    exists, ranked = pipe.execute()
    return bool(exists) or ranked is not None


def _record_on_alert(
    client: Any,
    keys: Keys,
    account_id: str,
    by: str,
    action: str,
    note: str | None,
    at: str,
    ttl: int,
) -> str | None:
    fp = client.get(keys.account_alert(account_id))
    if fp is None:
        return None
    fp = dec(fp)
    pttl = int(client.pttl(keys.alert(fp)))
    if pttl == -2:
        return None
    pipe = multi_key_pipeline(client)
    push_trail(pipe, keys, fp, trail_entry(by, action, note, at), trail_ttl(pttl, ttl))
    pipe.execute()
    return fp


def confirm_block(
    client: Any,
    keys: Keys,
    account_id: str,
    by: str,
    note: str | None = None,
    *,
    ttl: int,
    now: float | None = None,
) -> dict[str, Any]:
    """Record an analyst's confirmed block (gateways deny the account from now on).

    Parameters
    ----------
    client : redis.Redis
        Connection.
    keys : Keys
        Key names.
    account_id : str
        The account.
    by : str
        Who decides.
    note : str, optional
        Why.
    ttl : int
        Minimum life of the open alert's trail entry, seconds.
    now : float, optional
        Wall time.

    Returns
    -------
    dict
        The decision ``{"action", "by", "at", "note"}`` plus ``alert`` (the fingerprint
        whose trail recorded it, or None).

    Raises
    ------
    NotFound
        When the account is unknown.
    """
    if not _known(client, keys, account_id):
        raise NotFound(f"account {account_id} not found")
    now = time.time() if now is None else now
    at = now_rfc3339(now)
    pipe = multi_key_pipeline(client)
    pipe.delete(keys.decision(account_id))
    pipe.hset(
        keys.decision(account_id),
        mapping={"action": "block", "by": by, "at": at, "note": note or ""},
    )
    pipe.zadd(keys.decisions, {account_id: now})
    pipe.execute()
    fp = _record_on_alert(client, keys, account_id, by, "confirm_block", note, at, ttl)
    return {"action": "block", "by": by, "at": at, "note": note, "alert": fp}


def clear_decision(
    client: Any,
    keys: Keys,
    account_id: str,
    by: str,
    note: str | None = None,
    *,
    ttl: int,
    now: float | None = None,
) -> dict[str, Any]:
    """Remove an account's analyst decision; returns what was removed.

    Returns
    -------
    dict
        ``removed`` (the old decision), ``by``, ``at``, ``note``, ``alert``.

    Raises
    ------
    NotFound
        When the account has no decision.
    """
    now = time.time() if now is None else now
    at = now_rfc3339(now)
    old = get_decision(client, keys, account_id)
    if old is None:
        raise NotFound(f"account {account_id} has no analyst decision")
    pipe = multi_key_pipeline(client)
    pipe.delete(keys.decision(account_id))
    pipe.zrem(keys.decisions, account_id)
    deleted = pipe.execute()[0]
    if not deleted:
        raise Conflict(f"the decision on {account_id} was just removed by someone else")
    fp = _record_on_alert(client, keys, account_id, by, "clear_decision", note, at, ttl)
    return {"removed": old, "by": by, "at": at, "note": note, "alert": fp}
