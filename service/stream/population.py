"""The population job: one process refits, relinks and publishes the population snapshot.

Scoring ranks dirty accounts against the *population* (the window features of the
``population_max`` most recently active accounts), uses cluster verdicts from account
linking, and an anomaly model (the published one, or a forest fitted on the population
while none is published). Computing that snapshot (reading thousands of window states,
linking them) is the expensive part; one process does it and publishes the result:

* a **lease** in Redis decides who: ``SET lease owner NX PX ttl``; the holder renews it
  with a compare-and-set script; every acquisition ``INCR``\\ s a **fencing token**;
* the holder publishes a **snapshot**: a version number, ``as_of``, the population
  feature frame as Arrow IPC (never pickle) and the cluster verdicts per account (JSON).
  The publish script refuses a holder whose lease is gone or whose fencing token is no
  longer the latest (paused past its TTL, then woke up), so a stale snapshot never
  overwrites a newer one;
* every other process loads the snapshot when its version moves and fits its fallback
  forest on the snapshot's frame itself (the forest has a fixed ``random_state``: the
  same frame gives the same model everywhere), so no model travels through Redis
  unsigned;
* a dedicated ``distillwatch scorer`` marks itself *preferred*: a worker holding the lease
  hands it over at its next renewal, so with a scorer running the workers only score.
  Without one, any worker takes the lease; if the holder dies, the lease expires and
  another process takes it within ``population_lease_ttl_s`` plus one refresh, while
  everyone keeps scoring with the last snapshot. The holder renews from a thread while
  it computes (:meth:`PopulationLease.kept_alive`), so the TTL need not cover a refresh.

Keys (:class:`service.redis_keys.Keys`; hash tag ``{population}`` so that the scripts
stay legal on a Redis Cluster)::

    dw:{population}:lease      STRING owner, PX = population_lease_ttl_s
    dw:{population}:fence      counter, INCR on every acquisition (the fencing token)
    dw:{population}:version    counter, INCR on every published snapshot
    dw:{population}:snapshot   HASH version, fence, owner, as_of, published_at, format,
                               frame (Arrow IPC), clusters (JSON), model_version;
                               EXPIRE = bucket_ttl_s
    dw:{population}:preferred  STRING owner of a dedicated scorer, PX = lease TTL
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa

from service.redis_keys import Keys

__all__ = [
    "SNAPSHOT_FORMAT",
    "PopulationLease",
    "PopulationSnapshot",
    "default_owner",
    "frame_from_bytes",
    "frame_to_bytes",
    "publish_snapshot",
    "read_snapshot",
    "snapshot_version",
]

log = logging.getLogger("distillwatch.population")

#: value of the snapshot's ``format`` field (bumped if the encoding ever changes)
SNAPSHOT_FORMAT = "arrow-ipc-1"

# KEYS: lease, fence, preferred; ARGV: owner, ttl_ms, yield ("1": a worker, which leaves
# the lease to a live dedicated scorer)
_ACQUIRE = """
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
"""

# 1: renewed; 0: not ours any more; -1: handed over to a dedicated scorer (released)
_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] == '1' then
  local preferred = redis.call('GET', KEYS[2])
  if preferred and preferred ~= ARGV[1] then
    redis.call('DEL', KEYS[1])
    return -1
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: lease, fence, snapshot, version
# ARGV: owner, fence, ttl_s, as_of, published_at, frame, clusters, model_version, format
_PUBLISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[2]) then return 0 end
local v = redis.call('INCR', KEYS[4])
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], 'version', v, 'fence', ARGV[2], 'owner', ARGV[1],
  'as_of', ARGV[4], 'published_at', ARGV[5], 'frame', ARGV[6], 'clusters', ARGV[7],
  'model_version', ARGV[8], 'format', ARGV[9])
redis.call('EXPIRE', KEYS[3], ARGV[3])
return v
"""


def default_owner(role: str) -> str:
    """``role@host-pid-random``: unique per process."""
    return f"{role}@{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


# -- the frame: Arrow IPC, not pickle --------------------------------------------------------
def frame_to_bytes(frame: pd.DataFrame) -> bytes:
    """A feature frame as an Arrow IPC stream (zstd-compressed when available).

    Values, dtypes, column order and the index round-trip exactly
    (:func:`frame_from_bytes`); nothing in it is executable.
    """
    table = pa.Table.from_pandas(frame, preserve_index=True)
    codec = "zstd" if pa.Codec.is_available("zstd") else None
    options = pa.ipc.IpcWriteOptions(compression=codec)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def frame_from_bytes(blob: bytes) -> pd.DataFrame:
    """The feature frame :func:`frame_to_bytes` wrote."""
    with pa.ipc.open_stream(pa.py_buffer(blob)) as reader:
        table = reader.read_all()
    return table.to_pandas()


# -- the snapshot ----------------------------------------------------------------------------
@dataclass(slots=True)
class PopulationSnapshot:
    """One published population snapshot.

    Attributes
    ----------
    version : int
        Position in the sequence of published snapshots.
    fence : int
        Fencing token of the lease its publisher held.
    owner : str
        The publishing process.
    as_of : float
        Stream clock the frame was computed at (event time, Unix seconds).
    published_at : float
        Wall time of publication (Unix seconds).
    frame : pandas.DataFrame
        Window features of the population, indexed by account id.
    clusters : dict
        Cluster verdict per linked account (``{"cluster_id", "risk", "action", ...}``).
    model_version : str
        Model the publisher used (informational).
    """

    version: int
    fence: int
    owner: str
    as_of: float
    published_at: float
    frame: pd.DataFrame
    clusters: dict[str, dict[str, Any]]
    model_version: str


def publish_snapshot(
    client: Any,
    keys: Keys,
    *,
    owner: str,
    fence: int,
    as_of: float,
    frame: pd.DataFrame,
    clusters: dict[str, dict[str, Any]],
    model_version: str,
    ttl_s: int,
) -> int | None:
    """Publish a snapshot if ``owner`` still holds the lease with fencing token ``fence``.

    Parameters
    ----------
    client : redis.Redis
        Connection.
    keys : Keys
        Key names.
    owner, fence
        The publisher's lease identity (:class:`PopulationLease`).
    as_of, frame, clusters, model_version
        The snapshot's content.
    ttl_s : int
        Lifetime of the snapshot key, seconds.

    Returns
    -------
    int or None
        The new snapshot version, or None when the publisher is fenced off (the lease
        expired or was taken by another process since).
    """
    script = client.register_script(_PUBLISH)
    version = script(
        keys=[
            keys.population_lease,
            keys.population_fence,
            keys.population_snapshot,
            keys.population_version,
        ],
        args=[
            owner,
            int(fence),
            int(ttl_s),
            repr(float(as_of)),
            repr(time.time()),
            frame_to_bytes(frame),
            orjson.dumps(clusters, option=orjson.OPT_SERIALIZE_NUMPY),
            model_version,
            SNAPSHOT_FORMAT,
        ],
    )
    return int(version) or None


def snapshot_version(client: Any, keys: Keys) -> int | None:
    """Version of the snapshot in Redis (one ``HGET``), or None when there is none."""
    raw = client.hget(keys.population_snapshot, "version")
    return int(raw) if raw is not None else None


def read_snapshot(client: Any, keys: Keys) -> PopulationSnapshot | None:
    """The latest snapshot, or None when there is none (never published, or expired).

    Raises
    ------
    ValueError
        When the snapshot is in an unknown format.
    """
    raw = client.hgetall(keys.population_snapshot)
    if not raw or b"frame" not in raw:
        return None
    fmt = raw.get(b"format", b"").decode()
    if fmt != SNAPSHOT_FORMAT:
        raise ValueError(f"population snapshot in format {fmt!r}, expected {SNAPSHOT_FORMAT!r}")
    return PopulationSnapshot(
        version=int(raw[b"version"]),
        fence=int(raw[b"fence"]),
        owner=raw[b"owner"].decode(),
        as_of=float(raw[b"as_of"]),
        published_at=float(raw[b"published_at"]),
        frame=frame_from_bytes(raw[b"frame"]),
        clusters=orjson.loads(raw[b"clusters"]),
        model_version=raw[b"model_version"].decode(),
    )


# -- the lease -------------------------------------------------------------------------------
class PopulationLease:
    """Who runs the population job: a Redis lease with a fencing token.

    Parameters
    ----------
    client : redis.Redis
        Connection.
    keys : Keys
        Key names.
    owner : str
        This process's name (unique; :func:`default_owner`).
    ttl_s : float
        Lease lifetime; the holder renews it well before (every ``ttl_s / 3``).
    dedicated : bool
        A ``distillwatch scorer``: advertises itself as preferred and never hands the
        lease over. Workers (``False``) hand it to a dedicated scorer when one is alive.
    """

    def __init__(
        self, client: Any, keys: Keys, owner: str, ttl_s: float, *, dedicated: bool = False
    ) -> None:
        self.client = client
        self.keys = keys
        self.owner = owner
        self.ttl_ms = max(int(ttl_s * 1000), 100)
        self.dedicated = dedicated
        self.fence = 0
        self.held = False
        self._checked = 0.0
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    @property
    def check_every_s(self) -> float:
        """How often :meth:`ensure` talks to Redis (a third of the TTL, at most 1 s)."""
        return min(self.ttl_ms / 3000.0, 1.0)

    def acquire(self) -> bool:
        """Take the lease if nobody holds it; True when this process holds it now."""
        if self.dedicated:
            self.client.set(self.keys.population_preferred, self.owner, px=self.ttl_ms)
        fence = int(
            self._acquire(
                keys=[
                    self.keys.population_lease,
                    self.keys.population_fence,
                    self.keys.population_preferred,
                ],
                args=[self.owner, self.ttl_ms, "0" if self.dedicated else "1"],
            )
        )
        if fence:
            self.fence, self.held = fence, True
            log.info("population lease taken by %s (fencing token %d)", self.owner, fence)
        return bool(fence)

    def renew(self, *, handover: bool = True) -> bool:
        """Extend the lease if it is still ours; False when lost or handed over.

        Parameters
        ----------
        handover : bool
            A worker gives the lease to a live dedicated scorer (ignored for a scorer).
        """
        if self.dedicated:
            self.client.set(self.keys.population_preferred, self.owner, px=self.ttl_ms)
        result = int(
            self._renew(
                keys=[self.keys.population_lease, self.keys.population_preferred],
                args=[self.owner, self.ttl_ms, "1" if handover and not self.dedicated else "0"],
            )
        )
        if result == -1:
            log.info("population lease handed over to a dedicated scorer")
        elif result == 0:
            log.warning("population lease of %s lost (expired or taken)", self.owner)
        self.held = result == 1
        return self.held

    def ensure(self, force: bool = False) -> tuple[bool, bool]:
        """Renew the lease if held, else try to take it (at most every
        :attr:`check_every_s` unless ``force``).

        Returns
        -------
        (bool, bool)
            Whether this process holds the lease, and whether it just acquired it.
        """
        now = time.monotonic()
        if not force and now - self._checked < self.check_every_s:
            return self.held, False
        self._checked = now
        if self.held and self.renew():
            return True, False
        if self.held:  # lost or handed over: do not take it straight back
            return False, False
        return self.acquire(), self.held

    def release(self) -> bool:
        """Give the lease up if it is ours (clean shutdown); True when released."""
        was = self.held
        self.held = False
        if self.dedicated:
            self.client.delete(self.keys.population_preferred)
        if not was:
            return False
        return bool(self._release(keys=[self.keys.population_lease], args=[self.owner]))

    @contextlib.contextmanager
    def kept_alive(self) -> Iterator[None]:
        """Renew the lease from a background thread while the block runs.

        The population job's work (reading window states, linking) can outlast the lease
        TTL on a large population; renewing from a thread keeps the TTL short (a dead
        holder is replaced within it) whatever the refresh costs. A renewal that finds
        the lease gone stops the thread; :attr:`held` then reads False and the fenced
        publish refuses the snapshot.
        """
        if not self.held:
            yield
            return
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.ttl_ms / 3000.0):
                try:
                    if not self.renew(handover=False):
                        return
                except Exception as exc:  # Redis blip: the next beat (or the TTL) decides
                    log.warning("population lease renewal failed: %s", exc)

        thread = threading.Thread(target=beat, name="population-lease", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=self.ttl_ms / 1000.0)

    def holder(self) -> str | None:
        """The current holder's name, or None."""
        raw = self.client.get(self.keys.population_lease)
        return raw.decode() if raw is not None else None
