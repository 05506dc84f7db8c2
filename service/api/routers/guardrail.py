"""LiteLLM's Generic Guardrail API: distillwatch as a ``pre_call`` guardrail.

LiteLLM (``guardrail: generic_guardrail_api``) POSTs every request to
``{api_base}/beta/litellm_basic_guardrail_api`` with the caller's identity
(``request_data``), the message texts and the inbound headers, and the key configured as
``api_key`` in the ``x-api-key`` header. We answer ``{"action": "NONE"}`` to let it through
or ``{"action": "BLOCKED", "blocked_reason": ...}`` to stop it (the client gets HTTP 400
with that reason). The account is the first non-empty ``request_data`` field of
``guardrail_account_fields`` (org, team, user, key hash: the same identity the LiteLLM log
adapter uses, so guardrail decisions and ingested logs agree). The guardrail call carries
no sampling parameters, so only the texts' own signals (chain-of-thought elicitation)
adjust the decision. Contract: ``docs/gateways.md`` and the captures the tests replay.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from detector.request_signals import texts_signals
from service.api.decisions import decide_many
from service.api.deps import Gateway, ServicesDep

__all__ = ["GuardrailRequest", "GuardrailResponse", "router"]

router = APIRouter(tags=["gateway"])


class GuardrailMessage(BaseModel):
    """One message as LiteLLM forwards it."""

    model_config = ConfigDict(extra="allow")

    role: str | None = None
    content: Any = None


class GuardrailRequest(BaseModel):
    """The body LiteLLM 1.108's Generic Guardrail API sends (unknown fields kept)."""

    model_config = ConfigDict(extra="allow")

    input_type: str = "request"
    litellm_call_id: str | None = None
    litellm_trace_id: str | None = None
    texts: list[str] | None = None
    structured_messages: list[GuardrailMessage] | None = None
    request_data: dict[str, Any] = Field(default_factory=dict)
    request_headers: dict[str, Any] | None = None
    model: str | None = None
    litellm_version: str | None = None
    additional_provider_specific_params: dict[str, Any] | None = None


class GuardrailResponse(BaseModel):
    """``NONE`` lets the request proceed; ``BLOCKED`` stops it with ``blocked_reason``."""

    action: Literal["NONE", "BLOCKED"]
    blocked_reason: str | None = None


@router.post(
    "/beta/litellm_basic_guardrail_api",
    response_model=GuardrailResponse,
    response_model_exclude_none=True,
    summary="LiteLLM Generic Guardrail API (pre_call)",
)
async def guardrail(
    body: GuardrailRequest, services: ServicesDep, _caller: Gateway
) -> dict[str, Any]:
    """Decide whether LiteLLM may forward this request."""
    account = None
    for name in services.settings.guardrail_account_fields:
        value = body.request_data.get(name)
        if value not in (None, ""):
            account = str(value)
            break
    if account is None:
        return {"action": "NONE"}
    sig = None
    if body.input_type == "request" and body.texts:
        roles = (
            [str(m.role or "user") for m in body.structured_messages]
            if body.structured_messages
            else None
        )
        sig = texts_signals(body.texts, roles)
    (decision,) = await decide_many(services, [(account, sig)], "guardrail")
    if decision.action in services.settings.deny_actions:
        reason = decision.reasons[0] if decision.reasons else f"action {decision.action}"
        return {
            "action": "BLOCKED",
            "blocked_reason": f"distillwatch: account {decision.action} (risk "
            f"{decision.risk:.2f}): {reason}"[:500],
        }
    return {"action": "NONE"}
