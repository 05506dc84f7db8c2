"""The FastAPI application: ``create_app()`` wires routers, middleware and lifespan.

Served by ``distillwatch serve`` (uvicorn). Binds to 127.0.0.1 unless configured
otherwise (``DISTILLWATCH_HOST``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service import metrics
from service.api.background import run_gauges
from service.api.context import Services, build_services
from service.api.decisions import SHED_STATUS
from service.api.middleware import AdmissionMiddleware, BodyLimitMiddleware, MetricsMiddleware
from service.settings import ServiceSettings, get_service_settings

__all__ = ["create_app"]

log = logging.getLogger("distillwatch.service")

#: seconds shutdown waits for background tasks and for closing the Redis pool
SHUTDOWN_WAIT_S = 5.0

#: routers always present, then optional ones (a missing module is skipped with a log line)
#: gateway paths under admission control (path prefix -> endpoint label of the metrics)
GATEWAY_ENDPOINTS = {
    "/v1/score": "score",
    "/v1/check": "check",
    "/beta/litellm_basic_guardrail_api": "guardrail",
}

_ROUTERS = (
    "service.api.routers.score",
    "service.api.routers.check",
    "service.api.routers.guardrail",
    "service.api.routers.events",
    "service.api.routers.alerts",
    "service.api.routers.accounts",
    "service.api.routers.clusters",
    "service.api.routers.blocklist",
    "service.api.routers.admin",
    "service.api.routers.ops",
    "service.api.routers.vocabulary",
    "service.ui.routes",
)

_DESCRIPTION = """
Detects distillation abuse on LLM APIs. Gateways call **/v1/score**, **/v1/check** or the
LiteLLM guardrail endpoint per request (answers come from precomputed state in Redis);
analysts review **alerts**, **accounts** and **clusters**. Authenticate with
`Authorization: Bearer <token>`; each token has a role (gateway, analyst, admin).
"""


def _validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    # never echo the offending input back: it may hold prompt text or a key
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()  # type: ignore[attr-defined]
    ]
    return JSONResponse({"detail": errors}, status_code=422)


def _http_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers or None
    )


def _internal_handler(request: Request, exc: Exception) -> JSONResponse:
    ref = uuid.uuid4().hex[:12]
    log.error("unhandled error %s on %s %s: %r", ref, request.method, request.url.path, exc)
    return JSONResponse({"detail": "internal error", "reference": ref}, status_code=500)


def create_app(
    settings: ServiceSettings | None = None, services: Services | None = None
) -> FastAPI:
    """Build the service app.

    Parameters
    ----------
    settings : ServiceSettings, optional
        Defaults to the environment (``DISTILLWATCH_*``).
    services : Services, optional
        Prebuilt clients (tests); built from ``settings`` otherwise.

    Raises
    ------
    ValueError
        When no API token is configured and auth is not explicitly disabled.
    """
    settings = settings or (services.settings if services else get_service_settings())
    services = services or build_services(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # open the gateway path's first Redis connection now, not on the first request
        with contextlib.suppress(Exception):
            await asyncio.wait_for(services.aredis.ping(), 1.0)
        metrics.REDIS_UP.set(1)
        tasks = [asyncio.create_task(run_gauges(services))]
        if services.guard.monitor is not None:
            tasks.append(asyncio.create_task(services.guard.monitor.run()))
        if services.guard.probe is not None:
            tasks.append(asyncio.create_task(services.guard.probe.run(services.aredis)))
        if settings.webhook_url or settings.alertmanager_url:
            from service.sinks.runner import start_sinks

            tasks.extend(start_sinks(services))
        starter = services.extras.get("start_background")
        if starter is not None:
            tasks.extend(starter(services))
        try:
            yield
        finally:
            # bounded: a task stuck in a Redis call must not hold shutdown forever
            for t in tasks:
                t.cancel()
            if tasks:
                done, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_WAIT_S)
                for t in done:  # retrieve, so that asyncio logs no "never retrieved"
                    if not t.cancelled():
                        t.exception()
                if stuck:
                    log.warning(
                        "%d background task(s) did not stop within %.0f s",
                        len(stuck),
                        SHUTDOWN_WAIT_S,
                    )
            with contextlib.suppress(Exception):
                await asyncio.wait_for(services.aredis.aclose(), SHUTDOWN_WAIT_S)
            with contextlib.suppress(Exception):
                services.redis.close()

    app = FastAPI(
        title="distillwatch",
        version=_version(),
        description=_DESCRIPTION,
        lifespan=lifespan,
        debug=False,
        # our metrics are Prometheus' (service.metrics); FastAPI's OpenTelemetry hooks
        # would cost every gateway request a provider check
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.services = services
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(Exception, _internal_handler)
    for name in _ROUTERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
                continue
            raise
        app.include_router(module.router)
        hook = getattr(module, "on_app", None)
        if hook is not None:
            hook(app, services)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.max_body_bytes,
        limits={"/v1/events": settings.max_events_body_bytes},
        default_seconds=settings.max_body_seconds,
        seconds={"/v1/events": settings.max_events_body_seconds},
    )
    app.add_middleware(
        AdmissionMiddleware,
        limit=settings.max_inflight_gateway,
        endpoints=GATEWAY_ENDPOINTS,
        statuses=SHED_STATUS,
    )
    app.add_middleware(MetricsMiddleware)
    return app


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("distillwatch")
    except Exception:
        return "0"


def app_from_env() -> Any:
    """Factory for ``uvicorn --factory service.api.app:app_from_env``."""
    return create_app()
