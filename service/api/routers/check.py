"""``GET /v1/check``: an nginx ``auth_request`` / Envoy ``ext_authz`` style check.

The account comes from a configurable header (``x-distillwatch-account`` by default).
200 lets the request through; 403 denies it, with ``X-Distillwatch-Reason``. Both carry
``X-Distillwatch-Action`` and ``X-Distillwatch-Risk`` for the proxy's logs. When Redis
cannot be read, the configured fail mode decides (see ``docs/gateways.md``).

Envoy's HTTP ``ext_authz`` sends the check with the original request's method and with
the original path appended to its ``path_prefix`` (``/v1/check`` + ``/v1/chat/...``), so
``/v1/check/{anything}`` answers the same way for every method (no body is read).
``GET /v1/check`` is also served by the fast path (:class:`service.api.middleware.FastPath`).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response

from service.api.context import Services
from service.api.decisions import decide_many
from service.api.deps import Gateway, ServicesDep, authorize
from service.api.middleware import add_fast_route

__all__ = ["on_app", "router"]

router = APIRouter(prefix="/v1", tags=["gateway"])


def _header_safe(text: str, limit: int = 200) -> str:
    clean = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return clean[:limit]


@router.get(
    "/check",
    summary="Allow or deny one request (auth_request / ext_authz)",
    responses={
        200: {"description": "Allowed."},
        400: {"description": "No account header."},
        403: {"description": "Denied; the reason is in X-Distillwatch-Reason."},
    },
)
async def check(request: Request, services: ServicesDep, _caller: Gateway) -> Response:
    """200 to allow, 403 to deny the request whose account is in the account header."""
    return await _check(request, services)


@router.api_route(
    "/check/{original_path:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
)
async def check_ext_authz(request: Request, services: ServicesDep, _caller: Gateway) -> Response:
    """:func:`check` as Envoy's HTTP ``ext_authz`` calls it (any method, path appended)."""
    return await _check(request, services)


async def _check(request: Request, services: Services) -> Response:
    header = services.settings.check_account_header
    account = request.headers.get(header, "").strip()
    if not account:
        return Response(
            status_code=400,
            headers={"X-Distillwatch-Reason": f"missing {header} header"},
        )
    (decision,) = await decide_many(services, [(account, None)], "check")
    headers = {
        "X-Distillwatch-Action": decision.action,
        "X-Distillwatch-Risk": f"{decision.risk:.3f}",
        "Cache-Control": "no-store",
    }
    if decision.action in services.settings.deny_actions:
        reason = decision.reasons[0] if decision.reasons else f"action {decision.action}"
        headers["X-Distillwatch-Reason"] = _header_safe(reason)
        return Response(status_code=403, headers=headers)
    return Response(status_code=200, headers=headers)


async def _fast_check(request: Request, _body: bytes) -> Response:
    """:func:`check` without FastAPI's machinery (it has nothing to validate)."""
    services: Services = request.app.state.services
    authorize(request, services, "score")
    return await _check(request, services)


def on_app(app: FastAPI, _services: Services) -> None:
    """Serve ``GET /v1/check`` through the gateway fast path."""
    add_fast_route(app, "GET", "/v1/check", _fast_check)
