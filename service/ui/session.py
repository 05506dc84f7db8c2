"""Dashboard sessions: a random id in an HttpOnly cookie, mapped to a Principal.

Signing in (``POST /ui/login``) trades an analyst or admin API token for a session; the
token itself never reaches the browser's storage. Each session expires after an idle
period and, regardless of activity, after an absolute lifetime.

Two stores with one interface:

* :class:`RedisSessionStore` (what ``distillwatch serve`` uses by default): sessions in
  Redis, shared by every service process behind one Redis, so a load balancer needs no
  sticky sessions and a restart signs nobody out. One hash per session,
  ``dw:session:<sha256 hex of the cookie value>`` (the cookie value itself is never a key,
  so reading the keyspace does not hand out sessions), fields ``name``, ``role``,
  ``csrf``, ``created``, ``last_seen`` (wall seconds). Its ``EXPIRE`` is the idle timeout,
  slid forward at most every ``touch_s`` (not a write per request); the absolute lifetime
  is checked against ``created``. A session whose token left the configuration (or
  changed role) is ended on its next use.
* :class:`SessionStore`: in the memory of one process (``DISTILLWATCH_SESSION_STORE=memory``,
  and the tests of the store alone), bounded in number, least recently used evicted.

:meth:`lookup` is what :mod:`service.api.deps` calls to authenticate a request carrying
the ``dw_session`` cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from service import metrics
from service.api.auth import Principal
from service.redis_keys import Keys

__all__ = ["RedisSessionStore", "Session", "SessionStore"]

log = logging.getLogger("distillwatch.ui")


@dataclass(slots=True)
class Session:
    """One signed-in browser.

    Attributes
    ----------
    sid : str
        The cookie value (random, 256 bits).
    principal : Principal
        Who signed in (the token's name and role).
    csrf : str
        Per-session token for plain HTML form posts (sign out without JavaScript).
    created : float
        Time of sign-in (monotonic in :class:`SessionStore`, wall seconds in
        :class:`RedisSessionStore`).
    last_seen : float
        Time of the last successful lookup (in Redis: of the last idle-timer refresh).
    """

    sid: str
    principal: Principal
    csrf: str
    created: float
    last_seen: float


def _new_session(principal: Principal, now: float) -> Session:
    """A fresh session (random cookie value and form token) signed in at ``now``."""
    return Session(
        sid=secrets.token_urlsafe(32),
        principal=principal,
        csrf=secrets.token_urlsafe(24),
        created=now,
        last_seen=now,
    )


class SessionStore:
    """In-memory sessions with idle and absolute expiry, bounded in number.

    Parameters
    ----------
    idle_s : float
        A session unused for this long expires.
    lifetime_s : float
        A session expires this long after sign-in, used or not.
    max_sessions : int
        Most sessions kept; signing in beyond it evicts the least recently used.
    clock : callable, optional
        Monotonic clock (tests).
    """

    def __init__(
        self,
        idle_s: float = 2 * 3_600,
        lifetime_s: float = 12 * 3_600,
        max_sessions: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_s = idle_s
        self.lifetime_s = lifetime_s
        self.max_sessions = max_sessions
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _expired(self, s: Session, now: float) -> bool:
        return now - s.last_seen > self.idle_s or now - s.created > self.lifetime_s

    def create(self, principal: Principal) -> Session:
        """Start a session for ``principal``.

        Parameters
        ----------
        principal : Principal
            The caller whose token was presented at sign-in.

        Returns
        -------
        Session
            The new session; its ``sid`` goes in the cookie.
        """
        now = self._clock()
        session = _new_session(principal, now)
        with self._lock:
            self._purge(now)
            while len(self._sessions) >= self.max_sessions:
                self._sessions.popitem(last=False)
            self._sessions[session.sid] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        """The live session of cookie value ``sid`` (refreshing its idle timer), or None."""
        if not sid:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[sid]
                return None
            session.last_seen = now
            self._sessions.move_to_end(sid)
            return session

    def alive(self, sid: str | None) -> bool:
        """Whether ``sid`` is a live session, without counting this as activity."""
        if not sid:
            return False
        now = self._clock()
        with self._lock:
            session = self._sessions.get(sid)
            return session is not None and not self._expired(session, now)

    def lookup(self, sid: str | None) -> Principal | None:
        """The signed-in Principal of cookie value ``sid``, or None (unknown or expired)."""
        session = self.get(sid)
        return session.principal if session is not None else None

    def check_csrf(self, sid: str | None, presented: str | None) -> bool:
        """Whether ``presented`` is the form token of the session ``sid``."""
        session = self.get(sid)
        if session is None or not presented:
            return False
        return hmac.compare_digest(session.csrf.encode(), presented.encode())

    def revoke(self, sid: str | None) -> bool:
        """End the session ``sid``; True when there was one."""
        if not sid:
            return False
        with self._lock:
            return self._sessions.pop(sid, None) is not None

    def _purge(self, now: float) -> None:
        # oldest-used first: stop at the first live one with a fresh idle timer
        for sid in list(self._sessions):
            s = self._sessions[sid]
            if self._expired(s, now):
                del self._sessions[sid]
            elif now - s.last_seen <= self.idle_s:
                break


def _key_digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8", "surrogatepass")).hexdigest()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisSessionStore:
    """Sessions in Redis, shared by every service process (see the module docstring).

    Same interface as :class:`SessionStore`. Every call is one Redis round trip on the
    sync client (the dashboard is not on the gateway path); a sliding refresh adds one
    more at most every ``touch_s`` per session. While Redis fails, lookups answer "no
    session" (the dashboard's data lives in Redis too) and sign-in raises.

    Parameters
    ----------
    client : redis.Redis
        Sync client (short socket timeouts: calls run on the event loop).
    keys : Keys
        Key names (``keys.session(digest)``).
    idle_s : float
        A session unused for this long expires (EXPIRE of its hash).
    lifetime_s : float
        A session expires this long after sign-in, used or not.
    touch_s : float
        Refresh the idle timer at most this often; the effective idle timeout is between
        ``idle_s - touch_s`` and ``idle_s``.
    known : collection of Principal, optional
        Configured callers; a session of anyone else (a token removed from the
        configuration, or whose role changed) is ended when next used. None: no check.
    clock : callable, optional
        Wall clock, seconds (tests).
    """

    def __init__(
        self,
        client: Any,
        keys: Keys,
        idle_s: float = 2 * 3_600,
        lifetime_s: float = 12 * 3_600,
        touch_s: float = 60.0,
        known: Collection[Principal] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.keys = keys
        self.idle_s = idle_s
        self.lifetime_s = lifetime_s
        self.touch_s = min(touch_s, idle_s / 2)
        # (name, role) -> the configured caller (with its token's own rate limit, if any)
        self.known = {(p.name, p.role): p for p in known} if known is not None else None
        self._clock = clock

    def _key(self, sid: str) -> str:
        return self.keys.session(_key_digest(sid))

    def __len__(self) -> int:
        return sum(1 for _ in self.client.scan_iter(match=self.keys.session_pattern, count=500))

    def _ttl(self, created: float, now: float) -> int:
        left = min(self.idle_s, created + self.lifetime_s - now)
        return max(1, math.ceil(left))

    def create(self, principal: Principal) -> Session:
        """Start a session for ``principal`` (raises when Redis cannot be written).

        Parameters
        ----------
        principal : Principal
            The caller whose token was presented at sign-in.

        Returns
        -------
        Session
            The new session; its ``sid`` goes in the cookie.
        """
        now = self._clock()
        session = _new_session(principal, now)
        key = self._key(session.sid)
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(
            key,
            mapping={
                "name": principal.name,
                "role": principal.role,
                "csrf": session.csrf,
                "created": repr(now),
                "last_seen": repr(now),
            },
        )
        pipe.expire(key, self._ttl(now, now))
        pipe.execute()
        return session

    #: after a Redis failure, session calls skip Redis this long (they run on the event
    #: loop: a frozen Redis must not cost every dashboard request a socket timeout)
    retry_s: float = 1.0
    _down_until: float = 0.0

    @property
    def available(self) -> bool:
        """False while the store skips Redis after a failure."""
        return time.monotonic() >= self._down_until

    def _failed(self, exc: BaseException, what: str) -> None:
        self._down_until = time.monotonic() + self.retry_s
        metrics.REDIS_ERRORS.labels("session").inc()
        log.warning("cannot %s a dashboard session in Redis: %r", what, exc)

    def _read(self, sid: str | None, touch: bool) -> Session | None:
        if not sid or not self.available:
            return None
        key = self._key(sid)
        try:
            raw = self.client.hgetall(key)
        except Exception as exc:
            self._failed(exc, "read")
            return None
        if not raw:
            return None
        fields = {_text(k): _text(v) for k, v in raw.items()}
        try:
            principal = Principal(fields["name"], fields["role"])
            created = float(fields["created"])
            last_seen = float(fields["last_seen"])
            csrf = fields["csrf"]
        except (KeyError, ValueError):
            self._delete(key)
            return None
        now = self._clock()
        if (
            now - created > self.lifetime_s
            or now - last_seen > self.idle_s
            or (self.known is not None and (principal.name, principal.role) not in self.known)
        ):
            self._delete(key)
            return None
        if self.known is not None:
            principal = self.known[(principal.name, principal.role)]
        if touch and now - last_seen >= self.touch_s:
            try:
                pipe = self.client.pipeline(transaction=False)
                pipe.hset(key, "last_seen", repr(now))
                pipe.expire(key, self._ttl(created, now))
                pipe.execute()
                last_seen = now
            except Exception as exc:  # still a valid session; the next use retries
                metrics.REDIS_ERRORS.labels("session").inc()
                log.warning("cannot refresh a dashboard session in Redis: %r", exc)
        return Session(sid, principal, csrf, created, last_seen)

    def _delete(self, key: str) -> bool:
        if not self.available:
            return False
        try:
            return bool(self.client.delete(key))
        except Exception as exc:
            self._failed(exc, "delete")
            return False

    def get(self, sid: str | None) -> Session | None:
        """The live session of cookie value ``sid`` (sliding its idle timer), or None."""
        return self._read(sid, touch=True)

    def alive(self, sid: str | None) -> bool:
        """Whether ``sid`` is a live session, without counting this as activity."""
        return self._read(sid, touch=False) is not None

    def lookup(self, sid: str | None) -> Principal | None:
        """The signed-in Principal of cookie value ``sid``, or None (unknown or expired)."""
        session = self.get(sid)
        return session.principal if session is not None else None

    def check_csrf(self, sid: str | None, presented: str | None) -> bool:
        """Whether ``presented`` is the form token of the session ``sid``."""
        session = self.get(sid)
        if session is None or not presented:
            return False
        return hmac.compare_digest(session.csrf.encode(), presented.encode())

    def revoke(self, sid: str | None) -> bool:
        """End the session ``sid`` in every process; True when there was one."""
        if not sid:
            return False
        return self._delete(self._key(sid))
