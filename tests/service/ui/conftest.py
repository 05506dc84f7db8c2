"""Fixtures of the dashboard tests: the replayed sample state and a live uvicorn server.

``ui_populated`` replays ``sample_logs/openai-2d.jsonl.gz`` through the real ingest,
worker and scorer (:func:`tests.service.api.conftest.replay`) into a key prefix of its
own (``ui``), so the triage these tests do never changes the state the API tests read.
``live_server`` runs the real app under uvicorn in a background thread on a free
127.0.0.1 port so that a real browser can use it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from service.stream.local_redis import free_port
from tests.service.api.conftest import Populated, populate, service_settings
from tests.service.conftest import RedisServer

UI_PREFIX = "ui"


@pytest.fixture(scope="session")
def ui_populated(redis_server: RedisServer) -> Populated:
    """The sample logs replayed into prefix ``ui`` of the session's Redis (once)."""
    return populate(redis_server, UI_PREFIX)


@dataclass
class LiveServer:
    """A uvicorn server running an app in a thread."""

    url: str
    server: Any
    thread: threading.Thread
    app: Any

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def start_server(app: Any) -> LiveServer:
    """Serve ``app`` on a free 127.0.0.1 port in a daemon thread (returns once it listens)."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-ui-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return LiveServer(f"http://127.0.0.1:{port}", server, thread, app)


def stop_server(live: LiveServer) -> None:
    """Ask the server to exit and wait for its thread."""
    live.server.should_exit = True
    live.thread.join(10)
    if live.thread.is_alive():  # open event streams: force
        live.server.force_exit = True
        live.thread.join(5)


@pytest.fixture(scope="module")
def live_server(ui_populated: Populated) -> Iterator[LiveServer]:
    """The service on the replayed sample state, served by uvicorn in a thread."""
    from service.api.app import create_app

    app = create_app(service_settings(ui_populated.server.url, prefix=UI_PREFIX))
    live = start_server(app)
    yield live
    with contextlib.suppress(Exception):
        stop_server(live)
