"""Service settings, read from the environment (prefix ``DISTILLWATCH_``).

Every knob of the streaming pipeline lives here so that the CLI, the workers and the
future HTTP service share one definition. Command-line options override these values.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["StreamSettings", "get_settings"]


class StreamSettings(BaseSettings):
    """Settings of ingest, workers and continuous scoring.

    Environment variables are the field names upper-cased with the ``DISTILLWATCH_``
    prefix, e.g. ``DISTILLWATCH_REDIS_URL`` or ``DISTILLWATCH_WINDOW_HOURS``.
    """

    model_config = SettingsConfigDict(env_prefix="DISTILLWATCH_", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "dw"

    # bounded streams (approximate MAXLEN ~)
    events_maxlen: int = 1_000_000
    quarantine_maxlen: int = 100_000
    deadletter_maxlen: int = 100_000
    alerts_maxlen: int = 100_000
    #: bytes of a rejected record kept in its quarantine entry (0: none; it may hold prompt text)
    quarantine_raw_limit: int = 256
    #: how long a request id is remembered for idempotent ingest, seconds
    dedupe_ttl_s: int = 2 * 86_400
    ingest_batch: int = 500

    # workers
    group: str = "workers"
    batch_size: int = 2_000
    block_ms: int = 1_000
    claim_idle_ms: int = 30_000
    claim_every_s: float = 5.0
    max_deliveries: int = 5

    # window state
    window_hours: int = 24
    ttl_margin_s: int = 6 * 3_600
    top_keep: int = 32

    # continuous scoring
    score_debounce_s: float = 2.0
    score_batch: int = 500
    population_refresh_s: float = 30.0
    population_max: int = 5_000
    model_poll_s: float = 5.0
    min_events: int = 5
    contamination: float = 0.05
    rules_dir: str | None = None
    alert_actions: tuple[str, ...] = ("block", "throttle", "review")

    @property
    def bucket_ttl_s(self) -> int:
        """TTL of every window bucket key: the window plus a margin, seconds."""
        return int(self.window_hours * 3_600 + self.ttl_margin_s)


def get_settings(**overrides: object) -> StreamSettings:
    """Settings from the environment, with explicit ``overrides`` (``None`` values ignored)."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return StreamSettings(**clean)  # type: ignore[arg-type]
