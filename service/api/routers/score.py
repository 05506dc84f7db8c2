"""``POST /v1/score`` and ``POST /v1/score/batch``: the per-request gateway decision.

The answers are encoded with orjson into a ready :class:`~fastapi.Response`: FastAPI then
skips validating and re-serialising them through the response model (a measurable share
of the gateway path's CPU, see ``bench/service_latency.py``). The response models still
document the answer in the OpenAPI schema, and ``test_openapi_fuzz`` checks the answers
against it. ``POST /v1/score`` is also served by the fast path
(:class:`service.api.middleware.FastPath`) when the body is valid JSON of a
:class:`ScoreRequest`; any other request falls through to the route below.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel, Field, ValidationError, field_validator

from detector.request_signals import request_signals
from detector.vocabulary import Action
from service.api.context import Services
from service.api.decisions import decide_many
from service.api.deps import Gateway, ServicesDep, authorize
from service.api.middleware import add_fast_route

__all__ = ["ScoreRequest", "ScoreResponse", "on_app", "router"]

router = APIRouter(prefix="/v1", tags=["score"])


class ScoreRequest(BaseModel):
    """One account about to be served."""

    account_id: str = Field(min_length=1, max_length=256, description="The account to score.")
    api_key: str | None = Field(
        default=None,
        max_length=512,
        description="API key used by the request (never stored; reserved for key fan-out).",
    )
    ip: str | None = Field(default=None, max_length=64, description="Client IP address.")
    request: dict[str, Any] | None = Field(
        default=None,
        description="The OpenAI-style request body about to be forwarded; its own signals "
        "(chain-of-thought elicitation, logprobs, logit_bias, extreme max_tokens, n) adjust "
        "the answer at once. Prompt text is read, never stored.",
    )

    @field_validator("ip")
    @classmethod
    def _valid_ip(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ipaddress.ip_address(v)
            except ValueError:
                raise ValueError("not an IPv4 or IPv6 address") from None
        return v


class ScoreResponse(BaseModel):
    """The decision for one account."""

    account_id: str
    risk: float = Field(ge=0.0, le=1.0)
    action: Action
    reasons: list[str]
    rule_ids: list[str]
    cluster_id: str | None
    model_version: str | None
    scored_at: str | None = Field(description="Wall time of the stored verdict (RFC 3339).")
    as_of: float | None = Field(description="Event time (epoch s) the verdict covers up to.")
    known: bool = Field(description="Whether the workers have a verdict for this account.")
    source: str = Field(
        description="state, unknown_account, request_signals, analyst, fail_open or fail_closed"
    )
    request_signals: list[str]


class BatchRequest(BaseModel):
    """Several accounts in one call (one Redis round trip)."""

    items: list[ScoreRequest] = Field(min_length=1, max_length=1000)


class BatchResponse(BaseModel):
    """Decisions in the order of the request's items."""

    items: list[ScoreResponse]


def _json(content: Any) -> Response:
    return Response(orjson.dumps(content), media_type="application/json")


@router.post("/score", response_model=ScoreResponse, summary="Score one account")
async def score(body: ScoreRequest, services: ServicesDep, _caller: Gateway) -> Response:
    """Risk, action and reasons for one account, from its precomputed state."""
    sig = request_signals(body.request) if body.request is not None else None
    (decision,) = await decide_many(services, [(body.account_id, sig)], "score")
    return _json(decision.as_dict())


@router.post("/score/batch", response_model=BatchResponse, summary="Score many accounts")
async def score_batch(body: BatchRequest, services: ServicesDep, _caller: Gateway) -> Response:
    """:func:`score` for up to 1,000 accounts at once."""
    items = [
        (it.account_id, request_signals(it.request) if it.request is not None else None)
        for it in body.items
    ]
    decisions = await decide_many(services, items, "score")
    return _json({"items": [d.as_dict() for d in decisions]})


def _is_json(content_type: str) -> bool:
    # only what FastAPI (strict content type) parses as JSON too; the rest falls through
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


async def _fast_score(request: Request, body: bytes) -> Response | None:
    """:func:`score` without FastAPI's machinery; None when the route must answer."""
    if not _is_json(request.headers.get("content-type", "")):
        return None
    try:
        parsed = ScoreRequest.model_validate(orjson.loads(body))
    except (orjson.JSONDecodeError, ValidationError, ValueError, TypeError):
        return None  # the route answers 422 exactly as it always does
    services: Services = request.app.state.services
    authorize(request, services, "score")
    sig = request_signals(parsed.request) if parsed.request is not None else None
    (decision,) = await decide_many(services, [(parsed.account_id, sig)], "score")
    return _json(decision.as_dict())


def on_app(app: FastAPI, _services: Services) -> None:
    """Serve ``POST /v1/score`` through the gateway fast path."""
    add_fast_route(app, "POST", "/v1/score", _fast_score)
