"""Dashboard sessions: a random id in an HttpOnly cookie, mapped in memory to a Principal.

Signing in (``POST /ui/login``) trades an analyst or admin API token for a session; the
token itself never reaches the browser's storage. Sessions live in the memory of one
service process: with several processes behind a load balancer, pin the dashboard to
one (sticky sessions) or sign in again after a restart. Each session expires after an
idle period and, regardless of activity, after an absolute lifetime.

:meth:`SessionStore.lookup` is what :mod:`service.api.deps` calls to authenticate a
request carrying the ``dw_session`` cookie.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from service.api.auth import Principal

__all__ = ["Session", "SessionStore"]


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
        Monotonic time of sign-in.
    last_seen : float
        Monotonic time of the last successful lookup.
    """

    sid: str
    principal: Principal
    csrf: str
    created: float
    last_seen: float


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
        session = Session(
            sid=secrets.token_urlsafe(32),
            principal=principal,
            csrf=secrets.token_urlsafe(24),
            created=now,
            last_seen=now,
        )
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
