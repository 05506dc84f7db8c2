"""Dashboard sessions in Redis: one session across ``distillwatch serve`` processes.

The store alone runs on the session's real redis-server with a fake clock; the replica
tests start real ``serve`` subprocesses (helpers of
``tests/service/api/test_ratelimit_replicas.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service.api.auth import Principal
from service.redis_keys import Keys
from service.ui.session import RedisSessionStore
from tests.service.api.test_ratelimit_replicas import (
    TOKENS,
    Serve,
    serve_env,
    serving,
)

pytestmark = pytest.mark.redis


@pytest.fixture
def rc(redis_server) -> Iterator[Any]:
    """A client on the session's Redis (no FLUSHALL: other modules' state lives there)."""
    client = redis_server.client()
    yield client
    client.close()


CSRF = {"X-Requested-With": "distillwatch"}
ALICE = Principal("alice", "analyst")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fresh_prefix(redis_server, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty key prefix of this test's own, removed afterwards."""
    prefix = "sr" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:10]
    client = redis_server.client()
    yield prefix
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


def _store(rc, prefix: str, clock: Clock, **kw) -> RedisSessionStore:
    return RedisSessionStore(rc, Keys(prefix), clock=clock, **kw)


# -- the store alone ------------------------------------------------------------------------
def test_session_hash_is_keyed_by_a_digest(rc, fresh_prefix) -> None:
    store = _store(rc, fresh_prefix, Clock(), idle_s=600, lifetime_s=3600)
    s = store.create(ALICE)
    keys = [k.decode() for k in rc.scan_iter(f"{fresh_prefix}:session:*")]
    digest = hashlib.sha256(s.sid.encode()).hexdigest()
    assert keys == [f"{fresh_prefix}:session:{digest}"]
    assert all(s.sid not in k for k in keys)  # never the cookie value itself
    fields = {k.decode(): v.decode() for k, v in rc.hgetall(keys[0]).items()}
    assert set(fields) == {"name", "role", "csrf", "created", "last_seen"}
    assert fields["name"] == "alice" and fields["role"] == "analyst"
    assert 595 <= rc.ttl(keys[0]) <= 600  # EXPIRE = idle timeout
    assert len(store) == 1
    # a second store (another process) sees the same session and its form token
    other = _store(rc, fresh_prefix, Clock(), idle_s=600, lifetime_s=3600)
    assert other.lookup(s.sid) == ALICE
    assert other.check_csrf(s.sid, s.csrf) and not other.check_csrf(s.sid, "nope")
    assert other.revoke(s.sid) and not other.revoke(s.sid)
    assert store.lookup(s.sid) is None and store.lookup(None) is None


def test_idle_timer_slides_at_most_every_touch(rc, fresh_prefix) -> None:
    clock = Clock()
    store = _store(rc, fresh_prefix, clock, idle_s=60, lifetime_s=300, touch_s=20)
    s = store.create(ALICE)
    key = Keys(fresh_prefix).session(hashlib.sha256(s.sid.encode()).hexdigest())
    created = rc.hget(key, "last_seen")
    clock.now += 10
    assert store.lookup(s.sid) == ALICE
    assert rc.hget(key, "last_seen") == created  # within touch_s: no write
    clock.now += 15
    assert store.lookup(s.sid) == ALICE
    assert float(rc.hget(key, "last_seen")) == clock.now  # slid forward
    assert store.alive(s.sid)
    clock.now += 59
    assert store.alive(s.sid)  # alive() is not activity ...
    assert float(rc.hget(key, "last_seen")) == clock.now - 59
    clock.now += 2
    assert store.lookup(s.sid) is None  # ... so the session is idle past 60 s now
    assert rc.exists(key) == 0


def test_absolute_lifetime_despite_activity(rc, fresh_prefix) -> None:
    clock = Clock()
    store = _store(rc, fresh_prefix, clock, idle_s=60, lifetime_s=300, touch_s=5)
    s = store.create(ALICE)
    for _ in range(5):
        clock.now += 50
        assert store.lookup(s.sid) == ALICE
    key = Keys(fresh_prefix).session(hashlib.sha256(s.sid.encode()).hexdigest())
    assert rc.ttl(key) <= 50  # the EXPIRE never outlives the lifetime
    clock.now += 51
    assert store.lookup(s.sid) is None


def test_sessions_of_removed_tokens_end(rc, fresh_prefix) -> None:
    clock = Clock()
    before = _store(rc, fresh_prefix, clock, known=[ALICE])
    s = before.create(ALICE)
    # a process whose configuration no longer has alice (or gives her another role)
    after = _store(rc, fresh_prefix, clock, known=[Principal("alice", "admin")])
    assert after.lookup(s.sid) is None
    assert before.lookup(s.sid) is None  # ended for every process


def test_redis_down_means_signed_out(fresh_prefix) -> None:
    import redis

    from service.stream.local_redis import free_port

    dead = redis.Redis(port=free_port(), socket_timeout=0.2, socket_connect_timeout=0.2)
    store = RedisSessionStore(dead, Keys(fresh_prefix))
    assert store.lookup("x" * 43) is None
    assert not store.alive("x" * 43)
    with pytest.raises(redis.RedisError):
        store.create(ALICE)


# -- two serve processes --------------------------------------------------------------------
@pytest.fixture
def pair(redis_server, fresh_prefix, tmp_path) -> Iterator[list[Serve]]:
    with serving(serve_env(redis_server.url, fresh_prefix), tmp_path) as procs:
        yield procs


def _sign_in(serve: Serve) -> str:
    r = httpx.post(
        f"{serve.url}/ui/login",
        data={"token": TOKENS["an-1"][1], "next": "/ui/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    sid = r.cookies.get("dw_session")
    assert sid
    return sid


def test_sign_in_on_a_works_on_b_and_logout_on_b_ends_it_on_a(pair) -> None:
    a, b = pair
    sid = _sign_in(a)
    cookie = {"dw_session": sid}
    for serve in (a, b):
        with httpx.Client(base_url=serve.url, cookies=cookie, follow_redirects=False) as c:
            who = c.get("/ui/api/whoami")
            assert who.status_code == 200, serve.url
            assert who.json()["name"] == "an-1"
            assert c.get("/ui/").status_code == 200
            assert c.get("/v1/alerts", params={"limit": 1}).status_code == 200
    with httpx.Client(base_url=b.url, cookies=cookie, follow_redirects=False) as c:
        assert c.post("/ui/logout").status_code == 403  # CSRF rule unchanged
        assert c.post("/ui/logout", headers=CSRF).status_code == 303
    for serve in (a, b):
        with httpx.Client(base_url=serve.url, cookies=cookie, follow_redirects=False) as c:
            assert c.get("/ui/api/whoami").status_code == 401, serve.url
            r = c.get("/ui/")
            assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")


def test_a_token_removed_from_the_config_ends_its_sessions(
    pair, redis_server, fresh_prefix, tmp_path
) -> None:
    a, _b = pair
    sid = _sign_in(a)
    env = serve_env(redis_server.url, fresh_prefix)
    tokens = [t for t in json.loads(env["DISTILLWATCH_API_TOKENS"]) if t["name"] != "an-1"]
    env["DISTILLWATCH_API_TOKENS"] = json.dumps(tokens)
    with serving(env, tmp_path, count=1) as (c,):
        r = httpx.get(f"{c.url}/ui/api/whoami", cookies={"dw_session": sid})
        assert r.status_code == 401
    # the process that still knows the token sees the session gone too
    r = httpx.get(f"{a.url}/ui/api/whoami", cookies={"dw_session": sid})
    assert r.status_code == 401
