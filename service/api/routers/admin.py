"""Admin: reload rules in every running scorer, retrain the anomaly model.

``POST /v1/admin/rules/reload`` validates the rules directory here (schema, unknown
features, duplicate ids, every inline test) and, only when it is clean, bumps the rules
version in Redis; every scorer reloads at its next poll. ``POST /v1/admin/retrain`` fits
the isolation forest on the Redis window state in a background thread and publishes it;
scorers pick it up without a restart. ``GET /v1/admin/jobs/{id}`` follows the job.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from detector.alerts import rfc3339
from service.api.deps import Admin, ServicesDep

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["admin"])

_JOB_TTL_S = 7 * 86_400


class RulesReloaded(BaseModel):
    """Outcome of a rules reload."""

    rules_version: int
    rules: int
    by: str


class RetrainRequest(BaseModel):
    """Options of a retrain (defaults from the service settings)."""

    detector: Literal["iforest", "ecod"] = "iforest"
    contamination: float | None = Field(default=None, gt=0.0, lt=0.5)
    min_events: int | None = Field(default=None, ge=1, le=1_000_000)


class Job(BaseModel):
    """State of an admin job."""

    job_id: str
    kind: str
    status: Literal["running", "done", "failed"]
    by: str
    started_at: str
    finished_at: str | None = None
    detail: str | None = None
    model_version: str | None = None


@router.post("/rules/reload", response_model=RulesReloaded, summary="Reload rules everywhere")
def reload_rules(services: ServicesDep, caller: Admin) -> dict[str, Any]:
    """Validate and test the rules, then make every scorer reload them."""
    from detector.rules import RuleSet, default_rules_dir

    settings = services.settings
    rules_dir = Path(settings.rules_dir) if settings.rules_dir else default_rules_dir()
    try:
        rules = RuleSet.load(rules_dir)
    except Exception as exc:  # validation problems, failing inline tests, unreadable files
        raise HTTPException(422, detail=f"rules not reloaded: {exc}") from exc
    version = int(services.redis.incr(services.keys.rules_version))
    return {"rules_version": version, "rules": len(rules.rules), "by": caller.name}


def _run_retrain(services: Any, job_id: str, body: RetrainRequest) -> None:
    from service.stream.training import train_from_redis

    key = services.keys.job(job_id)
    try:
        _blob, meta, fitted = train_from_redis(
            services.redis,
            services.settings,
            contamination=body.contamination,
            detector=body.detector,
            min_events=body.min_events,
        )
        services.redis.hset(
            key,
            mapping={
                "status": "done",
                "finished_at": rfc3339(time.time()),
                "model_version": meta["version"],
                "detail": f"fitted on {fitted} accounts",
            },
        )
    except Exception as exc:
        services.redis.hset(
            key,
            mapping={
                "status": "failed",
                "finished_at": rfc3339(time.time()),
                "detail": str(exc)[:500],
            },
        )


@router.post("/retrain", response_model=Job, status_code=202, summary="Retrain the model")
def retrain(body: RetrainRequest, services: ServicesDep, caller: Admin) -> dict[str, Any]:
    """Start fitting the anomaly model on the Redis state; answers at once with the job."""
    job_id = uuid.uuid4().hex[:16]
    job = {
        "job_id": job_id,
        "kind": "retrain",
        "status": "running",
        "by": caller.name,
        "started_at": rfc3339(time.time()),
    }
    key = services.keys.job(job_id)
    services.redis.hset(key, mapping=job)
    services.redis.expire(key, _JOB_TTL_S)
    threading.Thread(
        target=_run_retrain, args=(services, job_id, body), name=f"retrain-{job_id}", daemon=True
    ).start()
    return job


@router.get("/jobs/{job_id}", response_model=Job, summary="State of an admin job")
def get_job(
    services: ServicesDep,
    _caller: Admin,
    job_id: str,
) -> dict[str, Any]:
    """The job's status, and the model version it published when done."""
    raw = services.redis.hgetall(services.keys.job(job_id)) if len(job_id) <= 64 else {}
    if not raw:
        raise HTTPException(404, detail="no such job")
    return {k.decode(): v.decode() for k, v in raw.items()}
