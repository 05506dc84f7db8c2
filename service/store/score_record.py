"""The ``score`` hash of an account (``dw:{pN}:a:<account>:score``): one owner of its format.

The scorer writes it (:meth:`ScoreRecord.to_hash`), the gateway script reads ``action``,
``risk`` and ``reasons`` from it, the API and dashboard decode it (:func:`parse_score`),
tests and benches seed it through :class:`ScoreRecord` too, so a field cannot be missing
from one copy. Numbers are stored as ``repr`` of floats, lists as JSON (``reasons``) or
comma-joined ids (``rule_ids``, ``families``), flags as ``0``/``1``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from service.redis_keys import Keys
from service.redis_values import decode_hash
from service.store.common import json_or, split_ids, to_float, to_int

__all__ = ["FIELDS", "ScoreRecord", "parse_score", "read_score", "write_score"]


@dataclass(frozen=True, slots=True)
class ScoreRecord:
    """An account's stored verdict.

    Parameters
    ----------
    risk : float
        Continuous risk in [0, 1].
    action : str
        ``allow``, ``review``, ``throttle`` or ``block`` (:mod:`detector.vocabulary`).
    reasons : sequence of str
        Readable reasons, most important first.
    rule_ids, families : sequence of str
        Rules that fired and their families.
    anomaly_percentile, evidence, purpose : float
        The forest's percentile in the population, harvest and purpose evidence.
    cluster_id : str
        The linked cluster, or ``""``.
    allowlisted, suppressed : bool
        On the allowlist; its alert marked false positive (then ``suppressed_by`` names
        the analyst).
    model_version, scored_at : str
        The model used; wall time of the scoring (RFC 3339).
    as_of : float
        Event time the window ends at.
    window_hours, n_events : int
        The window scored and the events in it.
    """

    risk: float
    action: str
    reasons: Sequence[str] = ()
    rule_ids: Sequence[str] = ()
    families: Sequence[str] = ()
    anomaly_percentile: float = 0.0
    evidence: float = 0.0
    purpose: float = 0.0
    cluster_id: str = ""
    allowlisted: bool = False
    suppressed: bool = False
    suppressed_by: str = ""
    model_version: str = "none"
    scored_at: str = ""
    as_of: float = math.nan
    window_hours: int = 0
    n_events: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_hash(self) -> dict[str, Any]:
        """The hash fields, as written with ``HSET`` (``extra`` adds more)."""
        return {
            "risk": repr(float(self.risk)),
            "action": str(self.action),
            "reasons": orjson.dumps(list(self.reasons)),
            "rule_ids": ",".join(self.rule_ids),
            "families": ",".join(self.families),
            "anomaly_percentile": repr(float(self.anomaly_percentile)),
            "evidence": repr(float(self.evidence)),
            "purpose": repr(float(self.purpose)),
            "cluster_id": self.cluster_id or "",
            "allowlisted": int(bool(self.allowlisted)),
            "suppressed": int(bool(self.suppressed)),
            "suppressed_by": self.suppressed_by,
            "model_version": self.model_version,
            "scored_at": self.scored_at,
            "as_of": repr(float(self.as_of)),
            "window_hours": int(self.window_hours),
            "n_events": int(self.n_events),
            **self.extra,
        }


#: every field of the hash, in the order :meth:`ScoreRecord.to_hash` writes them
FIELDS: tuple[str, ...] = tuple(ScoreRecord(0.0, "allow").to_hash())


def write_score(
    pipe: Any, keys: Keys, account_id: str, record: ScoreRecord, ttl: int | None = None
) -> None:
    """Queue (or run) the ``HSET`` of an account's verdict, and its ``EXPIRE``."""
    key = keys.score(account_id)
    pipe.hset(key, mapping=record.to_hash())
    if ttl is not None:
        pipe.expire(key, ttl)


def parse_score(d: dict[str, str]) -> dict[str, Any]:
    """A decoded ``score`` hash with typed values (what the API answers).

    Parameters
    ----------
    d : dict
        The hash as ``str -> str`` (fields missing from an older record get defaults).

    Returns
    -------
    dict
        ``risk``, ``action``, ``reasons`` (list), ``rule_ids`` (list), ``families``,
        ``anomaly_percentile``, ``evidence``, ``purpose``, ``cluster_id`` (or None),
        ``allowlisted``, ``suppressed``, ``suppressed_by``, ``model_version``,
        ``scored_at``, ``as_of``, ``window_hours``, ``n_events``.
    """
    reasons = json_or(d.get("reasons"), [])
    return {
        "risk": to_float(d.get("risk"), 0.0),
        "action": d.get("action") or "allow",
        "reasons": [str(r) for r in reasons] if isinstance(reasons, list) else [],
        "rule_ids": split_ids(d.get("rule_ids")),
        "families": split_ids(d.get("families")),
        "anomaly_percentile": to_float(d.get("anomaly_percentile"), 0.0),
        "evidence": to_float(d.get("evidence"), 0.0),
        "purpose": to_float(d.get("purpose"), 0.0),
        "cluster_id": d.get("cluster_id") or None,
        "allowlisted": d.get("allowlisted") == "1",
        "suppressed": d.get("suppressed") == "1",
        "suppressed_by": d.get("suppressed_by") or None,
        "model_version": d.get("model_version") or None,
        "scored_at": d.get("scored_at") or None,
        "as_of": to_float(d.get("as_of")),
        "window_hours": to_int(d.get("window_hours")) or None,
        "n_events": to_int(d.get("n_events")),
    }


def read_score(client: Any, keys: Keys, account_id: str) -> dict[str, Any] | None:
    """The stored verdict of one account (one ``HGETALL``), typed as in
    :func:`parse_score`, or None when the account has none."""
    raw = client.hgetall(keys.score(account_id))
    if not raw:
        return None
    out = parse_score(decode_hash(raw))
    out["as_of"] = math.nan if out["as_of"] is None else out["as_of"]
    return out
