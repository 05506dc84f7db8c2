"""``GET /v1/vocabulary``: actions, rule levels, alert severities and risk bands.

The dashboard shades its risk charts with these bands instead of numbers of its own;
integrations can read the action ladder from here (:mod:`detector.vocabulary`).
"""

from __future__ import annotations

from functools import lru_cache

from fastapi import APIRouter, Response

from detector.vocabulary import vocabulary
from service.api.deps import Reader

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["vocabulary"])


@lru_cache(maxsize=1)
def _body() -> bytes:
    import orjson

    return orjson.dumps(vocabulary())


@router.get(
    "/vocabulary",
    summary="Actions, levels, severities and risk bands",
    response_description="``actions`` (mildest first), ``alert_actions``, ``levels``, "
    "``severity_of_action`` and ``risk_bands`` (``name``, ``lo``).",
)
def get_vocabulary(_who: Reader) -> Response:
    """The shared vocabulary of :mod:`detector.vocabulary` as JSON."""
    return Response(_body(), media_type="application/json")
