"""``distillwatch sinks``: refuses to start without a sink, delivers with one."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from service.cli import main
from tests.service.sinks.helpers import PREFIX, Receiver, fire

pytestmark = pytest.mark.redis


def test_no_sink_configured(redis_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISTILLWATCH_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("DISTILLWATCH_ALERTMANAGER_URL", raising=False)
    result = CliRunner().invoke(main, ["sinks", "--redis-url", redis_server.url])
    assert result.exit_code != 0
    assert "no sink configured" in result.output


def test_delivers_and_stops(
    redis_server: Any, rclient: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver().start()
    monkeypatch.setenv("DISTILLWATCH_KEY_PREFIX", PREFIX)
    monkeypatch.setenv("DISTILLWATCH_WEBHOOK_SECRET", "k")
    monkeypatch.setenv("DISTILLWATCH_BLOCK_MS", "50")
    fire(rclient, "acct-cli")
    try:
        result = CliRunner().invoke(
            main,
            [
                "sinks",
                "--redis-url",
                redis_server.url,
                "--webhook-url",
                receiver.url,
                "--from-start",
                "--stop-after",
                "1.0",
            ],
            catch_exceptions=False,
        )
    finally:
        receiver.stop()
    assert result.exit_code == 0, result.output
    assert "sinks webhook on" in result.output and "'delivered': 1" in result.output
    assert len(receiver.ok()) == 1
