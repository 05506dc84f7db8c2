"""``promtool check metrics`` on what distillwatch really exposes.

The service runs as ``distillwatch serve`` in a subprocess on a free loopback port with a
private ``redis-server``; after gateway, ingest and probe requests its ``GET /metrics``
body is linted by Debian's promtool; so are the ``/metrics`` of ``distillwatch worker``
(after folding events), ``distillwatch sinks`` and ``distillwatch scorer``, scraped from
their ``--metrics-port`` listeners.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from service.stream import local_redis

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
LITELLM = ROOT / "tests" / "fixtures" / "litellm" / "logging"
PROMTOOL = "/usr/bin/promtool"
PREFIX = "expo"

#: promtool lint findings we accept, with the reason; none today.
ACCEPTED_LINT: tuple[str, ...] = ()


def _promtool() -> str:
    found = PROMTOOL if Path(PROMTOOL).exists() else shutil.which("promtool")
    if not found:
        pytest.skip("promtool not installed (apt install prometheus)")
    return found


def check_metrics(body: str) -> tuple[int, list[str]]:
    """Run ``promtool check metrics`` on an exposition body.

    Returns
    -------
    tuple
        Exit code and the lint lines promtool printed (minus the accepted ones).
    """
    proc = subprocess.run(
        [_promtool(), "check", "metrics"],
        input=body,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if line.strip() and not any(ok in line for ok in ACCEPTED_LINT)
    ]
    return proc.returncode, lines


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = local_redis.RedisServer(tmp_path_factory.mktemp("redis-expo"))
    try:
        server.start()
    except local_redis.RedisNotInstalled:
        pytest.skip("redis-server is not on PATH")
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def running(
    command: list[str], env_extra: dict[str, str], port: int, logdir: Path
) -> Iterator[str]:
    """Run ``distillwatch <command>`` with a clean ``DISTILLWATCH_*`` environment plus
    ``env_extra`` until it answers ``/healthz`` on ``port`` (60 s at most); yields the
    base URL and stops the process afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTILLWATCH_")}
    env.update(env_extra)
    log_path = logdir / f"{command[0]}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from service.cli import main; main()", *command],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    pytest.fail(
                        f"distillwatch {command[0]} exited with {proc.returncode}: "
                        + log_path.read_text(errors="replace")[-2000:]
                    )
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"distillwatch {command[0]} did not answer /healthz in 60 s")
                time.sleep(0.2)
            yield base
        finally:
            local_redis.stop_process(proc)


@pytest.fixture(scope="module")
def service(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``distillwatch serve`` on a free port (auth off); yields its base URL."""
    port = local_redis.free_port()
    env = {
        "DISTILLWATCH_REDIS_URL": redis_url,
        "DISTILLWATCH_KEY_PREFIX": PREFIX,
        "DISTILLWATCH_AUTH_DISABLED": "true",
        "DISTILLWATCH_HOST": "127.0.0.1",
        "DISTILLWATCH_PORT": str(port),
        "DISTILLWATCH_REDIS_TIMEOUT_S": "0.5",
    }
    with running(["serve"], env, port, tmp_path_factory.mktemp("serve")) as base:
        yield base


def _traffic(base: str) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        for path in sorted(LITELLM.glob("*.json"))[:3]:
            r = client.post(
                "/v1/events",
                content=path.read_bytes(),
                headers={"content-type": "application/json"},
            )
            assert r.status_code == 200, r.text
        bad = client.post(
            "/v1/events",
            content=b'{"not": "a log record"}\n[1, 2',
            headers={"content-type": "application/json"},
        )
        assert bad.status_code in (200, 400, 422), bad.text
        assert client.post("/v1/score", json={"account_id": "acct-expo"}).status_code == 200
        check = client.get("/v1/check", headers={"x-distillwatch-account": "acct-expo"})
        assert check.status_code in (200, 403)
        assert client.get("/v1/nope").status_code == 404
        client.get("/readyz")


def _scrape_when_refreshed(base: str, timeout_s: float = 30.0) -> str:
    """/metrics once the background task (every 5 s) has read the traffic's pipeline
    counters from Redis."""
    pattern = re.compile(r"^distillwatch_pipeline_ingested_events_total ([0-9.e+]+)$", re.M)
    deadline = time.monotonic() + timeout_s
    while True:
        body = httpx.get(f"{base}/metrics", timeout=5).text
        found = pattern.search(body)
        if found and float(found.group(1)) > 0:
            return body
        if time.monotonic() > deadline:
            pytest.fail("the ingested events never showed in distillwatch_pipeline_* counters")
        time.sleep(0.5)


def test_service_metrics_pass_promtool(service: str) -> None:
    _traffic(service)
    body = _scrape_when_refreshed(service)
    # the scrape is real: the traffic above shows in it
    assert 'distillwatch_decisions_total{action="allow",endpoint="score"}' in body
    assert 'route="/v1/score"' in body
    assert "distillwatch_redis_up 1.0" in body
    assert re.search(
        r'^distillwatch_pipeline_quarantined_events_total\{reason="\w+"\} [1-9]', body, re.M
    )
    code, problems = check_metrics(body)
    assert code == 0, problems
    assert problems == []


def test_promtool_check_metrics_can_fail() -> None:
    """The lint is not a no-op: a counter without ``_total`` is reported."""
    code, problems = check_metrics(
        "# HELP demo_requests Requests.\n# TYPE demo_requests counter\ndemo_requests 1\n"
    )
    assert code != 0 and any("_total" in line for line in problems)


def _scrape_until(base: str, pattern: str, timeout_s: float = 30.0) -> str:
    """/metrics once ``pattern`` (a regex, multiline) matches it."""
    deadline = time.monotonic() + timeout_s
    while True:
        body = httpx.get(f"{base}/metrics", timeout=5).text
        if re.search(pattern, body, re.M):
            return body
        if time.monotonic() > deadline:
            pytest.fail(f"/metrics of {base} never matched {pattern!r}:\n{body[-2000:]}")
        time.sleep(0.5)


def test_worker_metrics_pass_promtool(redis_url: str, tmp_path: Path) -> None:
    """``distillwatch worker --metrics-port``, after folding a few events."""
    env = {"DISTILLWATCH_REDIS_URL": redis_url, "DISTILLWATCH_KEY_PREFIX": "expo-worker"}
    ingest = subprocess.run(
        [
            sys.executable,
            "-c",
            "from service.cli import main; main()",
            "ingest",
            *map(str, sorted(LITELLM.glob("*.json"))[:2]),
        ],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("DISTILLWATCH_")}, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    port = local_redis.free_port()
    command = ["worker", "--metrics-port", str(port), "--metrics-host", "127.0.0.1"]
    with running(command, env, port, tmp_path) as base:
        body = _scrape_until(base, r"^distillwatch_worker_events_total [1-9]")
    assert "distillwatch_worker_batch_duration_seconds_bucket" in body
    assert "distillwatch_redis_up 1.0" in body
    code, problems = check_metrics(body)
    assert code == 0, problems
    assert problems == []


def test_sinks_metrics_pass_promtool(redis_url: str, tmp_path: Path) -> None:
    """``distillwatch sinks --metrics-port`` (a webhook URL nobody listens on: no alert
    is on the stream, so nothing is sent)."""
    hook = f"http://127.0.0.1:{local_redis.free_port()}/hook"
    env = {
        "DISTILLWATCH_REDIS_URL": redis_url,
        "DISTILLWATCH_KEY_PREFIX": "expo-sinks",
        "DISTILLWATCH_WEBHOOK_URL": hook,
    }
    port = local_redis.free_port()
    command = ["sinks", "--metrics-port", str(port), "--metrics-host", "127.0.0.1"]
    with running(command, env, port, tmp_path) as base:
        body = _scrape_until(base, r"^distillwatch_redis_up 1\.0")
    code, problems = check_metrics(body)
    assert code == 0, problems
    assert problems == []


def test_scorer_metrics_pass_promtool(redis_url: str, tmp_path: Path) -> None:
    """``distillwatch scorer --metrics-port`` (the population job) once it holds the lease."""
    env = {"DISTILLWATCH_REDIS_URL": redis_url, "DISTILLWATCH_KEY_PREFIX": "expo-scorer"}
    port = local_redis.free_port()
    command = ["scorer", "--metrics-port", str(port), "--metrics-host", "127.0.0.1"]
    with running(command, env, port, tmp_path) as base:
        body = _scrape_until(base, r"^distillwatch_population_leader 1\.0")
    assert "distillwatch_population_refresh_total" in body
    assert "distillwatch_population_last_refresh_timestamp_seconds" in body
    assert "distillwatch_redis_up 1.0" in body
    code, problems = check_metrics(body)
    assert code == 0, problems
    assert problems == []
