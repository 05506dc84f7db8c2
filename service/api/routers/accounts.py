"""``/v1/accounts``: accounts by risk, one account's verdict, history, features, decisions.

Reads need scope ``read``; confirming a block or removing that decision needs ``triage``.
A confirmed block is what gateways enforce (:mod:`service.api.decisions`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from detector.vocabulary import Action
from service.api.analyst_common import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    AccountId,
    NoteBody,
    OptionalNote,
    store_errors,
)
from service.api.deps import Reader, ServicesDep, Triager
from service.store import accounts as store

__all__ = ["router"]

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


class AccountSummary(BaseModel):
    """An account as listed."""

    account_id: str
    risk: float
    action: str
    rule_ids: list[str]
    cluster_id: str | None
    n_events: int
    scored_at: str | None
    as_of: float | None = Field(description="Event time (epoch s) the verdict covers up to.")
    model_version: str | None
    suppressed: bool = Field(description="A false positive put the verdict back to allow.")
    allowlisted: bool


class AccountPage(BaseModel):
    """A page of accounts, riskiest first."""

    items: list[AccountSummary]
    total: int
    offset: int
    limit: int


class Decision(BaseModel):
    """An analyst decision."""

    action: str
    by: str
    at: str
    note: str | None


class ClusterRef(BaseModel):
    """The cluster an account belongs to."""

    cluster_id: str
    size: int | None
    risk: float | None
    action: str | None
    reason: str | None
    linked_accounts: list[str] = Field(description="Other members (at most 50).")


class RuleHits(BaseModel):
    """Matched rules and the plain-language reasons."""

    rule_ids: list[str]
    reasons: list[str]


class AccountDetail(BaseModel):
    """Everything known about one account."""

    account_id: str
    known: bool = Field(description="Whether a stored verdict exists.")
    risk: float
    action: str
    reasons: list[str]
    rule_ids: list[str]
    families: list[str]
    anomaly_percentile: float
    cluster_id: str | None
    allowlisted: bool
    suppressed: bool
    suppressed_by: str | None
    model_version: str | None
    scored_at: str | None
    as_of: float | None
    window_hours: int | None
    n_events: int
    features: dict[str, float]
    rule_hits: RuleHits
    cluster: ClusterRef | None
    open_alert: str | None = Field(description="Fingerprint of the account's open alert.")
    decision: Decision | None


class Snapshot(BaseModel):
    """One scoring of the account."""

    t: float | None = Field(description="Wall time of the scoring (epoch s).")
    as_of: float | None = Field(description="Event time it covered up to (epoch s).")
    risk: float
    action: str
    rule_ids: list[str]
    n_events: int
    features: dict[str, float]


class History(BaseModel):
    """Score snapshots, newest first."""

    account_id: str
    items: list[Snapshot]
    total: int
    offset: int
    limit: int


class FeatureRow(BaseModel):
    """One feature beside the population's percentiles."""

    name: str
    value: float
    p50: float | None
    p90: float | None
    p99: float | None
    band: str | None = Field(description="at or below p50, p50-p90, p90-p99 or above p99.")


class Features(BaseModel):
    """An account's features against the population."""

    account_id: str
    as_of: float | None = Field(description="Event time of the population percentiles.")
    n_accounts: int | None = Field(description="Accounts in the population.")
    scored_as_of: float | None = Field(description="Event time of the account's values.")
    features: list[FeatureRow]


class DecisionAnswer(Decision):
    """The decision recorded."""

    alert: str | None = Field(description="Open alert whose trail recorded it.")


class ClearedAnswer(BaseModel):
    """The decision removed."""

    removed: Decision
    by: str
    at: str
    note: str | None
    alert: str | None


@router.get("", response_model=AccountPage, summary="List accounts by risk", responses=LIST_ERRORS)
def list_accounts(
    services: ServicesDep,
    _caller: Reader,
    action: Annotated[Action | None, Query(description="Stored verdict's action.")] = None,
    min_risk: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Accounts, riskiest first, optionally by action and minimum risk."""
    with store_errors():
        return store.list_accounts(
            services.redis,
            services.keys,
            action=action,
            min_risk=min_risk,
            offset=offset,
            limit=limit,
            via_alerts=action is not None and action in services.settings.alert_actions,
        )


@router.get(
    "/{account_id}", response_model=AccountDetail, summary="One account", responses=READ_ERRORS
)
def get_account(account_id: AccountId, services: ServicesDep, _caller: Reader) -> dict[str, Any]:
    """Verdict, features, rule hits, cluster and linked accounts, open alert, decision."""
    with store_errors():
        return store.get_account(services.redis, services.keys, account_id)


@router.get(
    "/{account_id}/history",
    response_model=History,
    summary="An account's score history",
    responses=READ_ERRORS,
)
def history(
    account_id: AccountId,
    services: ServicesDep,
    _caller: Reader,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> dict[str, Any]:
    """Score snapshots (risk, action, rules, features), newest first."""
    with store_errors():
        return store.account_history(services.redis, services.keys, account_id, offset, limit)


@router.get(
    "/{account_id}/features",
    response_model=Features,
    summary="An account's features against the population",
    responses=READ_ERRORS,
)
def features(account_id: AccountId, services: ServicesDep, _caller: Reader) -> dict[str, Any]:
    """Feature values at the last scoring with the population's p50, p90 and p99."""
    with store_errors():
        return store.account_features(services.redis, services.keys, account_id)


def _decide(
    change: Callable[..., dict[str, Any]],
    account_id: str,
    body: NoteBody | None,
    services: Any,
    caller: Any,
) -> dict[str, Any]:
    with store_errors():
        return change(
            services.redis,
            services.keys,
            account_id,
            caller.name,
            body.note if body else None,
            ttl=services.settings.bucket_ttl_s,
        )


@router.post(
    "/{account_id}/confirm-block",
    response_model=DecisionAnswer,
    summary="Confirm a block",
    responses=WRITE_ERRORS,
)
def confirm_block(
    account_id: AccountId, services: ServicesDep, caller: Triager, body: OptionalNote = None
) -> dict[str, Any]:
    """Gateways deny the account from now on, whatever its score, until the decision is
    removed."""
    return _decide(store.confirm_block, account_id, body, services, caller)


@router.delete(
    "/{account_id}/decision",
    response_model=ClearedAnswer,
    summary="Remove an analyst decision",
    responses=WRITE_ERRORS,
)
def clear_decision(
    account_id: AccountId, services: ServicesDep, caller: Triager, body: OptionalNote = None
) -> dict[str, Any]:
    """The account is judged by its score again."""
    return _decide(store.clear_decision, account_id, body, services, caller)
