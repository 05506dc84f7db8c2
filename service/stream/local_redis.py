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

__all__ = ["RedisClusterServer", "RedisNotInstalled", "RedisServer", "free_port", "stop_process"]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is valid and free as well."""
    for _ in range(200):
        port = free_port()
        if port + 10_000 > 65_535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


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

    def __init__(
        self, workdir: Path, aof: bool = False, extra_args: list[str] | None = None
    ) -> None:
        self.workdir = workdir
        self.aof = aof
        self.extra_args = list(extra_args or [])
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
        args += self.extra_args
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


class RedisClusterServer:
    """A Redis Cluster of ``nodes`` primaries on loopback (no replicas), each a
    ``redis-server`` child process in its own folder of ``workdir``, joined with
    ``redis-cli --cluster create``.

    Parameters
    ----------
    workdir : pathlib.Path
        Parent folder of the nodes' folders.
    nodes : int
        Primaries (at least 3, as ``redis-cli --cluster create`` requires).
    """

    def __init__(self, workdir: Path, nodes: int = 3) -> None:
        self.workdir = workdir
        self.nodes: list[RedisServer] = []
        for i in range(nodes):
            folder = workdir / f"node{i}"
            folder.mkdir(parents=True, exist_ok=True)
            args = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
            args += ["--cluster-node-timeout", "2000"]
            node = RedisServer(folder, extra_args=args)
            node.port = free_cluster_port()
            self.nodes.append(node)

    @property
    def url(self) -> str:
        """The ``redis+cluster://`` URL of the first node (:mod:`service.redis_client`)."""
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def start(self, timeout: float = 30.0) -> RedisClusterServer:
        """Start every node, create the cluster and wait until every node reports
        ``cluster_state:ok``.

        Raises
        ------
        RedisNotInstalled
            When ``redis-server`` or ``redis-cli`` is not on PATH.
        RuntimeError
            When the cluster does not form within ``timeout`` seconds.
        """
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RedisNotInstalled("redis-cli is not on PATH")
        for node in self.nodes:
            node.start()
        hosts = [f"127.0.0.1:{n.port}" for n in self.nodes]
        done = subprocess.run(
            [cli, "--cluster", "create", *hosts, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            self.stop()
            raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout[-500:]}")
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            client = node.client()
            try:
                while _cluster_state(client) != "ok":
                    if time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError("the cluster did not reach cluster_state:ok")
                    time.sleep(0.05)
            finally:
                client.close()
        return self

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()

    def client(self) -> Any:
        """A new :class:`redis.cluster.RedisCluster` client."""
        from service.redis_client import connect

        return connect(self.url)


def _cluster_state(client: Any) -> str:
    info = client.execute_command("CLUSTER INFO")
    if isinstance(info, dict):  # parsed by redis-py
        state = info.get("cluster_state", "")
        return state.decode() if isinstance(state, bytes) else str(state)
    raw = info.decode() if isinstance(info, bytes) else str(info)
    for line in raw.splitlines():
        if line.startswith("cluster_state:"):
            return line.split(":", 1)[1].strip()
    return ""
