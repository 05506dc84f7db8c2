"""``/v1/alerts``: list, read, export and triage alerts (scopes ``read`` and ``triage``).

Triage actions record who (the caller's token name) and when on the alert and on its
trail; see :mod:`service.store.alerts` for the transitions (409 when not allowed).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field, field_validator

from detector.vocabulary import Action
from service.api.analyst_common import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    NoteBody,
    OptionalNote,
    RequiredNote,
    clean_text,
    csv_text,
    store_errors,
)
from service.api.deps import Reader, ServicesDep, Triager
from service.store import alerts as store

__all__ = ["router"]

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

Status = Literal["firing", "acknowledged", "resolved", "false_positive"]
Severity = Literal["critical", "warning", "info", "none"]
FP_PATTERN = r"^[0-9a-f]{16}$"
Fingerprint = Annotated[
    str, Path(pattern=FP_PATTERN, description="Alert fingerprint (16 hex digits).")
]


class AlertSummary(BaseModel):
    """An alert as listed."""

    fingerprint: str
    account_id: str
    status: Status
    severity: str
    action: str = Field(description="Recommended action when last scored.")
    risk: float
    rule_ids: list[str]
    cluster_id: str | None
    summary: str = ""
    starts_at: str | None = Field(description="First suspicious activity (RFC 3339).")
    fired_at: str | None = Field(description="When it fired (wall time, RFC 3339).")
    last_seen: str | None = Field(description="Last scoring that confirmed it.")
    ends_at: str | None
    updates: int
    acknowledged_by: str | None
    acknowledged_at: str | None
    resolved_by: str | None
    resolved_at: str | None
    false_positive_by: str | None
    false_positive_at: str | None


class AlertPage(BaseModel):
    """A page of alerts."""

    items: list[AlertSummary]
    total: int = Field(description="Alerts matching the filters, all pages.")
    offset: int
    limit: int


class TrailEntry(BaseModel):
    """One note or triage action on an alert."""

    by: str
    at: str = Field(description="RFC 3339 UTC.")
    action: str = Field(description="note, acknowledge, resolve, false_positive, ...")
    note: str | None


class TrailPage(BaseModel):
    """A page of an alert's trail, newest first."""

    items: list[TrailEntry]
    total: int
    offset: int
    limit: int


class Suppression(BaseModel):
    """The durable record of a false positive."""

    account_id: str | None = None
    by: str | None = None
    at: str | None = None
    note: str | None = None


class AlertDetail(AlertSummary):
    """One alert with its evidence and latest trail."""

    description: str
    recommended_action: str
    labels: dict[str, str]
    annotations: dict[str, str]
    evidence: dict[str, Any]
    model_version: str | None
    suppression: Suppression | None
    trail: list[TrailEntry] = Field(description="Newest 20 trail entries.")
    trail_total: int


class BulkAcknowledge(BaseModel):
    """Alerts to acknowledge at once."""

    model_config = {"extra": "forbid"}

    fingerprints: list[Annotated[str, Field(pattern=FP_PATTERN)]] = Field(
        min_length=1, max_length=500
    )
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("note")
    @classmethod
    def _utf8(cls, v: str | None) -> str | None:
        return clean_text(v)


class BulkResult(BaseModel):
    """What happened to one alert of a bulk acknowledge."""

    fingerprint: str
    result: Literal["acknowledged", "not_found", "conflict"]
    detail: str


class BulkAnswer(BaseModel):
    """Results of a bulk acknowledge."""

    acknowledged: int
    results: list[BulkResult]


_CSV_COLUMNS = (
    "fingerprint",
    "account_id",
    "status",
    "severity",
    "action",
    "risk",
    "rule_ids",
    "cluster_id",
    "starts_at",
    "fired_at",
    "last_seen",
    "acknowledged_by",
    "resolved_by",
    "false_positive_by",
    "summary",
)


def _filters(
    status: Annotated[Status | None, Query(description="Alert status.")] = None,
    severity: Annotated[Severity | None, Query()] = None,
    rule: Annotated[
        str | None, Query(min_length=1, max_length=128, description="A matched rule id.")
    ] = None,
    cluster_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    account_id: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    action: Annotated[Action | None, Query(description="Recommended action.")] = None,
    sort: Annotated[Literal["risk", "last_seen", "started"], Query()] = "risk",
    order: Annotated[Literal["desc", "asc"], Query()] = "desc",
) -> dict[str, Any]:
    return {
        "status": status,
        "severity": severity,
        "rule_id": rule,
        "cluster_id": cluster_id,
        "account_id": account_id,
        "action": action,
        "sort": sort,
        "order": order,
    }


Filters = Annotated[dict[str, Any], Depends(_filters)]


@router.get("", response_model=AlertPage, summary="List alerts", responses=LIST_ERRORS)
def list_alerts(
    services: ServicesDep,
    _caller: Reader,
    filters: Filters,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Alerts matching every filter, sorted, one page at a time."""
    with store_errors():
        return store.list_alerts(
            services.redis,
            services.keys,
            **filters,
            offset=offset,
            limit=limit,
            max_age_s=services.settings.bucket_ttl_s,
        )


@router.get(
    ".csv",
    summary="Export alerts as CSV",
    response_class=Response,
    responses={**LIST_ERRORS, 200: {"content": {"text/csv": {}}, "description": "CSV."}},
)
def export_alerts(
    services: ServicesDep,
    _caller: Reader,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
) -> Response:
    """The filtered list (same filters and sort as ``GET /v1/alerts``) as CSV."""
    with store_errors():
        page = store.list_alerts(
            services.redis,
            services.keys,
            **filters,
            offset=0,
            limit=limit,
            max_age_s=services.settings.bucket_ttl_s,
        )
    return Response(
        csv_text(_CSV_COLUMNS, page["items"]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="alerts.csv"'},
    )


@router.post(
    "/acknowledge",
    response_model=BulkAnswer,
    summary="Acknowledge several alerts",
    responses=LIST_ERRORS,
)
def acknowledge_many(
    body: BulkAcknowledge, services: ServicesDep, caller: Triager
) -> dict[str, Any]:
    """Acknowledge each firing alert of the list; the others are reported, not changed."""
    with store_errors():
        results = store.acknowledge_many(
            services.redis,
            services.keys,
            body.fingerprints,
            caller.name,
            body.note,
            ttl=services.settings.bucket_ttl_s,
            maxlen=services.settings.alerts_maxlen,
        )
    done = sum(1 for r in results if r["result"] == "acknowledged")
    return {"acknowledged": done, "results": results}


@router.get(
    "/{fingerprint}", response_model=AlertDetail, summary="One alert", responses=READ_ERRORS
)
def get_alert(fingerprint: Fingerprint, services: ServicesDep, _caller: Reader) -> dict[str, Any]:
    """The alert's state, labels, annotations, evidence, suppression and latest trail."""
    with store_errors():
        return store.get_alert(services.redis, services.keys, fingerprint)


def _act(
    action: str, fingerprint: str, body: NoteBody | None, services: Any, caller: Any
) -> dict[str, Any]:
    with store_errors():
        return store.transition(
            services.redis,
            services.keys,
            fingerprint,
            action,
            caller.name,
            body.note if body else None,
            ttl=services.settings.bucket_ttl_s,
            maxlen=services.settings.alerts_maxlen,
        )


@router.post(
    "/{fingerprint}/acknowledge",
    response_model=AlertDetail,
    summary="Acknowledge an alert",
    responses=WRITE_ERRORS,
)
def acknowledge(
    fingerprint: Fingerprint, services: ServicesDep, caller: Triager, body: OptionalNote = None
) -> dict[str, Any]:
    """``firing`` -> ``acknowledged``: someone is looking at it."""
    return _act("acknowledge", fingerprint, body, services, caller)


@router.post(
    "/{fingerprint}/resolve",
    response_model=AlertDetail,
    summary="Resolve an alert",
    responses=WRITE_ERRORS,
)
def resolve(
    fingerprint: Fingerprint, services: ServicesDep, caller: Triager, body: OptionalNote = None
) -> dict[str, Any]:
    """``firing`` or ``acknowledged`` -> ``resolved`` (it fires again if still warranted)."""
    return _act("resolve", fingerprint, body, services, caller)


@router.post(
    "/{fingerprint}/false-positive",
    response_model=AlertDetail,
    summary="Mark an alert false positive",
    responses=WRITE_ERRORS,
)
def false_positive(
    fingerprint: Fingerprint, services: ServicesDep, caller: Triager, body: OptionalNote = None
) -> dict[str, Any]:
    """-> ``false_positive``: suppressed for good; the account is allowed again at once."""
    return _act("false_positive", fingerprint, body, services, caller)


@router.post(
    "/{fingerprint}/notes",
    response_model=TrailEntry,
    status_code=201,
    summary="Add a note to an alert",
    responses=READ_ERRORS,
)
def add_note(
    fingerprint: Fingerprint, body: RequiredNote, services: ServicesDep, caller: Triager
) -> dict[str, Any]:
    """Append a note to the alert's trail."""
    with store_errors():
        return store.add_note(
            services.redis,
            services.keys,
            fingerprint,
            caller.name,
            body.note,
            ttl=services.settings.bucket_ttl_s,
        )


@router.get(
    "/{fingerprint}/notes",
    response_model=TrailPage,
    summary="An alert's notes and triage trail",
    responses=READ_ERRORS,
)
def list_notes(
    fingerprint: Fingerprint,
    services: ServicesDep,
    _caller: Reader,
    offset: Annotated[int, Query(ge=0, le=store.NOTES_CAP)] = 0,
    limit: Annotated[int, Query(ge=1, le=store.NOTES_CAP)] = 100,
) -> dict[str, Any]:
    """Notes and actions on the alert, newest first."""
    with store_errors():
        return store.list_notes(services.redis, services.keys, fingerprint, offset, limit)
