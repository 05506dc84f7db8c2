"""``distillwatch worker --metrics-port``: a real worker process, scraped over HTTP.

The worker runs as a subprocess against its own redis-server (stopped halfway to check
``/readyz`` and ``distillwatch_redis_up``), with events ingested the way
``distillwatch ingest`` does, plus one undecodable entry that must be dead-lettered.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from service.redis_keys import Keys
from service.settings import StreamSettings
from service.stream.ingest import Ingestor
from service.stream.layout import pipeline_stats
from service.stream.local_redis import free_port, stop_process
from tests.service.conftest import RedisServer
from tests.service.eventgen import make_events, write_jsonl
from tests.service.ops.procs import (
    PROMTOOL,
    clean_env,
    get,
    promtool_check,
    start_cli,
    value,
    wait_for,
)

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def server(tmp_path: Path) -> Any:
    """A redis-server of this test alone (it is stopped during the test)."""
    srv = RedisServer(tmp_path / "redis-data")
    (tmp_path / "redis-data").mkdir()
    srv.start()
    yield srv
    srv.stop()


def test_worker_metrics_health_and_readiness(server: RedisServer, tmp_path: Path) -> None:
    client = server.client()
    log_file = write_jsonl(make_events(n_normal=12, harvesters=1, hours=3), tmp_path / "l.jsonl")
    stats = Ingestor(client, StreamSettings(redis_url=server.url)).ingest_files([str(log_file)])
    assert stats.added > 100
    keys = Keys()
    # poison: dead-lettered at once
    client.xadd(keys.part(0).events, {"e": b"this is not an event"})

    port = free_port()
    env = clean_env(DISTILLWATCH_SCORE_DEBOUNCE_S="0", DISTILLWATCH_BLOCK_MS="100")
    log = tmp_path / "worker.log"
    args = ["worker", "--redis-url", server.url, "--metrics-port", str(port)]
    args += ["--exit-when-idle", "60", "--log-format", "json", "-v"]
    proc = start_cli(args, env, log)
    base = f"http://127.0.0.1:{port}"
    try:

        def scraped_all() -> str | None:
            text = get(f"{base}/metrics").text
            done = value(text, "distillwatch_worker_events_total") == stats.added
            scored = (value(text, "distillwatch_scorer_runs_total") or 0) >= 1
            return text if done and scored else None

        text = wait_for(scraped_all, 90, "worker counters reach the ingested events")
        assert value(text, "distillwatch_worker_deadlettered_total") == 1
        assert value(text, "distillwatch_worker_batches_total") >= 1
        assert value(text, "distillwatch_worker_errors_total") == 0
        assert value(text, "distillwatch_worker_reclaimed_total") == 0
        assert value(text, "distillwatch_redis_up") == 1
        assert value(text, "distillwatch_worker_batch_duration_seconds_count") >= 1
        assert value(text, "distillwatch_worker_last_batch_timestamp_seconds") > 1.7e9
        last_run = value(text, "distillwatch_scorer_last_run_timestamp_seconds")
        assert last_run is not None and last_run > 1.7e9
        # the same facts in the shared stats hash (what the service's collector exports)
        raw = pipeline_stats(client, keys)
        assert int(raw["processed"]) == stats.added
        assert int(raw["deadlettered"]) == 1
        assert float(raw["last_scored_at"]) > 1.7e9
        assert client.xlen(keys.part(0).deadletter) == 1

        if PROMTOOL is not None:
            lint = promtool_check(text)
            assert lint.returncode == 0, lint.stdout + lint.stderr
            assert not (lint.stdout + lint.stderr).strip(), lint.stdout + lint.stderr

        health = get(f"{base}/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        ready = get(f"{base}/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"redis": "ok"}
        assert get(f"{base}/nope").status_code == 404

        client.close()
        server.stop()
        ready = wait_for(
            lambda: (r := get(f"{base}/readyz")).status_code == 503 and r,
            15,
            "/readyz answers 503 once Redis is gone",
        )
        assert ready.json()["status"] == "not ready"
        assert "unreachable" in ready.json()["checks"]["redis"]
        wait_for(
            lambda: value(get(f"{base}/metrics").text, "distillwatch_redis_up") == 0,
            15,
            "distillwatch_redis_up drops to 0",
        )
        errors = value(get(f"{base}/metrics").text, "distillwatch_worker_errors_total")
        assert errors is not None and errors >= 1
        assert get(f"{base}/healthz").status_code == 200  # the loop still turns

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        stop_process(proc)
    out = log.read_text()
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines
    docs = [json.loads(line) for line in lines]  # every line is one JSON object
    for doc in docs:
        assert {"ts", "level", "logger", "msg"} <= set(doc), doc
        assert doc["ts"].endswith("Z") and "T" in doc["ts"]
    msgs = " ".join(d["msg"] for d in docs)
    assert "stopped" in msgs and "Redis unavailable" in msgs
    with pytest.raises(Exception):  # noqa: B017 - the listener closed with the process
        get(f"{base}/healthz", timeout=1.0)
