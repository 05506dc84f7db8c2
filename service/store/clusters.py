"""Linked clusters: the ``clusters`` hash (cluster id -> JSON) and their members' verdicts.

Each value is :meth:`detector.linking.Cluster.to_dict` with edges (``[account_a,
account_b, weight, evidence strings]``) plus ``as_of``, rewritten by the scorer at each
population refresh. There are few clusters (hundreds), so listing reads the hash whole.
"""

from __future__ import annotations

from typing import Any

from service.redis_keys import Keys
from service.store.common import NotFound, dec, json_or, pipelined, to_float, to_int

__all__ = ["SORTS", "get_cluster", "list_clusters"]

SORTS = ("risk", "size")
#: members listed on a cluster summary (the detail lists them all)
MEMBERS_SHOWN = 20


def _base(doc: dict[str, Any], cluster_id: str) -> dict[str, Any]:
    members = [str(m) for m in doc.get("members", []) if m is not None]
    feats = doc.get("features") if isinstance(doc.get("features"), dict) else {}
    evidence = doc.get("evidence") if isinstance(doc.get("evidence"), list) else []
    return {
        "cluster_id": str(doc.get("cluster_id") or cluster_id),
        "size": to_int(doc.get("size"), len(members)),
        "risk": to_float(doc.get("risk"), 0.0),
        "action": str(doc.get("action", "")),
        "reason": str(doc.get("reason", "")),
        "evidence": [str(e) for e in evidence],
        "features": {
            str(k): v for k, v in ((k, to_float(x)) for k, x in feats.items()) if v is not None
        },
        "first_ts": to_float(doc.get("first_ts")),
        "last_ts": to_float(doc.get("last_ts")),
        "as_of": to_float(doc.get("as_of")),
        "members": members,
    }


def list_clusters(
    client: Any,
    keys: Keys,
    *,
    sort: str = "risk",
    order: str = "desc",
    action: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> dict[str, Any]:
    """One page of clusters (without edges; at most 20 members each).

    Parameters
    ----------
    client : redis.Redis
        Connection.
    keys : Keys
        Key names.
    sort : {"risk", "size"}
        Sort key (ties: the other key, then the id).
    order : {"desc", "asc"}
        Direction.
    action : str, optional
        Only clusters recommending this action.
    offset, limit : int
        The page.

    Returns
    -------
    dict
        ``items`` (cluster summaries with ``members_shown``), ``total``, ``offset``,
        ``limit``.
    """
    items = []
    for cid, raw in client.hgetall(keys.clusters).items():
        doc = json_or(raw, None)
        if not isinstance(doc, dict):
            continue
        item = _base(doc, dec(cid))
        if action and item["action"] != action:
            continue
        items.append(item)
    if sort == "size":
        items.sort(key=lambda c: (c["size"], c["risk"], c["cluster_id"]), reverse=order != "asc")
    else:
        items.sort(key=lambda c: (c["risk"], c["size"], c["cluster_id"]), reverse=order != "asc")
    page = items[offset : offset + limit]
    for item in page:
        item["members"] = item["members"][:MEMBERS_SHOWN]
    return {"items": page, "total": len(items), "offset": offset, "limit": limit}


def get_cluster(client: Any, keys: Keys, cluster_id: str) -> dict[str, Any]:
    """One cluster: members with their current verdict, edges with evidence, volume.

    Returns
    -------
    dict
        The cluster fields plus ``members`` (``{"account_id", "risk", "action",
        "n_events", "suppressed", "known"}``), ``edges`` (``{"a", "b", "weight",
        "evidence"}``) and ``volume`` (sum of the members' ``n_events``).

    Raises
    ------
    NotFound
        When no cluster has this id.
    """
    doc = json_or(client.hget(keys.clusters, cluster_id), None)
    if not isinstance(doc, dict):
        raise NotFound(f"cluster {cluster_id} not found")
    out = _base(doc, cluster_id)
    fields = ("risk", "action", "n_events", "suppressed")
    rows = pipelined(client, out["members"], lambda p, m: p.hmget(keys.score(m), *fields))
    members = []
    for account, (risk, action, n_events, suppressed) in zip(out["members"], rows, strict=True):
        members.append(
            {
                "account_id": account,
                "risk": to_float(risk),
                "action": dec(action) if action is not None else None,
                "n_events": to_int(n_events),
                "suppressed": suppressed is not None and dec(suppressed) == "1",
                "known": action is not None,
            }
        )
    members.sort(key=lambda m: (-(m["risk"] or 0.0), m["account_id"]))
    edges = []
    for e in doc.get("edges", []) or []:
        if not isinstance(e, list | tuple) or len(e) < 3:
            continue
        evidence = e[3] if len(e) > 3 and isinstance(e[3], list) else []
        edges.append(
            {
                "a": str(e[0]),
                "b": str(e[1]),
                "weight": to_float(e[2], 0.0),
                "evidence": [str(x) for x in evidence],
            }
        )
    out["members"] = members
    out["edges"] = edges
    out["volume"] = sum(m["n_events"] for m in members)
    return out
