"""Operations: ``/healthz`` (process up), ``/readyz`` (Redis reachable), ``/metrics``.

Readiness is whether this process can take traffic: Redis answers. A model in use is
reported but not required: before the first worker has scored, the gateway endpoints
answer from request signals and ``unknown_account`` (allow), and ``POST /v1/events``
must be reachable for the very events that will produce the first model (requiring
one would keep a new deployment unready forever).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from service import metrics
from service.api.deps import ServicesDep
from service.api.guard import RedisUnavailable

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """The process answers (no dependency is checked)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: Redis reachable (the model in use is reported)",
    responses={503: {"description": "Not ready; `checks` says why."}},
)
async def readyz(services: ServicesDep) -> Response:
    """200 when Redis answers (``checks.model`` says whether a model is in use); 503 otherwise."""
    checks: dict[str, Any] = {}
    model = None
    try:
        services.guard.reset()

        async def probe() -> Any:
            pipe = services.aredis.pipeline(transaction=False)
            pipe.ping()
            pipe.get(services.keys.model_active)
            pipe.get(services.keys.model_current)
            return await pipe.execute()

        _pong, active, current = await services.guard.call("readyz", probe)
        checks["redis"] = "ok"
        raw = active or current
        model = raw.decode() if isinstance(raw, bytes) else raw
        checks["model"] = model or (
            "none yet: no worker has scored and no model is published "
            "(gateway answers come from request signals until then)"
        )
    except RedisUnavailable as exc:
        checks["redis"] = f"unreachable ({exc})"
    ready = checks.get("redis") == "ok"
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks, "model_version": model},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus_metrics() -> Response:
    """Prometheus text exposition (no account ids in any label)."""
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)
