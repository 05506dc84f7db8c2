"""FastAPI dependencies, as ``Annotated`` aliases routers put in their signatures.

``ServicesDep`` is the app's shared state; ``Gateway``, ``EventsWriter``, ``Reader``,
``Triager`` and ``Admin`` authenticate the caller and check the scope the route needs
(401 without a valid token, 403 without the scope, 429 over the token's rate).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from service import metrics
from service.api.auth import Principal
from service.api.context import Services

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "Admin",
    "EventsWriter",
    "Gateway",
    "Reader",
    "ServicesDep",
    "Triager",
    "authenticate",
    "authorize",
    "authorize_async",
    "require",
]

_ANONYMOUS = Principal("anonymous", "admin")


def get_services(request: Request) -> Services:
    """The app's :class:`Services`."""
    return request.app.state.services


async def _services(request: Request) -> Services:
    # async: FastAPI would run a plain ``def`` dependency in the thread pool (a thread
    # hand-off per request, the largest cost of the gateway path before this)
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(_services)]


def _presented(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None
    return request.headers.get("x-api-key") or None


SESSION_COOKIE = "dw_session"
CSRF_HEADER = "x-requested-with"


def _from_session(request: Request, services: Services) -> Principal | None:
    """The dashboard's signed-in analyst, from its session cookie (see service.ui)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    sessions = services.extras.get("sessions")
    if not cookie or sessions is None:
        return None
    principal = sessions.lookup(cookie)
    if principal is None:
        return None
    # a cookie rides along cross-site; a custom header cannot without CORS (off by default)
    if request.method not in ("GET", "HEAD", "OPTIONS") and (
        request.headers.get(CSRF_HEADER) != "distillwatch"
    ):
        metrics.AUTH_FAILURES.labels("csrf").inc()
        raise HTTPException(403, detail="missing X-Requested-With: distillwatch header")
    return principal


def authenticate(request: Request, services: Services) -> Principal:
    """The caller of ``request``; raises 401 when there is no valid token.

    A bearer token (or ``x-api-key``) wins; without one, the dashboard's session cookie
    is accepted.
    """
    if services.settings.auth_disabled:
        return _ANONYMOUS
    presented = _presented(request)
    if presented is None:
        session = _from_session(request, services)
        if session is not None:
            return session
    principal = services.tokens.lookup(presented)
    if principal is None:
        reason = "missing" if presented is None else "invalid"
        metrics.AUTH_FAILURES.labels(reason).inc()
        raise HTTPException(
            401,
            detail=f"{reason} API token",
            headers={"WWW-Authenticate": 'Bearer realm="distillwatch"'},
        )
    return principal


def _scoped(request: Request, services: Services, scope: str) -> Principal:
    principal = authenticate(request, services)
    if not principal.can(scope):
        metrics.AUTH_FAILURES.labels("forbidden").inc()
        raise HTTPException(403, detail=f"role '{principal.role}' may not use '{scope}'")
    return principal


def _admit(request: Request, principal: Principal, wait: float) -> Principal:
    if wait > 0:
        metrics.RATE_LIMITED.labels(principal.role).inc()
        raise HTTPException(
            429,
            detail="rate limit exceeded for this token",
            headers={"Retry-After": str(max(1, round(wait + 0.5)))},
        )
    request.state.principal = principal
    return principal


def authorize(request: Request, services: Services, scope: str) -> Principal:
    """The caller of ``request`` if its role grants ``scope`` and it is within its rate.

    Never waits on Redis (the gateway fast paths call it): the limit is the token's
    local share (:meth:`service.api.ratelimit.SharedRateLimiter.allow`).

    Raises
    ------
    HTTPException
        401 without a valid token, 403 without the scope, 429 over the token's rate.
    """
    principal = _scoped(request, services, scope)
    return _admit(request, principal, services.limiter.allow(principal))


async def authorize_async(request: Request, services: Services, scope: str) -> Principal:
    """:func:`authorize`, with the limits exact across processes for analyst and admin
    tokens (one Redis call; :meth:`service.api.ratelimit.SharedRateLimiter.acquire`).

    Raises
    ------
    HTTPException
        401 without a valid token, 403 without the scope, 429 over the token's rate.
    """
    principal = _scoped(request, services, scope)
    acquire = getattr(services.limiter, "acquire", None)
    wait = await acquire(principal) if acquire is not None else services.limiter.allow(principal)
    return _admit(request, principal, wait)


def require(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency admitting callers whose role grants ``scope`` (:func:`authorize`).

    It is a coroutine function: FastAPI runs a plain ``def`` dependency in the thread
    pool, which would cost a thread hand-off per request. For gateway tokens its work (a
    SHA-256, an in-memory bucket) never blocks; analyst and admin tokens await one Redis
    call for their shared bucket, and a session cookie costs one Redis read.
    """

    async def dependency(request: Request) -> Principal:
        return await authorize_async(request, request.app.state.services, scope)

    dependency.__name__ = f"require_{scope}"
    return dependency


Gateway = Annotated[Principal, Depends(require("score"))]
EventsWriter = Annotated[Principal, Depends(require("events"))]
Reader = Annotated[Principal, Depends(require("read"))]
Triager = Annotated[Principal, Depends(require("triage"))]
Admin = Annotated[Principal, Depends(require("admin"))]
