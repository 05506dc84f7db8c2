"""The analysts' dashboard under ``/ui``: sign-in, pages, overview figures, live events.

Pages are small HTML shells (Jinja2 templates) whose script fetches the analyst JSON
APIs (``/v1/alerts``, ``/v1/accounts``, ``/v1/clusters``...) from the same origin with
the session cookie; nothing is loaded from the internet. Routes:

=========================  ===============================================================
``GET /ui/login``          sign-in form (an analyst or admin API token)
``POST /ui/login``         validate the token, start a session (``dw_session`` cookie)
``POST /ui/logout``        end the session
``GET /ui/``               overview: alerts, risk distribution, top accounts and clusters
``GET /ui/alerts``         alert queue: filters, sort, pages, bulk acknowledge, CSV
``GET /ui/accounts``       accounts by risk
``GET /ui/accounts/{id}``  one account: risk and features over time, reasons, triage
``GET /ui/clusters``       linked clusters
``GET /ui/clusters/{id}``  one cluster: members, link evidence, graph
``GET /ui/api/overview``   the overview's figures (JSON)
``GET /ui/events``         server-sent events: alert transitions as they happen
=========================  ===============================================================

Pages without a session redirect to the sign-in form. The session cookie is HttpOnly
and ``SameSite=Strict``; API calls authenticated by it must carry ``X-Requested-With:
distillwatch`` on POST (checked in :mod:`service.api.deps`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import orjson
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import StreamingResponse

from service import metrics
from service.api.auth import Principal
from service.api.context import Services
from service.api.deps import CSRF_HEADER, SESSION_COOKIE, Reader, ServicesDep, get_services
from service.store.common import dec
from service.ui.overview import OverviewReader
from service.ui.session import SessionStore

__all__ = ["on_app", "router"]

log = logging.getLogger("distillwatch.ui")

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"

_ANONYMOUS = Principal("anonymous", "admin")
#: seconds one XREAD blocks; a heartbeat comment is sent at least this often
SSE_BLOCK_S = 5.0
#: most alert updates sent per poll of the alerts index
SSE_MAX_UPDATES = 200
_LOGIN_FAILURE_DELAY_S = 0.25

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _asset_version() -> str:
    h = hashlib.sha256()
    for path in sorted(STATIC_DIR.glob("*")):
        if path.is_file():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:10]


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals["asset_version"] = _asset_version()


def _ui_enabled(request: Request) -> None:
    if not get_services(request).settings.ui_enabled:
        raise HTTPException(404, detail="Not Found")


router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(_ui_enabled)])


# -- sessions -------------------------------------------------------------------------------
def sessions_of(services: Services) -> SessionStore:
    """The app's session store (created on first use when ``on_app`` did not run)."""
    store = services.extras.get("sessions")
    if store is None:
        store = services.extras.setdefault("sessions", SessionStore())
    return store


def _session_principal(request: Request, services: Services) -> Principal | None:
    if services.settings.auth_disabled:
        return _ANONYMOUS
    return sessions_of(services).lookup(request.cookies.get(SESSION_COOKIE))


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: only a path of this dashboard (no open redirect)."""
    if not target or not target.startswith("/ui") or target.startswith("//"):
        return "/ui/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return "/ui/"
    if parts.path.rstrip("/") in ("/ui/login", "/ui/logout"):
        return "/ui/"
    return target


def _same_origin(request: Request) -> bool:
    """False when the browser says the form was posted from another origin."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        referer = request.headers.get("referer")
        if referer is None:
            return origin is None  # non-browser clients send neither
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(referer))
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


def _page(request: Request, name: str, principal: Principal, **context: Any) -> HTMLResponse:
    services = get_services(request)
    session = sessions_of(services).get(request.cookies.get(SESSION_COOKIE))
    ctx = {
        "user": principal.name,
        "role": principal.role,
        "can_triage": principal.can("triage"),
        "csrf": session.csrf if session is not None else "",
        "page_size": services.settings.ui_page_size,
        **context,
    }
    response = templates.TemplateResponse(request, name, ctx)
    response.headers.update(_SECURITY_HEADERS)
    return response


def _signed_in_page(request: Request, services: Services, name: str, **context: Any) -> Response:
    """The page for the session's principal, or a redirect to the sign-in form."""
    principal = _session_principal(request, services)
    if principal is None:
        return _to_login(request)
    return _page(request, name, principal, **context)


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?next={quote(target, safe='')}", status_code=303)


async def _read_form(request: Request) -> dict[str, str]:
    body = await request.body()
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("application/x-www-form-urlencoded"):
        return {}
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items() if v}


# -- sign in / out -------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, services: ServicesDep, next: str | None = None) -> Response:
    """The sign-in form (or straight on when already signed in)."""
    if _session_principal(request, services) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next, None, 200)


def _login_page(request: Request, next_url: str | None, error: str | None, status: int) -> Response:
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"next": _safe_next(next_url), "error": error},
        status_code=status,
    )
    response.headers.update(_SECURITY_HEADERS)
    return response


@router.post("/login")
async def login(request: Request, services: ServicesDep) -> Response:
    """Trade an analyst or admin token for a session cookie.

    The token must hold the ``read`` scope (gateway tokens cannot sign in). A cross-site
    post (``Origin`` of another site) is refused.
    """
    form = await _read_form(request)
    next_url = _safe_next(form.get("next"))
    if not _same_origin(request):
        metrics.AUTH_FAILURES.labels("csrf").inc()
        return _login_page(request, next_url, "Sign-in refused: cross-site request.", 403)
    token = (form.get("token") or "").strip()
    principal = services.tokens.lookup(token) if token else None
    if principal is None:
        metrics.AUTH_FAILURES.labels("missing" if not token else "invalid").inc()
        await asyncio.sleep(_LOGIN_FAILURE_DELAY_S)
        return _login_page(request, next_url, "That token is not valid.", 401)
    if not principal.can("read"):
        metrics.AUTH_FAILURES.labels("forbidden").inc()
        return _login_page(
            request,
            next_url,
            f"A {principal.role} token cannot open the dashboard; use an analyst or admin token.",
            403,
        )
    store = sessions_of(services)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        store.revoke(old)  # never keep a session id chosen before sign-in
    try:
        session = store.create(principal)
    except Exception as exc:  # Redis down: say so, never a 500 with a trace
        log.warning("sign-in failed, session store unavailable: %r", exc)
        return _login_page(
            request, next_url, "Sign-in is unavailable right now (Redis); try again shortly.", 503
        )
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.sid,
        max_age=int(store.lifetime_s),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    log.info("dashboard sign-in: %s (%s)", principal.name, principal.role)
    return response


@router.post("/logout")
async def logout(request: Request, services: ServicesDep) -> Response:
    """End the session: needs ``X-Requested-With: distillwatch`` or the form's token."""
    store = sessions_of(services)
    sid = request.cookies.get(SESSION_COOKIE)
    form = await _read_form(request)
    allowed = request.headers.get(CSRF_HEADER) == "distillwatch" or store.check_csrf(
        sid, form.get("csrf")
    )
    if sid and not allowed:
        metrics.AUTH_FAILURES.labels("csrf").inc()
        raise HTTPException(403, detail="missing X-Requested-With: distillwatch header")
    store.revoke(sid)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


# -- pages ---------------------------------------------------------------------------------
@router.get("", response_class=HTMLResponse)
async def ui_root() -> Response:
    """``/ui`` -> ``/ui/``."""
    return RedirectResponse("/ui/", status_code=307)


@router.get("/", response_class=HTMLResponse)
async def overview_page(request: Request, services: ServicesDep) -> Response:
    """Overview."""
    return _signed_in_page(request, services, "overview.html", page="overview", title="Overview")


@router.get("/alerts", response_class=HTMLResponse)
async def alerts_page(request: Request, services: ServicesDep) -> Response:
    """Alert queue."""
    return _signed_in_page(request, services, "alerts.html", page="alerts", title="Alert queue")


@router.get("/accounts", response_class=HTMLResponse)
async def accounts_page(request: Request, services: ServicesDep) -> Response:
    """Accounts by risk."""
    return _signed_in_page(request, services, "accounts.html", page="accounts", title="Accounts")


@router.get("/accounts/{account_id:path}", response_class=HTMLResponse)
async def account_page(request: Request, services: ServicesDep, account_id: str) -> Response:
    """One account."""
    return _signed_in_page(
        request,
        services,
        "account.html",
        page="account",
        title=f"Account {account_id}",
        account_id=account_id,
    )


@router.get("/clusters", response_class=HTMLResponse)
async def clusters_page(request: Request, services: ServicesDep) -> Response:
    """Linked clusters."""
    return _signed_in_page(request, services, "clusters.html", page="clusters", title="Clusters")


@router.get("/clusters/{cluster_id}", response_class=HTMLResponse)
async def cluster_page(request: Request, services: ServicesDep, cluster_id: str) -> Response:
    """One cluster."""
    return _signed_in_page(
        request,
        services,
        "cluster.html",
        page="cluster",
        title=f"Cluster {cluster_id}",
        cluster_id=cluster_id,
    )


# -- JSON and events -----------------------------------------------------------------------
def _overview_reader(services: Services) -> OverviewReader:
    reader = services.extras.get("ui_overview")
    if reader is None:
        reader = services.extras.setdefault(
            "ui_overview", OverviewReader(services.keys, services.settings.group)
        )
    return reader


@router.get("/api/overview")
def overview_json(_who: Reader, services: ServicesDep) -> Response:
    """The overview's figures (see :class:`service.ui.overview.OverviewReader`)."""
    data = _overview_reader(services).read(services.redis)
    return Response(
        orjson.dumps(data),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _sse(event: str | None, data: dict[str, Any], event_id: str | None = None) -> bytes:
    lines = []
    if event_id:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines.append("data: " + orjson.dumps(data).decode())
    return ("\n".join(lines) + "\n\n").encode()


_SUMMARY_FIELDS = ("status", "severity", "action", "risk", "account_id", "rule_ids", "cluster_id")


async def _alert_summaries(client: Any, services: Services, fps: list[str]) -> list[dict[str, Any]]:
    pipe = client.pipeline(transaction=False)
    for fp in fps:
        pipe.hmget(services.keys.alert(fp), *_SUMMARY_FIELDS)
    out = []
    for fp, values in zip(fps, await pipe.execute(), strict=True):
        if values[0] is None:
            continue
        d = {name: dec(v) for name, v in zip(_SUMMARY_FIELDS, values, strict=True) if v}
        d["fingerprint"] = fp
        if "risk" in d:
            with contextlib.suppress(ValueError):
                d["risk"] = float(d["risk"])
        out.append(d)
    return out


async def alert_events(
    request: Request,
    services: Services,
    client: Any,
    last_id: str | None,
    session_id: str | None = None,
) -> AsyncIterator[bytes]:
    """Server-sent events of alert transitions until the client goes away.

    Reads the alerts stream with ``XREAD BLOCK`` (firing and resolved transitions, sent as
    ``alert`` events with the stream entry id, so a reconnecting browser resumes with
    ``Last-Event-ID``) and, between reads, the alerts index for analysts' changes
    (acknowledged, false positive...) sent as ``alert`` events too. A comment line goes
    out after every quiet block as a heartbeat.

    Parameters
    ----------
    request : Request
        The SSE request (polled for disconnection).
    services : Services
        Key names.
    client : redis.asyncio.Redis
        A connection of its own (it blocks in ``XREAD``).
    last_id : str, optional
        Stream id to resume after (default: only new entries).
    session_id : str, optional
        The dashboard session the stream belongs to: the stream ends when it does (sign
        out, expiry) without the stream itself keeping the session alive.
    """
    keys = services.keys
    cursor = last_id or "$"
    if cursor == "$":
        # resolve "$" now so nothing added between two reads is lost
        info = await client.xrevrange(keys.alerts, count=1)
        cursor = dec(info[0][0]) if info else "0-0"
    newest = await client.zrevrange(keys.alerts_index, 0, 0, withscores=True)
    index_mark = float(newest[0][1]) if newest else 0.0
    yield b"retry: 3000\n: connected\n\n"
    yield _sse("hello", {"at": time.time()})
    sessions = sessions_of(services)
    while True:
        if await request.is_disconnected():
            return
        if session_id is not None and not sessions.alive(session_id):
            yield _sse("signed-out", {})
            return
        reply = await client.xread({keys.alerts: cursor}, count=100, block=int(SSE_BLOCK_S * 1000))
        sent = set()
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                cursor = dec(entry_id)
                d = {dec(k): dec(v) for k, v in fields.items() if dec(k) != "alert"}
                if "risk" in d:
                    with contextlib.suppress(ValueError):
                        d["risk"] = float(d["risk"])
                d["source"] = "stream"
                sent.add(d.get("fingerprint"))
                yield _sse("alert", d, cursor)
        updated = await client.zrangebyscore(
            keys.alerts_index,
            f"({index_mark!r}",
            "+inf",
            start=0,
            num=SSE_MAX_UPDATES,
            withscores=True,
        )
        if updated:
            index_mark = max(float(s) for _fp, s in updated)
            fps = [dec(fp) for fp, _s in updated if dec(fp) not in sent]
            for d in await _alert_summaries(client, services, fps):
                d["source"] = "index"
                yield _sse("alert", d)
        if not reply and not updated:
            yield b": heartbeat\n\n"


@router.get("/events")
async def events(request: Request, _who: Reader, services: ServicesDep) -> Response:
    """Live alert updates as server-sent events (``text/event-stream``)."""
    import redis.asyncio as aredis

    last_id = request.headers.get("last-event-id") or None
    # a stream opened with the session cookie (not a token) lives as long as the session
    session_id = None if _presented_token(request) else request.cookies.get(SESSION_COOKIE)
    if last_id is not None and not _valid_stream_id(last_id):
        last_id = None
    # XREAD BLOCK needs a connection whose read timeout outlasts the block: the shared
    # gateway client times out in tens of milliseconds, so each stream opens its own
    kwargs = dict(services.aredis.connection_pool.connection_kwargs)
    kwargs.update(socket_timeout=SSE_BLOCK_S + 10.0, socket_connect_timeout=2.0)
    pool = aredis.ConnectionPool(
        connection_class=services.aredis.connection_pool.connection_class,
        max_connections=1,
        **kwargs,
    )
    client = aredis.Redis(connection_pool=pool)

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in alert_events(request, services, client, last_id, session_id):
                yield chunk
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis went away: tell the browser, it reconnects
            log.warning("live events stopped: %r", exc)
            yield _sse("error", {"detail": "live updates interrupted; reconnecting"})
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()
            with contextlib.suppress(Exception):
                await pool.aclose()

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _presented_token(request: Request) -> bool:
    return bool(request.headers.get("authorization") or request.headers.get("x-api-key"))


def _valid_stream_id(value: str) -> bool:
    ms, _, seq = value.partition("-")
    return ms.isdigit() and (seq == "" or seq.isdigit()) and len(value) <= 41


def _load_rules(services: Services, version: str) -> dict[str, Any]:
    from detector.rules import RuleSet, default_rules_dir

    directory = services.settings.rules_dir or default_rules_dir()
    try:
        rules = RuleSet.load(directory, run_tests=False).rules
    except Exception as exc:  # a broken rules file: ids only, the pages still work
        log.warning("dashboard cannot load rule titles: %s", exc)
        rules = ()
    doc = {
        "version": version,
        "rules": {
            r.id: {
                "title": r.title,
                "level": r.level,
                "action": r.action,
                "family": r.family,
                "status": r.status,
            }
            for r in rules
        },
    }
    services.extras["ui_rules"] = (version, doc)
    return doc


def _rules_catalogue(services: Services) -> dict[str, Any]:
    """Rule id -> title, level, action, family (cached; reloaded when the rules version moves)."""
    raw = services.redis.get(services.keys.rules_version)
    version = raw.decode() if isinstance(raw, bytes) else (raw or "")
    cached = services.extras.get("ui_rules")
    if cached is not None and cached[0] == version:
        return cached[1]
    return _load_rules(services, version)


@router.get("/api/rules")
def rules_json(_who: Reader, services: ServicesDep) -> Response:
    """Titles of the detection rules, so pages can name rules instead of showing ids."""
    return Response(
        orjson.dumps(_rules_catalogue(services)),
        media_type="application/json",
        headers={"Cache-Control": "private, max-age=60"},
    )


@router.get("/api/whoami")
async def whoami(who: Reader) -> JSONResponse:
    """Who the session (or token) belongs to."""
    return JSONResponse({"name": who.name, "role": who.role, "scopes": sorted(who.scopes)})


# -- wiring ------------------------------------------------------------------------------------
def on_app(app: FastAPI, services: Services) -> None:
    """Register the session store and serve the dashboard's own JS and CSS.

    Parameters
    ----------
    app : FastAPI
        The service app.
    services : Services
        Its shared state; ``extras["sessions"]`` receives the :class:`SessionStore`.
    """
    services.extras.setdefault("sessions", SessionStore())
    if services.settings.ui_enabled:
        app.mount("/ui/static", StaticFiles(directory=str(STATIC_DIR)), name="ui-static")
