"""``POST /v1/events``: log records from gateways onto the events stream.

Accepts what LiteLLM's generic logging callback posts (``json_array``, ``ndjson`` or
``single``), OpenAI-style request/response records and canonical events, as one JSON
document or newline-delimited. Records are validated; bad ones go to the quarantine
stream with their reason and are counted; good ones are added idempotently on their
request id (a retried POST adds nothing twice). Prompt text is reduced to fingerprints and
signals before anything is written.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

from service import metrics
from service.api.deps import EventsWriter, ServicesDep

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["events"])


class IngestResult(BaseModel):
    """Counts of one POST."""

    events: int
    added: int
    duplicates: int
    quarantined: int
    reasons: dict[str, int]


def _ingestor(services: Any) -> Any:
    ing = services.extras.get("ingestor")
    if ing is None:
        from service.stream.ingest import Ingestor

        ing = Ingestor(services.redis, services.settings, services.keys)
        services.extras["ingestor"] = ing
    return ing


@router.post(
    "/events",
    response_model=IngestResult,
    summary="Ingest log records",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"type": "array", "items": {"type": "object"}},
                            {"type": "object"},
                        ]
                    }
                },
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def ingest_events(
    request: Request,
    services: ServicesDep,
    _caller: EventsWriter,
    fmt: Literal["litellm", "openai", "canonical"] | None = Query(default=None, alias="format"),
) -> dict[str, Any]:
    """Validate, quarantine bad records, add good ones; returns the counts."""
    body = await request.body()
    if not body.strip():
        raise HTTPException(400, "empty body: expected JSON records")
    ingestor = _ingestor(services)
    try:
        stats = await run_in_threadpool(ingestor.ingest_payload, body, fmt=fmt, source="http")
    except (ConnectionError, TimeoutError, RedisError) as exc:
        raise HTTPException(503, "event store unavailable, retry later") from exc
    metrics.INGEST_EVENTS.labels("added").inc(stats.added)
    metrics.INGEST_EVENTS.labels("duplicate").inc(stats.duplicates)
    metrics.INGEST_EVENTS.labels("quarantined").inc(stats.quarantined)
    for reason, n in stats.reasons.items():
        metrics.QUARANTINED.labels(reason).inc(n)
    return stats.as_dict()
