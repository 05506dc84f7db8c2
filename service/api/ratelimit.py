"""Per-token rate limits shared by every service process through Redis.

Several ``distillwatch serve`` processes behind one load balancer share one Redis; a
token's limit (``DISTILLWATCH_RATE_LIMIT_<ROLE>`` requests/s, bursts of ``burst_s``
worth) holds for the sum of them, not per process. Two mechanisms, by role:

* **analyst and admin** tokens: an exact token bucket in Redis, one Lua script per request
  (``dw:rl:b:<name>``, a hash with the level and the time of the last update, expiring
  once it would be full again; the time is Redis' ``TIME``, so the processes' clocks do
  not matter). These endpoints are not on the gateway's hot path: one round trip is fine.
* **gateway** tokens: ``/v1/score`` must not pay a Redis round trip, so each process keeps
  a local bucket whose rate is its *share* of the limit. A background task (every
  ``sync_interval_s``, 0.2 s by default) adds the requests this process saw per wall
  second to ``dw:rl:w:<name>:<second>`` (``INCRBY``, TTL 5 s) and reads the sum of every
  process for the last two seconds (one pipeline for all tokens). With ``others`` the
  attempts of the other processes and ``mine`` this process's over the last second
  (sliding estimate over two per-second windows) and ``R`` the limit:

  - ``mine + others <= R``: the local rate is ``R - others`` (room to grow);
  - otherwise the local rate is ``R * mine / (mine + others)``: the limit is split in
    proportion to demand, and the shares sum to ``R``.

  Every configured gateway token is watched (:meth:`SharedRateLimiter.watch`): each sync
  also reads the windows of tokens this process has not served yet, so the first
  requests of a token that other processes are already using get a share, not a full
  burst. A share's bucket shrinks with its rate at each sync.

  **Overshoot bound.** Each process's share is computed from data at most
  ``sync_interval_s`` old, so while the demand is steady the token gets ``R`` in total
  within 10 % (measured: 21 requests/s for ``R`` = 20 flooded through two processes,
  ``tests/service/api/test_ratelimit_replicas.py``). When the demand jumps on several
  processes at once, each may admit up to its previous share plus its bucket for up to
  one sync interval before the others' demand is seen: with ``N`` processes, the excess
  over a single-process limiter is at most ``(N - 1) * R * (burst_s + sync_interval_s)``
  requests, once, at the start of a flood on processes that were all idle for that
  token. A flood on one process alone is limited as on a single process
  (``R * t + R * burst_s`` over ``t`` seconds); the token's share on the others shrinks
  to a sliver within one sync.

When Redis cannot be reached the limits keep working per process: analyst and admin
tokens fall back to a local bucket of the full rate for ``retry_s`` before Redis is tried
again, gateway shares go back to the full rate once their last sync is older than
``stale_s``. A Redis outage never blocks callers; it only loosens the limit to ``R`` per
process (``distillwatch_redis_errors_total{operation="rate_limit"}`` counts the failures).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from service import metrics
from service.api.auth import Principal, RateLimiter
from service.redis_keys import Keys

__all__ = ["EXACT_ROLES", "SharedRateLimiter"]

log = logging.getLogger("distillwatch.service")

#: roles limited by the exact Redis bucket (the others get a synced local share)
EXACT_ROLES = frozenset({"analyst", "admin"})
#: TTL of a per-second window counter, seconds
WINDOW_TTL_S = 5

# KEYS[1] bucket; ARGV rate (/s), capacity, ttl (ms). Returns the wait in seconds (string).
_BUCKET_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'l', 't')
local level = tonumber(v[1])
local at = tonumber(v[2])
if level == nil or at == nil then
  level = cap
  at = now
end
local dt = now - at
if dt < 0 then dt = 0 end
level = math.min(cap, level + dt * rate)
local wait = 0
if level < 1 then
  wait = (1 - level) / rate
else
  level = level - 1
end
redis.call('HSET', KEYS[1], 'l', tostring(level), 't', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return tostring(wait)
"""


class _Share:
    """Local state of one gateway token in one process."""

    __slots__ = ("at", "fresh_until", "level", "limit", "mine", "pending", "rate")

    def __init__(self, limit: float, capacity: float, now: float) -> None:
        #: the token's limit over every process; ``rate`` is this process's share of it
        self.limit = limit
        self.rate = limit
        self.level = capacity
        self.at = now
        self.fresh_until = 0.0
        #: wall second -> attempts not yet added to Redis
        self.pending: dict[int, int] = {}
        #: wall second -> attempts already added to Redis (last few seconds)
        self.mine: dict[int, int] = {}


class SharedRateLimiter(RateLimiter):
    """Per-token limits held across processes (see the module docstring).

    Parameters
    ----------
    rates : dict of str to float
        Role -> sustained requests/s per token (0: unlimited).
    burst_s : float
        Bucket capacity in seconds of the rate.
    aredis : redis.asyncio.Redis, optional
        Shared state; without it every limit is per process (:class:`RateLimiter`).
    keys : Keys, optional
        Key names (default prefix ``dw``).
    sync_interval_s : float
        How often gateway shares are synced with the other processes.
    timeout_s : float
        Budget of one Redis call of the limiter.
    retry_s : float
        After a failed bucket call, analyst / admin limits stay local this long.
    stale_s : float, optional
        A gateway share older than this falls back to the full rate (default
        ``max(1, 5 * sync_interval_s)``).
    clock, wall : callable, optional
        Monotonic and wall clocks (tests).
    """

    def __init__(
        self,
        rates: dict[str, float],
        burst_s: float = 2.0,
        *,
        aredis: Any = None,
        keys: Keys | None = None,
        sync_interval_s: float = 0.2,
        timeout_s: float = 0.25,
        retry_s: float = 1.0,
        stale_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(rates, burst_s)
        self._aredis = aredis
        self._keys = keys or Keys("dw")
        self.sync_interval_s = sync_interval_s
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.stale_s = stale_s if stale_s is not None else max(1.0, 5 * sync_interval_s)
        self._clock = clock
        self._wall = wall
        self._shares: dict[str, _Share] = {}
        #: gateway token name -> its limit, read at every sync even when unused here
        self._watched: dict[str, float] = {}
        self._share_lock = threading.Lock()
        self._script: Any = None
        self._down_until = 0.0
        self._warned = False

    def attach(self, aredis: Any) -> None:
        """Share the limits through ``aredis`` (the service's async client, once built)."""
        self._aredis = aredis
        self._script = None

    # -- hot path (sync, no I/O) -------------------------------------------------------
    def allow(self, principal: Principal, now: float | None = None) -> float:
        """0.0 when the request may go on, else seconds to wait; never touches Redis.

        Gateway tokens use their synced share; other roles a per-process bucket (what
        :meth:`acquire` falls back to while Redis is down).
        """
        if principal.role in EXACT_ROLES or self._aredis is None:
            return super().allow(principal, now)
        limit = self.rate_of(principal)
        if limit <= 0:
            return 0.0
        now = self._clock() if now is None else now
        second = int(self._wall())
        with self._share_lock:
            share = self._shares.get(principal.name)
            if share is None:
                share = self._shares[principal.name] = _Share(
                    limit, max(limit * self._burst_s, 1.0), now
                )
            share.pending[second] = share.pending.get(second, 0) + 1
            rate = share.rate if now < share.fresh_until else limit
            capacity = max(rate * self._burst_s, 1.0)
            level = min(capacity, share.level + (now - share.at) * rate)
            share.at = now
            if level < 1.0:
                share.level = level
                # shares move every sync: never send a caller away for long
                return min((1.0 - level) / max(rate, 1e-9), 1.0)
            share.level = level - 1.0
            return 0.0

    # -- analyst / admin: exact bucket in Redis ----------------------------------------
    async def acquire(self, principal: Principal) -> float:
        """Like :meth:`allow`, exact across processes for analyst and admin tokens.

        Returns
        -------
        float
            0.0 when the request may go on, else seconds to wait before retrying.
        """
        rate = self.rate_of(principal)
        if rate <= 0:
            return 0.0
        if principal.role not in EXACT_ROLES or self._aredis is None:
            return self.allow(principal)
        if self._clock() < self._down_until:
            return super().allow(principal)
        if self._script is None:
            self._script = self._aredis.register_script(_BUCKET_LUA)
        capacity = max(rate * self._burst_s, 1.0)
        ttl_ms = int(capacity / rate * 1000) + 1000
        try:
            reply = await asyncio.wait_for(
                self._script(
                    keys=[self._keys.rate_bucket(principal.name)], args=[rate, capacity, ttl_ms]
                ),
                self.timeout_s,
            )
            wait = float(reply.decode() if isinstance(reply, bytes) else reply)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed("bucket", exc)
            self._down_until = self._clock() + self.retry_s
            return super().allow(principal)
        self._warned = False
        return wait

    def _failed(self, what: str, exc: BaseException) -> None:
        metrics.REDIS_ERRORS.labels("rate_limit").inc()
        if not self._warned:
            log.warning("rate limits are per process while Redis fails (%s): %r", what, exc)
            self._warned = True

    # -- gateway shares: background sync -----------------------------------------------
    def watch(self, principals: list[Principal]) -> None:
        """Follow these callers' use in the other processes before they show up here.

        Each sync then also reads the windows of every watched gateway token, so a
        process that has not served a token yet already knows what the others use of it
        (its first requests get the right share, not a full burst).
        """
        for p in principals:
            limit = self.rate_of(p)
            if p.role not in EXACT_ROLES and limit > 0:
                self._watched[p.name] = limit

    async def sync(self) -> bool:
        """Report this process's gateway attempts and recompute every share once.

        Returns
        -------
        bool
            False when Redis could not be reached (shares left as they were).
        """
        if self._aredis is None:
            return True
        wall = self._wall()
        second = int(wall)
        frac = wall - second
        with self._share_lock:
            batch: list[tuple[str, _Share | None, dict[int, int]]] = []
            for name in self._shares.keys() | self._watched.keys():
                share = self._shares.get(name)
                pending: dict[int, int] = {}
                if share is not None:
                    pending, share.pending = share.pending, {}
                batch.append((name, share, pending))
        if not batch:
            return True
        pipe = self._aredis.pipeline(transaction=False)
        for name, _share, pending in batch:
            for sec, n in pending.items():
                key = self._keys.rate_window(name, sec)
                pipe.incrby(key, n)
                pipe.expire(key, WINDOW_TTL_S)
            pipe.execute_command(  # one slot (tag: the token name); cluster-safe
                "MGET",
                self._keys.rate_window(name, second - 1),
                self._keys.rate_window(name, second),
            )
        try:
            replies = await asyncio.wait_for(pipe.execute(), self.timeout_s)
        except asyncio.CancelledError:
            self._restore(batch)
            raise
        except Exception as exc:
            self._restore(batch)
            self._failed("sync", exc)
            return False
        self._warned = False
        now = self._clock()
        at = 0
        with self._share_lock:
            for name, known, pending in batch:
                at += 2 * len(pending)
                prev, cur = replies[at]
                at += 1
                share = known or self._shares.get(name)
                mine_prev = mine_cur = 0
                if share is not None:
                    for sec, n in pending.items():
                        share.mine[sec] = share.mine.get(sec, 0) + n
                    for sec in [s for s in share.mine if s < second - 2]:
                        del share.mine[sec]
                    mine_prev = share.mine.get(second - 1, 0)
                    mine_cur = share.mine.get(second, 0)
                others = max(0, int(prev or 0) - mine_prev) * (1.0 - frac) + max(
                    0, int(cur or 0) - mine_cur
                )
                if share is None:
                    if others <= 0:
                        continue  # unused everywhere: created with a full burst when needed
                    limit = self._watched[name]
                    share = self._shares[name] = _Share(limit, limit * self._burst_s, now)
                mine = mine_prev * (1.0 - frac) + mine_cur
                share.rate = self.share_rate(share.limit, mine, others)
                share.fresh_until = now + self.stale_s
                # the bucket shrinks with the share at once (not on the next request)
                share.level = min(share.level, max(share.rate * self._burst_s, 1.0))
        return True

    @staticmethod
    def share_rate(limit: float, mine: float, others: float) -> float:
        """This process's rate for a token limited to ``limit``/s.

        Parameters
        ----------
        limit : float
            The token's limit over every process, requests/s.
        mine, others : float
            Requests attempted over the last second here and in the other processes.
        """
        demand = mine + others
        if demand <= limit:
            return limit - others
        return limit * max(mine, 1.0) / demand

    def _restore(self, batch: list[tuple[str, _Share | None, dict[int, int]]]) -> None:
        with self._share_lock:
            for _name, share, pending in batch:
                if share is None:
                    continue
                for sec, n in pending.items():
                    share.pending[sec] = share.pending.get(sec, 0) + n

    async def run(self) -> None:
        """Sync every ``sync_interval_s`` until cancelled."""
        while True:
            with contextlib.suppress(Exception):
                await self.sync()
            await asyncio.sleep(self.sync_interval_s)

    def start(self, _services: Any = None) -> list[asyncio.Task[None]]:
        """The background sync as a task of the running loop (the app's lifespan)."""
        if self._aredis is None:
            return []
        return [asyncio.create_task(self.run(), name="rate-limit-sync")]
