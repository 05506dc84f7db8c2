"""The gateway decision: stored verdict + analyst decision + request-level signals.

One pipelined Redis round trip per account (or per batch): record the request's signals
in the account's live hash (when a request body was sent), read the stored verdict the
workers wrote (``HGETALL score``), the live counters and any analyst decision. The
isolation forest never runs here; its result is already in the verdict. When Redis cannot
be read within the budget the configured fail mode answers (:mod:`service.api.guard`);
when the service itself is too busy to answer in time it sheds the request with a 503
(``overload_action="shed"``, the default) instead of falling back to the fail mode, so
load alone never lets a blocked account through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import HTTPException

from detector.request_signals import RequestSignals, adjust, live_risk
from service import metrics
from service.api.context import Services
from service.api.guard import RedisUnavailable, ServiceOverloaded
from service.redis_values import text
from service.store.common import to_float

__all__ = ["SHED_STATUS", "Decision", "decide_many", "overloaded"]


@dataclass(slots=True)
class Decision:
    """What a gateway is told about one account."""

    account_id: str
    risk: float
    action: str
    reasons: list[str]
    rule_ids: list[str] = field(default_factory=list)
    cluster_id: str | None = None
    model_version: str | None = None
    scored_at: str | None = None
    as_of: float | None = None
    known: bool = False
    source: str = "state"
    request_signals: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``/v1/score`` answer)."""
        return {
            "account_id": self.account_id,
            "risk": self.risk,
            "action": self.action,
            "reasons": self.reasons,
            "rule_ids": self.rule_ids,
            "cluster_id": self.cluster_id,
            "model_version": self.model_version,
            "scored_at": self.scored_at,
            "as_of": self.as_of,
            "known": self.known,
            "source": self.source,
            "request_signals": self.request_signals,
        }


#: One round trip per account: record the request's signals (when a body was sent) in the
#: live hash, then read the verdict, the live counters and any analyst decision. The three
#: keys share the account's hash tag, so the script is legal on a Redis Cluster too.
_READ_LUA = """
if ARGV[2] ~= '' then
  redis.call('HINCRBY', KEYS[2], 'n', 1)
  if tonumber(ARGV[2]) > 0 then redis.call('HINCRBYFLOAT', KEYS[2], 's', ARGV[2]) end
  for i = 3, #ARGV do redis.call('HINCRBY', KEYS[2], ARGV[i], 1) end
  if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
end
return {redis.call('HGETALL', KEYS[1]), redis.call('HMGET', KEYS[2], 'n', 's'),
        redis.call('HGETALL', KEYS[3])}
"""


def _read_script(services: Services) -> Any:
    script = services.extras.get("read_script")
    if script is None:
        script = services.aredis.register_script(_READ_LUA)
        services.extras["read_script"] = script
    return script


def _pairs(flat: list[Any] | None) -> dict[str, str]:
    """A flat ``HGETALL`` reply from Lua (``[k1, v1, k2, v2, ...]``) as a ``str`` dict."""
    if not flat:
        return {}
    it = iter(flat)
    return {text(k): text(v) for k, v in zip(it, it, strict=True)}


#: status of a shed request per endpoint. 503 where the caller is ours to program; 429
#: where a gateway would read 5xx as "unreachable" and could apply its own fail-open
#: (LiteLLM's ``unreachable_fallback: fail_open`` passes 502/503/504; Envoy's
#: ``failure_mode_allow``), so that shedding is never an allow there
SHED_STATUS = {"score": 503, "check": 429, "guardrail": 429}


def overloaded(endpoint: str, reason: str, retry_after_s: int = 1) -> HTTPException:
    """The refusal a gateway endpoint answers when the service sheds load (counted):
    :data:`SHED_STATUS` with ``Retry-After``.

    Parameters
    ----------
    endpoint : str
        ``score``, ``check`` or ``guardrail`` (metrics label).
    reason : str
        ``inflight`` (admission limit) or ``overload`` (event loop congested).
    retry_after_s : int
        Value of the ``Retry-After`` header, seconds.
    """
    metrics.child(metrics.SHED_REQUESTS, endpoint, reason).inc()
    return HTTPException(
        status_code=SHED_STATUS.get(endpoint, 503),
        detail=f"service overloaded ({reason}); retry later",
        headers={"Retry-After": str(retry_after_s), "Cache-Control": "no-store"},
    )


def _fallback(services: Services, account_id: str, endpoint: str, why: str) -> Decision:
    mode = services.settings.fail_mode
    metrics.FALLBACK_DECISIONS.labels(endpoint, mode).inc()
    action = "allow" if mode == "open" else "block"
    return Decision(
        account_id=account_id,
        risk=0.0 if mode == "open" else 1.0,
        action=action,
        reasons=[f"scoring state unavailable ({why}); fail-{mode}"],
        source=f"fail_{mode}",
    )


def _from_state(
    account_id: str,
    score: dict[str, str],
    live: list[Any],
    decision: dict[str, str],
    signals: RequestSignals | None,
) -> Decision:
    if score:
        try:
            reasons = orjson.loads(score.get("reasons", "[]"))
        except orjson.JSONDecodeError:
            reasons = []
        out = Decision(
            account_id=account_id,
            risk=float(score.get("risk", 0.0)),
            action=score.get("action", "allow"),
            reasons=list(reasons),
            rule_ids=[r for r in score.get("rule_ids", "").split(",") if r],
            cluster_id=score.get("cluster_id") or None,
            model_version=score.get("model_version"),
            scored_at=score.get("scored_at"),
            as_of=float(score["as_of"]) if score.get("as_of") else None,
            known=True,
        )
    else:
        out = Decision(account_id, 0.0, "allow", [], source="unknown_account")
    n = int(live[0]) if live and live[0] is not None else 0
    total = float(live[1]) if len(live) > 1 and live[1] is not None else 0.0
    lrisk = live_risk(n, total)
    if lrisk > 0 or (signals is not None and signals.signals):
        adj = adjust(
            out.risk,
            out.action,
            out.reasons,
            request=signals,
            live=lrisk,
            live_requests=n,
            purpose=to_float(score.get("purpose"), 0.0) or 0.0,
        )
        out.risk, out.action, out.reasons = adj.risk, adj.action, adj.reasons
        if out.source == "unknown_account" and adj.adjusted:
            out.source = "request_signals"
    if signals is not None:
        out.request_signals = list(signals.signals)
    if decision.get("action") == "block":
        out.action, out.risk, out.source = "block", max(out.risk, 1.0), "analyst"
        out.reasons.insert(
            0,
            f"block confirmed by {decision.get('by', '?')} at {decision.get('at', '?')}"
            + (f": {decision['note']}" if decision.get("note") else ""),
        )
    return out


async def decide_many(
    services: Services,
    items: list[tuple[str, RequestSignals | None]],
    endpoint: str,
) -> list[Decision]:
    """Decisions for ``(account_id, request signals or None)`` pairs, in one round trip.

    Parameters
    ----------
    services : Services
        The app's clients and settings.
    items : list of (str, RequestSignals or None)
        Accounts, each with the signals of the request about to be served (None when
        the gateway sent no request body).
    endpoint : str
        ``score``, ``check`` or ``guardrail`` (metrics label).
    """
    keys, settings = services.keys, services.settings
    for _acct, sig in items:
        for name in sig.signals if sig is not None else ():
            metrics.child(metrics.REQUEST_SIGNALS, name).inc()

    script = _read_script(services)

    def args(sig: RequestSignals | None) -> list[Any]:
        if sig is None:
            return [settings.live_signal_ttl_s, ""]
        return [settings.live_signal_ttl_s, repr(sig.score), *sig.signals]

    async def run() -> list[Any]:
        if len(items) == 1:
            acct, sig = items[0]
            keys_ = [keys.score(acct), keys.live(acct), keys.decision(acct)]
            return [await script(keys=keys_, args=args(sig))]
        pipe = services.aredis.pipeline(transaction=False)
        for acct, sig in items:
            keys_ = [keys.score(acct), keys.live(acct), keys.decision(acct)]
            await script(keys=keys_, args=args(sig), client=pipe)  # queues an EVALSHA
        return await pipe.execute()

    try:
        replies = await services.guard.call("score", run)
    except ServiceOverloaded as exc:
        if settings.overload_action == "shed":
            raise overloaded(endpoint, "overload") from exc
        out = [_fallback(services, acct, endpoint, str(exc)) for acct, _ in items]
        for d in out:
            metrics.child(metrics.DECISIONS, endpoint, d.action).inc()
        return out
    except RedisUnavailable as exc:
        out = [_fallback(services, acct, endpoint, str(exc)) for acct, _ in items]
        for d in out:
            metrics.child(metrics.DECISIONS, endpoint, d.action).inc()
        return out
    decisions: list[Decision] = []
    for (acct, sig), (score, live, decision) in zip(items, replies, strict=True):
        d = _from_state(acct, _pairs(score), live or [], _pairs(decision), sig)
        metrics.child(metrics.DECISIONS, endpoint, d.action).inc()
        decisions.append(d)
    return decisions
