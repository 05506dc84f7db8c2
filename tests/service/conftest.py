"""Fixtures for the streaming tests: a private ``redis-server`` on a free port.

Never the shared Redis on 6379: each session starts its own server in a temp dir
(``--save "" --appendonly no``); tests that need persistence start an AOF one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.stream import local_redis

redis = pytest.importorskip("redis")

__all__ = ["RedisServer"]


class RedisServer(local_redis.RedisServer):
    """:class:`service.stream.local_redis.RedisServer` that skips the test when there is
    no ``redis-server`` on PATH."""

    def start(self) -> RedisServer:
        try:
            super().start()
        except local_redis.RedisNotInstalled:
            pytest.skip("redis-server is not on PATH")
        return self


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One throw-away Redis (no persistence) for the whole session."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def rclient(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client on the session's Redis, emptied before each test."""
    client = redis_server.client()
    client.flushall()
    client.script_flush()
    yield client
    client.close()


@pytest.fixture
def aof_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis with the append-only file on (fsync always), for restart tests."""
    server = RedisServer(tmp_path, aof=True).start()
    yield server
    server.stop()
