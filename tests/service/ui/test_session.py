"""Dashboard sign-in, sessions and CSRF, without a browser (TestClient and httpx)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.api.auth import Principal
from service.ui.session import SessionStore
from tests.service.api.conftest import TOKENS, Populated, auth, service_settings
from tests.service.ui.conftest import UI_PREFIX, LiveServer

CSRF = {"X-Requested-With": "distillwatch"}


# -- the store alone ------------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_store_lookup_and_revoke() -> None:
    store = SessionStore()
    who = Principal("alice", "analyst")
    s = store.create(who)
    assert len(s.sid) >= 40
    assert store.lookup(s.sid) == who
    assert store.lookup("nope") is None
    assert store.lookup(None) is None
    assert store.check_csrf(s.sid, s.csrf)
    assert not store.check_csrf(s.sid, "wrong")
    assert store.revoke(s.sid)
    assert store.lookup(s.sid) is None
    assert not store.revoke(s.sid)


def test_store_idle_and_absolute_expiry() -> None:
    clock = FakeClock()
    store = SessionStore(idle_s=60, lifetime_s=300, clock=clock)
    s = store.create(Principal("a", "analyst"))
    clock.now += 59
    assert store.lookup(s.sid) is not None  # refreshes the idle timer
    clock.now += 59
    assert store.lookup(s.sid) is not None
    clock.now += 61
    assert store.lookup(s.sid) is None  # idle too long
    s = store.create(Principal("a", "analyst"))
    for _ in range(7):
        clock.now += 50
        store.lookup(s.sid)
    assert store.lookup(s.sid) is None  # over the absolute lifetime despite activity


def test_store_is_bounded() -> None:
    store = SessionStore(max_sessions=3)
    first = store.create(Principal("a", "analyst"))
    others = [store.create(Principal(f"u{i}", "analyst")) for i in range(3)]
    assert len(store) == 3
    assert store.lookup(first.sid) is None  # least recently used went first
    assert all(store.lookup(s.sid) is not None for s in others)


# -- the HTTP flow ------------------------------------------------------------------------------


@pytest.fixture
def ui(ui_populated: Populated) -> Iterator[TestClient]:
    """A TestClient (no redirects followed) on the replayed state."""
    app = create_app(service_settings(ui_populated.server.url, prefix=UI_PREFIX))
    with TestClient(app, follow_redirects=False) as client:
        yield client


def _login(client: TestClient, role: str = "analyst", **extra: Any) -> httpx.Response:
    return client.post(
        "/ui/login",
        data={"token": TOKENS[role], "next": extra.pop("next", "/ui/alerts")},
        **extra,
    )


def _open_alert(client: TestClient, status: str = "firing") -> str:
    r = client.get("/v1/alerts", params={"status": status, "limit": 100}, headers=auth("admin"))
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items, f"no {status} alert in the replayed state"
    return items[-1]["fingerprint"]


@pytest.mark.redis
def test_pages_redirect_to_login(ui: TestClient) -> None:
    for path in ("/ui/", "/ui/alerts", "/ui/accounts", "/ui/accounts/x", "/ui/clusters/c-1"):
        r = ui.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/ui/login?next=%2Fui%2F"), r.headers
    r = ui.get("/ui")
    assert r.status_code == 307 and r.headers["location"] == "/ui/"
    r = ui.get("/ui/login")
    assert r.status_code == 200
    assert 'name="token"' in r.text and "<label" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    # JSON and events need a session or a token
    assert ui.get("/ui/api/overview").status_code == 401
    assert ui.get("/ui/events").status_code == 401
    assert ui.get("/v1/alerts").status_code == 401


@pytest.mark.redis
def test_login_rejects_bad_tokens(ui: TestClient) -> None:
    r = ui.post("/ui/login", data={"token": "not-a-token", "next": "/ui/"})
    assert r.status_code == 401
    assert "not valid" in r.text
    assert "dw_session" not in r.headers.get("set-cookie", "")
    r = _login(ui, "gateway")
    assert r.status_code == 403
    assert "cannot open the dashboard" in r.text
    assert "dw_session" not in r.headers.get("set-cookie", "")
    r = ui.post("/ui/login", data={"next": "/ui/"})
    assert r.status_code == 401


@pytest.mark.redis
def test_login_sets_a_strict_httponly_cookie(ui: TestClient) -> None:
    r = _login(ui)
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/alerts"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("dw_session=")
    low = cookie.lower()
    assert "httponly" in low and "samesite=strict" in low and "path=/" in low
    assert TOKENS["analyst"] not in cookie
    r = ui.get("/ui/alerts")
    assert r.status_code == 200
    assert 'data-page="alerts"' in r.text and "test-analyst" in r.text
    assert ui.get("/ui/login").status_code == 303  # already signed in
    # the cookie authenticates the JSON APIs too
    assert ui.get("/v1/alerts").status_code == 200
    d = ui.get("/ui/api/overview").json()
    assert d["alerts"]["total"] > 0
    assert sum(b["count"] for b in d["risk"]["bins"]) == d["risk"]["scored"] > 0
    assert d["top_accounts"] and d["model"]["active"]
    gw = d["gateway"]  # this process's gateway answers: counters of its own registry
    assert {"decisions", "fail_mode_answers", "shed", "shed_total", "inflight"} <= set(gw)
    assert gw["shed_total"] == sum(gw["shed"].values())
    r = ui.post("/v1/score", json={"account_id": "nobody"}, headers=auth("gateway"))
    assert r.status_code == 200 and r.json()["action"] == "allow"
    again = ui.get("/ui/api/overview").json()["gateway"]
    assert again["decisions"].get("allow", 0) == gw["decisions"].get("allow", 0) + 1
    assert ui.get("/ui/api/whoami").json() == {
        "name": "test-analyst",
        "role": "analyst",
        "scopes": ["read", "triage"],
    }


@pytest.mark.redis
def test_login_refuses_open_redirects_and_cross_site_posts(ui: TestClient) -> None:
    for bad in ("//evil.example/x", "https://evil.example/", "/v1/alerts", "/ui/logout"):
        ui.cookies.clear()
        r = _login(ui, next=bad)
        assert r.status_code == 303
        assert r.headers["location"] == "/ui/", bad
    ui.cookies.clear()
    r = _login(ui, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert "dw_session" not in r.headers.get("set-cookie", "")
    r = _login(ui, headers={"Origin": "http://testserver"})
    assert r.status_code == 303


@pytest.mark.redis
def test_cookie_posts_need_the_csrf_header(ui: TestClient) -> None:
    fp = _open_alert(ui)
    assert _login(ui).status_code == 303
    r = ui.post(f"/v1/alerts/{fp}/notes", json={"note": "checking"})
    assert r.status_code == 403
    assert "X-Requested-With" in r.json()["detail"]
    r = ui.post(f"/v1/alerts/{fp}/notes", json={"note": "checking"}, headers=CSRF)
    assert r.status_code == 201, r.text
    assert r.json()["by"] == "test-analyst"
    # a bearer token is not subject to the header (no cookie involved)
    ui.cookies.clear()
    r = ui.post(f"/v1/alerts/{fp}/notes", json={"note": "via token"}, headers=auth("analyst"))
    assert r.status_code == 201


@pytest.mark.redis
def test_logout(ui: TestClient) -> None:
    assert _login(ui).status_code == 303
    sid = ui.cookies.get("dw_session")
    assert sid
    assert ui.post("/ui/logout").status_code == 403  # neither header nor form token
    assert ui.get("/ui/").status_code == 200
    r = ui.post("/ui/logout", headers=CSRF)
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"
    assert (
        'dw_session=""' in r.headers["set-cookie"] or "max-age=0" in r.headers["set-cookie"].lower()
    )
    # the old session id is dead even if a client kept it
    ui.cookies.set("dw_session", sid)
    assert ui.get("/ui/").status_code == 303
    assert ui.get("/v1/alerts").status_code == 401


@pytest.mark.redis
def test_logout_with_the_form_token(ui: TestClient) -> None:
    assert _login(ui).status_code == 303
    page = ui.get("/ui/").text
    marker = 'name="csrf" value="'
    csrf = page[page.index(marker) + len(marker) :].split('"', 1)[0]
    assert csrf
    assert ui.post("/ui/logout", data={"csrf": "wrong"}).status_code == 403
    r = ui.post("/ui/logout", data={"csrf": csrf})
    assert r.status_code == 303
    ui.cookies.clear()
    assert ui.get("/ui/").status_code == 303


@pytest.mark.redis
def test_static_assets_and_disabled_ui(ui_populated: Populated) -> None:
    app = create_app(service_settings(ui_populated.server.url, prefix=UI_PREFIX))
    with TestClient(app) as client:
        r = client.get("/ui/static/app.js")
        assert r.status_code == 200 and "EventSource" in r.text
        assert client.get("/ui/static/style.css").status_code == 200
        assert "http://" not in r.text.replace("http://www.w3.org/2000/svg", "")
    off = create_app(service_settings(ui_populated.server.url, prefix=UI_PREFIX, ui_enabled=False))
    with TestClient(off, follow_redirects=False) as client:
        assert client.get("/ui/").status_code == 404
        assert client.get("/ui/login").status_code == 404
        assert client.get("/ui/static/app.js").status_code == 404


# -- server-sent events over a real socket -------------------------------------------------------
def _events(lines: Iterator[str], want: str, deadline: float) -> dict[str, Any]:
    event = None
    for line in lines:
        if time.monotonic() > deadline:
            break
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == want:
            return json.loads(line[6:])
        elif not line:
            event = None
    raise AssertionError(f"no {want!r} event in time")


@pytest.mark.redis
def test_events_stream_alert_transitions(live_server: LiveServer, ui_populated: Populated) -> None:
    keys = ui_populated.scorer.keys
    client = ui_populated.client()
    with (
        httpx.Client(base_url=live_server.url, timeout=15) as http,
        http.stream("GET", "/ui/events", headers=auth("analyst")) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        _events(lines, "hello", time.monotonic() + 10)
        client.xadd(
            keys.alerts,
            {"fingerprint": "00000000000000ff", "status": "firing", "account_id": "sse-test"},
        )
        got = _events(lines, "alert", time.monotonic() + 10)
    client.close()
    assert got["fingerprint"] == "00000000000000ff"
    assert got["account_id"] == "sse-test" and got["status"] == "firing"


def _xread_clients(client: Any) -> int:
    return sum(1 for c in client.client_list() if c.get("cmd") == "xread")


@pytest.mark.redis
def test_events_stop_when_the_client_disconnects(
    live_server: LiveServer, ui_populated: Populated
) -> None:
    client = ui_populated.client()
    baseline = _xread_clients(client)
    with (
        httpx.Client(base_url=live_server.url, timeout=15) as http,
        http.stream("GET", "/ui/events", headers=auth("analyst")) as stream,
    ):
        lines = stream.iter_lines()  # keep a reference: closing it closes the response
        _events(lines, "hello", time.monotonic() + 10)
        deadline = time.monotonic() + 5
        while _xread_clients(client) <= baseline and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _xread_clients(client) == baseline + 1  # its own blocking connection
    # the browser went away: the generator ends and its Redis connection closes
    deadline = time.monotonic() + 15
    while _xread_clients(client) > baseline and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _xread_clients(client) == baseline
    client.close()


@pytest.mark.redis
def test_events_end_when_the_session_ends(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, timeout=15) as http:
        r = http.post("/ui/login", data={"token": TOKENS["analyst"], "next": "/ui/"})
        assert r.status_code == 303
        sid = http.cookies.get("dw_session")
        assert sid
        with http.stream("GET", "/ui/events") as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            _events(lines, "hello", time.monotonic() + 10)
            with httpx.Client(base_url=live_server.url, cookies={"dw_session": sid}) as other:
                assert other.post("/ui/logout", headers=CSRF).status_code == 303
            assert _events(lines, "signed-out", time.monotonic() + 12) == {}
