"""Request-level harvesting signals: what one request about to be served says on its own.

A gateway can send distillwatch the request body it is about to forward. Before ingest
and the workers have folded that request into the account's window state, its own
signals (chain-of-thought elicitation, logprobs, logit_bias, extreme ``max_tokens``,
many samples) adjust the account's standing at once. Two pieces, both pure:

* :func:`request_signals` reads one OpenAI-style chat request (or LiteLLM guardrail
  texts) and returns which signals it carries and a request score in [0, 1];
* :func:`live_risk` turns the signals remembered for an account over the last hour
  (counts kept by the service) into a live risk, and :func:`adjust` folds that and the
  request's own score into the standing verdict.

Request-level evidence is deliberately bounded: it can raise an account to ``review``
or ``throttle`` but never to ``block`` by itself. A block needs the standing verdict
(rules over the account's window, linking), because single requests of evaluation
harnesses and logprob researchers look the same as a harvester's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from detector.evidence import EvidenceConfig
from detector.fusion import FusionConfig
from detector.text import COT_THRESHOLD, text_signals
from detector.vocabulary import ACTION_RANK

__all__ = [
    "LIVE_ACTION_CAP",
    "PURPOSE_FLOOR",
    "SIGNAL_WEIGHTS",
    "Adjusted",
    "RequestSignals",
    "adjust",
    "live_risk",
    "request_signals",
    "texts_signals",
]

#: weight of each signal in the request score (noisy-OR); see docs/service.md
SIGNAL_WEIGHTS: dict[str, float] = {
    "cot_elicitation": 0.35,
    "logprobs": 0.15,
    "top_logprobs_high": 0.2,
    "logit_bias": 0.3,
    "max_tokens_extreme": 0.15,
    "max_tokens_tiny": 0.1,
    "multi_sample": 0.15,
}
#: ``max_tokens`` at or above this is "extreme" (harvesting long reasoning traces)
MAX_TOKENS_EXTREME = 8_192
#: ``max_tokens`` at or below this is a probe (one-token answers with logprobs)
MAX_TOKENS_TINY = 2
#: ``top_logprobs`` at or above this asks for most of the distribution
TOP_LOGPROBS_HIGH = 10
#: ``n`` at or above this samples the same prompt many times
MULTI_SAMPLE_N = 4
#: requests over which the live risk reaches the mean request score
LIVE_FULL_AT = 50
#: thresholds of the actions request-level evidence can reach on its own
LIVE_REVIEW = 0.5
LIVE_THROTTLE = 0.75
LIVE_ACTION_CAP = "throttle"
#: look-alike purpose of the standing verdict from which request evidence cannot act
#: (the floor from which fusion spares weak rules)
PURPOSE_FLOOR = FusionConfig().purpose_floor
#: share of the request-level risk removed at full purpose evidence (as for harvest evidence)
PURPOSE_DISCOUNT = EvidenceConfig().purpose_discount

_RANK = ACTION_RANK


@dataclass(frozen=True, slots=True)
class RequestSignals:
    """Signals of one request.

    Attributes
    ----------
    signals : tuple of str
        Names of the signals present (keys of :data:`SIGNAL_WEIGHTS`).
    score : float
        Noisy-OR of the present signals' weights, in [0, 1].
    cot_score : float
        Chain-of-thought elicitation score of the prompt (0 when no text was sent).
    """

    signals: tuple[str, ...] = ()
    score: float = 0.0
    cot_score: float = 0.0

    def reasons(self) -> list[str]:
        """One phrase per signal, for an analyst or a gateway log."""
        return [_PHRASES[s] for s in self.signals]


_PHRASES = {
    "cot_elicitation": "this request asks for step-by-step reasoning (chain-of-thought)",
    "logprobs": "this request asks for token logprobs",
    "top_logprobs_high": f"this request asks for top_logprobs >= {TOP_LOGPROBS_HIGH}",
    "logit_bias": "this request sets logit_bias (probing the output distribution)",
    "max_tokens_extreme": f"this request allows max_tokens >= {MAX_TOKENS_EXTREME}",
    "max_tokens_tiny": f"this request caps max_tokens at <= {MAX_TOKENS_TINY} (a probe)",
    "multi_sample": f"this request samples n >= {MULTI_SAMPLE_N} completions",
}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and not isinstance(content, bytes | bytearray):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return ""


def _prompt(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(system text, last user text) of a chat body, or a completions ``prompt``."""
    messages = body.get("messages")
    system: list[str] = []
    user: str | None = None
    if isinstance(messages, Sequence) and not isinstance(messages, str):
        for m in messages:
            if not isinstance(m, Mapping):
                continue
            role = m.get("role")
            text = _text(m.get("content"))
            if role in ("system", "developer"):
                system.append(text)
            elif role == "user":
                user = text
    elif isinstance(body.get("prompt"), str):
        user = body["prompt"]
    return ("\n".join(system) or None), user


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def request_signals(body: Mapping[str, Any] | None) -> RequestSignals:
    """Signals of one OpenAI-style chat (or completions) request body.

    Parameters
    ----------
    body : mapping or None
        The request as the client sent it: ``messages`` (or ``prompt``), ``logprobs``,
        ``top_logprobs``, ``logit_bias``, ``max_tokens`` / ``max_completion_tokens``,
        ``n``. Unknown or ill-typed fields are ignored.

    Returns
    -------
    RequestSignals
    """
    if not body:
        return RequestSignals()
    present: list[str] = []
    system, user = _prompt(body)
    cot = 0.0
    if system or user:
        cot = float(text_signals(system, user).cot_score)
        if cot >= COT_THRESHOLD:
            present.append("cot_elicitation")
    top = _int(body.get("top_logprobs"))
    if body.get("logprobs") is True or (isinstance(body.get("logprobs"), int) and top is None):
        present.append("logprobs")
    if top is not None and top >= TOP_LOGPROBS_HIGH:
        present.append("top_logprobs_high")
    bias = body.get("logit_bias")
    if isinstance(bias, Mapping) and bias:
        present.append("logit_bias")
    max_tokens = _int(body.get("max_completion_tokens"))
    if max_tokens is None:
        max_tokens = _int(body.get("max_tokens"))
    if max_tokens is not None:
        if max_tokens >= MAX_TOKENS_EXTREME:
            present.append("max_tokens_extreme")
        elif 0 < max_tokens <= MAX_TOKENS_TINY:
            present.append("max_tokens_tiny")
    n = _int(body.get("n"))
    if n is not None and n >= MULTI_SAMPLE_N:
        present.append("multi_sample")
    survive = 1.0
    for name in present:
        survive *= 1.0 - SIGNAL_WEIGHTS[name]
    return RequestSignals(tuple(present), round(1.0 - survive, 6), round(cot, 4))


def texts_signals(
    texts: Sequence[str] | None, roles: Sequence[str] | None = None
) -> RequestSignals:
    """Signals of a request known only by its message texts (LiteLLM's guardrail call).

    Parameters
    ----------
    texts : sequence of str
        Message texts in order.
    roles : sequence of str, optional
        Their roles (from ``structured_messages``); without them the first text is taken
        as the system prompt when there are several.
    """
    if not texts:
        return RequestSignals()
    if roles is not None and len(roles) == len(texts):
        messages = [{"role": r, "content": t} for r, t in zip(roles, texts, strict=True)]
    elif len(texts) > 1:
        messages = [{"role": "system", "content": texts[0]}, {"role": "user", "content": texts[-1]}]
    else:
        messages = [{"role": "user", "content": texts[0]}]
    return request_signals({"messages": messages})


def live_risk(n_requests: int, score_sum: float) -> float:
    """Risk from the request-level signals an account sent recently.

    The mean request score, scaled by how many such requests were seen (full weight
    from :data:`LIVE_FULL_AT` requests): one odd request moves little, a sustained run of
    harvesting-shaped requests moves a lot.

    Parameters
    ----------
    n_requests : int
        Requests with a body seen for the account in the live window.
    score_sum : float
        Sum of their request scores.
    """
    if n_requests <= 0:
        return 0.0
    mean = min(max(score_sum / n_requests, 0.0), 1.0)
    return round(mean * min(n_requests / LIVE_FULL_AT, 1.0), 6)


@dataclass(slots=True)
class Adjusted:
    """A standing verdict adjusted by request-level evidence."""

    risk: float
    action: str
    reasons: list[str] = field(default_factory=list)
    adjusted: bool = False


def adjust(
    risk: float,
    action: str,
    reasons: Sequence[str],
    *,
    request: RequestSignals | None = None,
    live: float = 0.0,
    live_requests: int = 0,
    purpose: float = 0.0,
) -> Adjusted:
    """Fold the live risk and one request's signals into a standing verdict.

    Risk is the noisy-OR of the standing risk, the live risk and half the request's own
    score; the action is the standing one, raised to ``review`` / ``throttle`` when the
    request-level part alone crosses :data:`LIVE_REVIEW` / :data:`LIVE_THROTTLE` (never
    to ``block``).

    ``purpose`` is the standing verdict's look-alike purpose evidence
    (:mod:`detector.evidence`: a finished bounded run, short answers, many end users, a
    transformation). An evaluation harness sends the same step-by-step, logprob or n > 1
    requests as a harvester; once its window shows such a purpose, request-level evidence
    is discounted by it and from :data:`PURPOSE_FLOOR` can no longer raise the action.
    """
    req = request.score * 0.5 if request is not None else 0.0
    extra = 1.0 - (1.0 - live) * (1.0 - req)
    purpose = min(max(purpose, 0.0), 1.0)
    extra *= 1.0 - PURPOSE_DISCOUNT * purpose
    new_risk = 1.0 - (1.0 - risk) * (1.0 - extra)
    out = Adjusted(round(float(new_risk), 6), action, list(reasons), extra > 0)
    implied = "allow"
    if purpose >= PURPOSE_FLOOR:
        pass
    elif extra >= LIVE_THROTTLE:
        implied = LIVE_ACTION_CAP
    elif extra >= LIVE_REVIEW:
        implied = "review"
    if _RANK[implied] > _RANK.get(action, 0):
        out.action = implied
    if live > 0:
        out.reasons.append(
            f"live: {live_requests} recent requests carried harvesting signals "
            f"(request-level risk {live:.2f})"
        )
    if request is not None and request.signals:
        out.reasons.extend(request.reasons())
    return out
