"""``--log-format json``: one JSON object per line, for our loggers and uvicorn's."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import signal
import sys
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import main
from service.ops.logging_setup import (
    JsonFormatter,
    configure_logging,
    uvicorn_log_config,
)
from service.stream.local_redis import free_port, stop_process
from tests.service.ops.procs import clean_env, get, start_cli, wait_for

KEYS = {"ts", "level", "logger", "msg"}


def record(name: str, level: int, msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            exc_info = sys.exc_info()
    return logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)


def test_json_lines_have_the_contract_keys() -> None:
    fmt = JsonFormatter()
    doc = json.loads(fmt.format(record("distillwatch.worker", logging.WARNING, "lag %d", 5)))
    assert set(doc) == KEYS
    assert doc["level"] == "warning" and doc["logger"] == "distillwatch.worker"
    assert doc["msg"] == "lag 5"
    assert doc["ts"].endswith("Z")
    parsed = datetime.fromisoformat(doc["ts"].replace("Z", "+00:00"))
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0

    with_exc = json.loads(fmt.format(record("x", logging.ERROR, "failed", exc=True)))
    assert set(with_exc) == KEYS | {"exc"}
    assert "RuntimeError: boom" in with_exc["exc"] and "\n" not in fmt.format(
        record("x", logging.ERROR, "failed", exc=True)
    )


def test_extra_attributes_never_reach_the_line() -> None:
    rec = record("distillwatch.ingest", logging.INFO, "ingested %d", 3)
    rec.prompt = "Think step by step: secret prompt text"  # what a careless caller might attach
    line = JsonFormatter().format(rec)
    assert "secret prompt" not in line and set(json.loads(line)) == KEYS


def test_configure_logging_replaces_its_own_handler(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        configure_logging("info", "text")
        configure_logging(logging.INFO, "json")
        ours = [h for h in root.handlers if h not in before]
        assert len(ours) == 1
        logging.getLogger("distillwatch.test").info("hello %s", "there")
        err = capsys.readouterr().err.strip().splitlines()
        assert json.loads(err[-1])["msg"] == "hello there"
        with pytest.raises(ValueError):
            configure_logging("info", "xml")
    finally:
        for h in [h for h in root.handlers if h not in before]:
            root.removeHandler(h)
        root.setLevel(level)


def test_uvicorn_config_formats_access_lines_as_json() -> None:
    cfg = uvicorn_log_config("json", "info")
    logging.config.dictConfig(cfg)
    handler = logging.getLogger("uvicorn.access").handlers[0]
    stream = io.StringIO()
    try:
        old_stderr, sys.stderr = sys.stderr, stream
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/healthz", "1.1", 200
        )
    finally:
        sys.stderr = old_stderr
        for name in ("uvicorn", "uvicorn.access"):
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True
    assert handler.formatter is not None
    doc = json.loads(stream.getvalue().strip())
    assert set(doc) >= KEYS
    assert (doc["method"], doc["path"], doc["status"]) == ("GET", "/healthz", 200)


def test_log_format_option_on_every_long_running_command() -> None:
    runner = CliRunner()
    for cmd in ("serve", "worker", "sinks", "ingest"):
        out = runner.invoke(main, [cmd, "--help"]).output
        assert "--log-format [text|json]" in out, cmd
    bad = runner.invoke(main, ["worker", "--log-format", "xml"])
    assert bad.exit_code != 0 and "xml" in bad.output


@pytest.mark.redis
@pytest.mark.slow
def test_serve_logs_json_including_uvicorn(redis_server, tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(DISTILLWATCH_AUTH_DISABLED="true", DISTILLWATCH_UI_ENABLED="false")
    log = tmp_path / "serve.log"
    args = ["serve", "--port", str(port), "--redis-url", redis_server.url]
    args += ["--log-format", "json", "--access-log"]
    proc = start_cli(args, env, log)
    try:
        wait_for(
            lambda: get(f"http://127.0.0.1:{port}/healthz").status_code == 200,
            60,
            "distillwatch serve answers /healthz",
        )
        get(f"http://127.0.0.1:{port}/readyz")
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    finally:
        stop_process(proc)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    docs = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(set(d) >= KEYS for d in docs), docs
    loggers = {d["logger"] for d in docs}
    assert {"uvicorn.error", "uvicorn.access", "distillwatch.lifecycle"} <= loggers, loggers
    access = [d for d in docs if d["logger"] == "uvicorn.access"]
    assert {(d["method"], d["path"]) for d in access} >= {("GET", "/healthz"), ("GET", "/readyz")}


@pytest.mark.redis
def test_ingest_follow_reports_progress_as_json(redis_server, rclient, tmp_path: Path) -> None:
    src = tmp_path / "tail.jsonl"
    src.write_text(
        '{"ts": 1735689600, "request_id": "r1", "account_id": "a", "model": "m"}\n'
        '{"ts": "no", "request_id": "r2", "account_id": "a"}\n'
    )
    log = tmp_path / "ingest.log"
    args = ["ingest", str(src), "--follow", "--poll", "0.1", "--redis-url", redis_server.url]
    args += ["--log-format", "json"]
    proc = start_cli(args, clean_env(), log)
    try:
        wait_for(lambda: "progress" in log.read_text(), 60, "ingest --follow reports progress")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        stop_process(proc)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    progress = [json.loads(line) for line in lines if line.startswith("{")]
    assert progress and all(set(d) >= KEYS for d in progress)
    assert any("added 1" in d["msg"] and "quarantined 1" in d["msg"] for d in progress)
    assert rclient.xlen("dw:{p0}:events") == 1
