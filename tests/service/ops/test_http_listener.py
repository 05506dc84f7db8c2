"""The ops listener on its own: routes, liveness and readiness answers, clean stop."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from service.ops.http_listener import OpsListener, redis_ping_check
from service.stream.local_redis import free_port


def test_routes_and_answers() -> None:
    registry = CollectorRegistry()
    hits = Counter("distillwatch_test_hits_total", "Test.", registry=registry)
    hits.inc(3)
    state = {"alive": True, "ready": {"redis": "ok"}}
    listener = OpsListener(
        registry,
        alive=lambda: state["alive"],
        ready=lambda: state["ready"],
        role="worker",
    ).start()
    try:
        base = listener.url
        m = httpx.get(f"{base}/metrics", timeout=5)
        assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
        assert "distillwatch_test_hits_total 3.0" in m.text
        assert httpx.get(f"{base}/healthz", timeout=5).json() == {"status": "ok", "role": "worker"}
        r = httpx.get(f"{base}/readyz", timeout=5)
        assert r.status_code == 200 and r.json()["status"] == "ready"

        state["alive"] = False
        state["ready"] = {"redis": "unreachable (down)"}
        h = httpx.get(f"{base}/healthz", timeout=5)
        assert h.status_code == 503 and h.json()["status"] == "stalled"
        r = httpx.get(f"{base}/readyz", timeout=5)
        assert r.status_code == 503
        assert r.json() == {
            "status": "not ready",
            "role": "worker",
            "checks": {"redis": "unreachable (down)"},
        }
        assert httpx.get(f"{base}/other", timeout=5).status_code == 404
    finally:
        listener.stop()
    listener.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/healthz", timeout=2)


def test_a_failing_probe_is_not_ready() -> None:
    def broken() -> dict[str, str]:
        raise RuntimeError("probe bug")

    with OpsListener(CollectorRegistry(), ready=broken, alive=broken) as listener:
        r = httpx.get(f"{listener.url}/readyz", timeout=5)
        assert r.status_code == 503 and "probe bug" in r.json()["checks"]["probe"]
        assert httpx.get(f"{listener.url}/healthz", timeout=5).status_code == 503


def test_port_in_use_is_an_error() -> None:
    with OpsListener(CollectorRegistry()) as first, pytest.raises(OSError):
        OpsListener(CollectorRegistry(), port=first.port).start()


def test_redis_ping_check_on_nothing_listening() -> None:
    check = redis_ping_check(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.5)
    assert check()["redis"].startswith("unreachable (")


@pytest.mark.redis
def test_redis_ping_check_ok(redis_server) -> None:
    assert redis_ping_check(redis_server.url)() == {"redis": "ok"}
