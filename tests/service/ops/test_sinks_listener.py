"""``distillwatch sinks --metrics-port``: a real sinks process delivering to a real HTTP
receiver, scraped over HTTP; its Redis is stopped halfway to check ``/readyz``."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from service.stream.local_redis import free_port, stop_process
from tests.service.conftest import RedisServer
from tests.service.ops.procs import (
    PROMTOOL,
    clean_env,
    get,
    promtool_check,
    start_cli,
    value,
    wait_for,
)
from tests.service.sinks.helpers import PREFIX, Receiver, fire

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def server(tmp_path: Path) -> Any:
    """A redis-server of this test alone (it is stopped during the test)."""
    (tmp_path / "redis-data").mkdir()
    srv = RedisServer(tmp_path / "redis-data").start()
    yield srv
    srv.stop()


def test_sinks_metrics_health_and_readiness(server: RedisServer, tmp_path: Path) -> None:
    client = server.client()
    fire(client, "acct-a")
    fire(client, "acct-b")
    receiver = Receiver().start()
    port = free_port()
    env = clean_env(
        DISTILLWATCH_KEY_PREFIX=PREFIX,
        DISTILLWATCH_WEBHOOK_SECRET="k",
        DISTILLWATCH_BLOCK_MS="50",
        DISTILLWATCH_SINK_BACKOFF_S="0.02",
        DISTILLWATCH_LOG_FORMAT="json",  # from the environment this time
    )
    log = tmp_path / "sinks.log"
    args = ["sinks", "--redis-url", server.url, "--webhook-url", receiver.url, "--from-start"]
    args += ["--metrics-port", str(port), "--stop-after", "120"]
    proc = start_cli(args, env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        text = wait_for(
            lambda: (
                (t := get(f"{base}/metrics").text)
                and value(
                    t, "distillwatch_sink_deliveries_total", sink="webhook", outcome="delivered"
                )
                == 2  # counted per alert
                and value(t, "distillwatch_redis_up") == 1
                and t
            ),
            60,
            "the sinks deliver the batch and report it",
        )
        assert sum(len(r.json()["alerts"]) for r in receiver.ok()) == 2
        assert value(text, "distillwatch_alert_transitions_total", status="firing") == 2
        assert value(text, "distillwatch_sink_delivery_duration_seconds_count", sink="webhook") == 1
        # the sinks registry holds the sinks' metrics, not the HTTP service's
        assert "distillwatch_http_request_duration_seconds" not in text
        assert "distillwatch_worker_events_total" not in text
        if PROMTOOL is not None:
            lint = promtool_check(text)
            assert lint.returncode == 0, lint.stdout + lint.stderr
            assert not (lint.stdout + lint.stderr).strip(), lint.stdout + lint.stderr

        assert get(f"{base}/healthz").json() == {"status": "ok", "role": "sinks"}
        ready = get(f"{base}/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"redis": "ok"}

        client.close()
        server.stop()
        ready = wait_for(
            lambda: (r := get(f"{base}/readyz")).status_code == 503 and r,
            15,
            "/readyz answers 503 once Redis is gone",
        )
        assert "unreachable" in ready.json()["checks"]["redis"]
        wait_for(
            lambda: value(get(f"{base}/metrics").text, "distillwatch_redis_up") == 0,
            20,
            "distillwatch_redis_up of the sinks drops to 0",
        )
        assert get(f"{base}/healthz").status_code == 200  # the event loop still turns

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        stop_process(proc)
        receiver.stop()
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    docs = [json.loads(line) for line in lines]
    assert all({"ts", "level", "logger", "msg"} <= set(d) for d in docs), docs
    assert any(d["msg"].startswith("sinks webhook on") for d in docs)
    assert any(d["msg"].startswith("sinks stopped") for d in docs)
