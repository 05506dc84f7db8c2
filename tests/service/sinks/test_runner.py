"""Runner: which sinks start, the service's background task, the blocking CLI entry."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from service.sinks.alertmanager import AlertmanagerSink
from service.sinks.runner import build_sinks, run_sinks, start_sinks
from service.sinks.webhook import WebhookSink
from tests.service.sinks.helpers import (
    Receiver,
    fire,
    pending,
    sink_settings,
    wait_for,
)

pytestmark = pytest.mark.redis


def test_build_sinks_only_configured(redis_server: Any) -> None:
    assert build_sinks(sink_settings(redis_server.url)) == []
    sinks = build_sinks(
        sink_settings(redis_server.url, webhook_url="http://127.0.0.1:1/h", webhook_secret="k")
    )
    assert [type(s) for s in sinks] == [WebhookSink]
    both = build_sinks(
        sink_settings(
            redis_server.url,
            webhook_url="http://127.0.0.1:1/h",
            alertmanager_url="http://127.0.0.1:2",
            sink_timeout_s=1.5,
        )
    )
    assert [s.name for s in both] == ["webhook", "alertmanager"]
    assert isinstance(both[1], AlertmanagerSink) and both[1].timeout_s == 1.5


def test_start_sinks_in_the_service_loop(redis_server: Any, rclient: Any) -> None:
    receiver = Receiver().start()

    async def lifespan(settings: Any) -> list[Any]:
        services = SimpleNamespace(settings=settings, extras={})
        tasks = start_sinks(services)
        if not tasks:
            return []
        await asyncio.to_thread(wait_for, lambda: services.extras["sinks"].consumers)
        await asyncio.sleep(0.2)  # the group exists ("$": alerts from now on)
        await asyncio.to_thread(fire, rclient, "acct-svc")
        await asyncio.to_thread(wait_for, lambda: len(receiver.ok()) == 1)
        for t in tasks:  # what the lifespan does on shutdown
            t.cancel()
        for t in tasks:
            with pytest.raises(asyncio.CancelledError):
                await t
        return tasks

    try:
        assert asyncio.run(lifespan(sink_settings(redis_server.url))) == []
        off = sink_settings(redis_server.url, webhook_url=receiver.url, sinks_in_service=False)
        assert asyncio.run(lifespan(off)) == []
        on = sink_settings(redis_server.url, webhook_url=receiver.url, webhook_secret="k")
        assert len(asyncio.run(lifespan(on))) == 1
    finally:
        receiver.stop()
    assert pending(rclient, "sink-webhook") == 0


def test_run_sinks_blocking(redis_server: Any, rclient: Any) -> None:
    receiver = Receiver().start()
    settings = sink_settings(redis_server.url, webhook_url=receiver.url, webhook_secret="k")
    fire(rclient, "acct-cli")
    out: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: out.update(
            run_sinks(settings, stop_after=1.0, start_id="0", install_signals=False)
        ),
        daemon=True,
    )
    try:
        thread.start()
        thread.join(10)
    finally:
        receiver.stop()
    assert not thread.is_alive()
    assert out["webhook"]["delivered"] == 1 and len(receiver.ok()) == 1


def test_run_sinks_needs_a_sink(redis_server: Any) -> None:
    with pytest.raises(ValueError, match="no sink configured"):
        run_sinks(sink_settings(redis_server.url), stop_after=0.1)
