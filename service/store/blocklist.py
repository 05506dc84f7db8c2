"""The blocklist: accounts gateways should deny now.

An account is listed when its stored verdict says ``block`` and no false positive
suppressed it, or when an analyst confirmed a block (``keys.decisions``; that explicit
decision wins over a suppression, as it does for gateways).

Candidates come from the alerts (every ``block`` verdict has an open alert when
``block`` is an alerting action, the default) and the decisions index, so the cost is
in the number of alerts, not of accounts; otherwise every ranked account is read in
chunked pipelines.
"""

from __future__ import annotations

from typing import Any

from service.redis_keys import Keys
from service.store.accounts import parse_score
from service.store.common import dec, decode_hash, pipelined

__all__ = ["blocklist"]


def _candidates(client: Any, keys: Keys, via_alerts: bool) -> list[str]:
    if via_alerts:
        fps = [dec(f) for f in client.zrevrange(keys.alerts_index, 0, -1)]
        # every status: an analyst may have resolved the alert of a still-blocked account
        rows = pipelined(client, fps, lambda p, fp: p.hget(keys.alert(fp), "account_id"))
        accounts = {dec(acct) for acct in rows if acct is not None}
    else:
        accounts = {dec(a) for a in client.zrange(keys.risk, 0, -1)}
    accounts.update(dec(a) for a in client.zrange(keys.decisions, 0, -1))
    return sorted(accounts)


def _is(v: Any, text: str) -> bool:
    return v is not None and dec(v) == text


def blocklist(client: Any, keys: Keys, *, via_alerts: bool = True) -> dict[str, Any]:
    """Every account to block, riskiest first.

    Parameters
    ----------
    client : redis.Redis
        Connection.
    keys : Keys
        Key names.
    via_alerts : bool
        Find verdicts through the alerts index (True when ``block`` raises alerts);
        False reads every ranked account.

    Returns
    -------
    dict
        ``items``: ``{"account_id", "risk", "action", "source" ("verdict" or
        "analyst"), "reasons", "rule_ids", "cluster_id", "decided_by", "decided_at",
        "note", "scored_at"}``; ``total``.
    """
    candidates = _candidates(client, keys, via_alerts)
    confirmed = {dec(a) for a in client.zrange(keys.decisions, 0, -1)}
    marks = pipelined(
        client, candidates, lambda p, a: p.hmget(keys.score(a), "action", "suppressed")
    )
    accounts = [
        a
        for a, (action, suppressed) in zip(candidates, marks, strict=True)
        if a in confirmed or (_is(action, "block") and not _is(suppressed, "1"))
    ]

    scores = pipelined(client, accounts, lambda p, a: p.hgetall(keys.score(a)))
    decisions = pipelined(client, accounts, lambda p, a: p.hgetall(keys.decision(a)))
    items = []
    for account, raw_score, raw_decision in zip(accounts, scores, decisions, strict=True):
        score, decision = decode_hash(raw_score), decode_hash(raw_decision)
        verdict = parse_score(score) if score else None
        confirmed = decision.get("action") == "block"
        by_verdict = (
            verdict is not None and verdict["action"] == "block" and not verdict["suppressed"]
        )
        if not (confirmed or by_verdict):
            continue
        items.append(
            {
                "account_id": account,
                "risk": verdict["risk"] if verdict else 1.0,
                "action": "block",
                "source": "analyst" if confirmed else "verdict",
                "reasons": verdict["reasons"] if verdict else [],
                "rule_ids": verdict["rule_ids"] if verdict else [],
                "cluster_id": verdict["cluster_id"] if verdict else None,
                "decided_by": decision.get("by") if confirmed else None,
                "decided_at": decision.get("at") if confirmed else None,
                "note": (decision.get("note") or None) if confirmed else None,
                "scored_at": verdict["scored_at"] if verdict else None,
            }
        )
    items.sort(key=lambda x: (-x["risk"], x["account_id"]))
    return {"items": items, "total": len(items)}
