"""What one running service holds: settings, Redis clients, tokens, limits, breaker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.api.auth import RateLimiter, TokenTable, load_tokens, principal_of
from service.api.guard import LoopLagMonitor, RedisGuard, RedisProbe
from service.api.ratelimit import SharedRateLimiter
from service.redis_keys import Keys
from service.settings import ServiceSettings

__all__ = ["Services", "build_services"]


@dataclass
class Services:
    """Shared state of one app instance (``app.state.services``).

    Attributes
    ----------
    settings : ServiceSettings
    keys : Keys
    tokens : TokenTable
    limiter : RateLimiter
    aredis : redis.asyncio.Redis
        Gateway path (time-boxed through ``guard``).
    redis : redis.Redis
        Analyst and admin endpoints (run in the thread pool).
    guard : RedisGuard
    """

    settings: ServiceSettings
    keys: Keys
    tokens: TokenTable
    limiter: RateLimiter
    aredis: Any
    redis: Any
    guard: RedisGuard
    extras: dict[str, Any] = field(default_factory=dict)


def build_services(settings: ServiceSettings) -> Services:
    """Clients and tables for ``settings`` (no I/O: Redis connects lazily).

    Raises
    ------
    ValueError
        When no token is configured and auth is not explicitly disabled.
    """
    from service.redis_client import connect, connect_async

    specs = load_tokens(settings)
    if not specs and not settings.auth_disabled:
        raise ValueError(
            "no API tokens configured: set DISTILLWATCH_API_TOKENS or "
            "DISTILLWATCH_API_TOKENS_FILE (or DISTILLWATCH_AUTH_DISABLED=1 for local use)"
        )
    timeout = settings.redis_timeout_s
    services = Services(
        settings=settings,
        keys=Keys.of(settings),
        tokens=TokenTable(specs),
        # shared by every serve process through Redis (the client is attached below)
        limiter=SharedRateLimiter(
            {
                "gateway": settings.rate_limit_gateway,
                "analyst": settings.rate_limit_analyst,
                "admin": settings.rate_limit_admin,
            },
            keys=Keys.of(settings),
            sync_interval_s=settings.rate_limit_sync_s,
        ),
        # no socket timeout: the guard's budget bounds every call, and redis-py would wrap
        # each read in one more wait_for task. The connect timeout is not lag-aware (a
        # burst that opens new connections on a congested loop would time them out and
        # answer from the fail mode), so it is only a backstop: the guard's budget, which
        # tells a late loop from a slow Redis, ends a connect to a silent host first.
        aredis=connect_async(
            settings.redis_url,
            socket_timeout=None,
            socket_connect_timeout=max(settings.overload_wait_s, timeout, 0.01),
            health_check_interval=0,
        ),
        redis=connect(settings.redis_url, socket_timeout=5.0, socket_connect_timeout=1.0),
        guard=RedisGuard(
            timeout,
            settings.redis_retry_s,
            monitor=LoopLagMonitor(),
            lag_tolerance_s=settings.loop_lag_tolerance_s,
            overload_wait_s=settings.overload_wait_s,
            probe=RedisProbe(settings.redis_probe_interval_s, settings.redis_probe_timeout_s),
        ),
    )
    # -- replicas: shared rate limits and dashboard sessions (docs/service.md, Security) --
    limiter = services.limiter
    if isinstance(limiter, SharedRateLimiter):
        limiter.attach(services.aredis)
        limiter.watch([principal_of(s) for s in specs])
        services.extras["start_background"] = limiter.start
    services.extras["sessions"] = _session_store(settings, services.keys, specs)
    return services


def _session_store(settings: ServiceSettings, keys: Keys, specs: list[Any]) -> Any:
    """The dashboard's session store: in Redis (shared by every process) or in memory."""
    from service.redis_client import connect
    from service.ui.session import RedisSessionStore, SessionStore

    if settings.session_store == "memory":
        return SessionStore(idle_s=settings.session_idle_s, lifetime_s=settings.session_lifetime_s)
    # its own client with short timeouts: session calls run on the event loop
    client = connect(settings.redis_url, socket_timeout=0.25, socket_connect_timeout=0.25)
    return RedisSessionStore(
        client,
        keys,
        idle_s=settings.session_idle_s,
        lifetime_s=settings.session_lifetime_s,
        touch_s=settings.session_touch_s,
        known=None if settings.auth_disabled else [principal_of(s) for s in specs],
    )
