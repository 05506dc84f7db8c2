"""A private ``redis-server`` on a free loopback port, for the demo, benchmarks and tests.

Never the shared Redis on 6379: the server runs in the given directory with no automatic
persistence (``--save ""``), or with the append-only file on (fsync always) when asked.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

__all__ = ["RedisNotInstalled", "RedisServer", "free_port", "stop_process"]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[Any] | None, kill: bool = False) -> None:
    """Stop a child process (``SIGTERM``, or ``SIGKILL`` with ``kill``), then kill it if it
    lingers more than 10 s; nothing when it is None or has exited."""
    if proc is None or proc.poll() is not None:
        return
    if kill:
        proc.kill()
    else:
        proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class RedisNotInstalled(RuntimeError):
    """There is no ``redis-server`` on PATH."""


class RedisServer:
    """A ``redis-server`` child process on a free port that can be stopped and restarted.

    Parameters
    ----------
    workdir : pathlib.Path
        Its ``--dir`` (an explicit ``SAVE`` writes ``dump.rdb`` there, loaded on restart).
    aof : bool
        Turn the append-only file on (fsync always) so state survives a restart.
    """

    def __init__(self, workdir: Path, aof: bool = False) -> None:
        self.workdir = workdir
        self.aof = aof
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start the server and wait (10 s at most) until it answers ``PING``.

        Raises
        ------
        RedisNotInstalled
            When ``redis-server`` is not on PATH.
        RuntimeError
            When it exits or does not answer in time.
        """
        import redis

        exe = shutil.which("redis-server")
        if exe is None:
            raise RedisNotInstalled("redis-server is not on PATH")
        args = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)]
        args += ["--save", "", "--daemonize", "no", "--protected-mode", "yes"]
        if self.aof:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except (redis.ConnectionError, redis.BusyLoadingError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.01)
        client.close()
        return self

    def stop(self, kill: bool = False) -> None:
        """Stop the server (``SIGTERM``, or ``SIGKILL`` with ``kill``), resuming it first
        when it was frozen with ``SIGSTOP``."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)  # a frozen server ignores SIGTERM
        stop_process(self.proc, kill=kill)
        self.proc = None

    def client(self) -> Any:
        """A new ``redis.Redis`` client on the server."""
        import redis

        return redis.Redis.from_url(self.url)
