"""``GET /v1/blocklist``: accounts to deny now, as JSON or CSV (scope ``read``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from service.api.analyst_common import LIST_ERRORS, csv_text, store_errors
from service.api.deps import Reader, ServicesDep
from service.store import blocklist as store

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["blocklist"])

_COLUMNS = (
    "account_id",
    "risk",
    "source",
    "rule_ids",
    "cluster_id",
    "decided_by",
    "decided_at",
    "note",
    "scored_at",
    "reasons",
)


class BlockEntry(BaseModel):
    """One account to block."""

    account_id: str
    risk: float
    action: Literal["block"]
    source: Literal["verdict", "analyst"] = Field(
        description="verdict: the stored score says block; analyst: a confirmed block."
    )
    reasons: list[str]
    rule_ids: list[str]
    cluster_id: str | None
    decided_by: str | None
    decided_at: str | None
    note: str | None
    scored_at: str | None


class Blocklist(BaseModel):
    """Accounts to block, riskiest first."""

    items: list[BlockEntry]
    total: int


@router.get(
    "/blocklist",
    response_model=Blocklist,
    summary="Accounts to block",
    responses={
        **LIST_ERRORS,
        200: {
            "content": {"application/json": {}, "text/csv": {}},
            "description": "The blocklist (CSV with format=csv).",
        },
    },
)
def blocklist(
    services: ServicesDep,
    _caller: Reader,
    format: Annotated[Literal["json", "csv"], Query(description="Answer format.")] = "json",
) -> Any:
    """Accounts whose verdict is ``block`` (not suppressed) or whose block an analyst
    confirmed."""
    with store_errors():
        data = store.blocklist(
            services.redis,
            services.keys,
            via_alerts="block" in services.settings.alert_actions,
        )
    if format == "csv":
        return Response(
            csv_text(_COLUMNS, data["items"]),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="blocklist.csv"'},
        )
    return data
