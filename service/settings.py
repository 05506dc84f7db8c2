"""Service settings, read from the environment (prefix ``DISTILLWATCH_``).

Every knob of the streaming pipeline lives here so that the CLI, the workers and the
future HTTP service share one definition. Command-line options override these values.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "SECRETS_DIR_ENV",
    "SecretsDirError",
    "ServiceSettings",
    "StreamSettings",
    "TokenSpec",
    "get_service_settings",
    "get_settings",
    "secrets_dir",
]


class StreamSettings(BaseSettings):
    """Settings of ingest, workers and continuous scoring.

    Environment variables are the field names upper-cased with the ``DISTILLWATCH_``
    prefix, e.g. ``DISTILLWATCH_REDIS_URL`` or ``DISTILLWATCH_WINDOW_HOURS``.
    """

    model_config = SettingsConfigDict(env_prefix="DISTILLWATCH_", extra="ignore")

    #: ``redis://host:port/db`` for one Redis, ``redis+cluster://host:port`` for a cluster
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "dw"
    #: partitions of the streaming state (service.redis_keys); the same in every process.
    #: 1 suits one Redis; on a Redis Cluster a few per primary (e.g. 16 on 3 primaries)
    partitions: int = Field(default=1, ge=1, le=1024)

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
    #: an account-hour record past this many bytes is rewritten as one merged record
    compact_bytes: int = 8_192

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
    #: key signing published models (HMAC-SHA256); trainers and workers share it. A
    #: secret: give it through the secrets directory (file ``distillwatch_model_key``)
    model_key: str | None = None
    #: accept unsigned published models (only for a Redis nobody else can write)
    model_allow_unsigned: bool = False
    alert_actions: tuple[str, ...] = ("block", "throttle", "review")

    # -- operations: metrics / health listener, logs (issue 14; helper B's block) ------------
    #: port of the worker's and sinks' /metrics /healthz /readyz listener (0: no listener)
    metrics_port: int = 0
    #: bind address of that listener (containers: 0.0.0.0)
    metrics_host: str = "127.0.0.1"
    #: log lines of the long-running commands: "text" or "json" (one object per line)
    log_format: Literal["text", "json"] = "text"
    #: /healthz of the worker and sinks answers 503 when their loop was silent this long, s
    healthz_stall_s: float = 120.0
    # -- end of helper B's block ---------------------------------------------------------------

    # -- population job (issue 13.2; helper K's block) -----------------------------------------
    #: lifetime of the population job's lease, seconds: when its holder dies, another worker
    #: or scorer takes over within this plus one population_refresh_s (renewed from a thread
    #: while the holder computes, so it need not cover a refresh)
    population_lease_ttl_s: float = 15.0
    # -- end of helper K's block ---------------------------------------------------------------

    @property
    def bucket_ttl_s(self) -> int:
        """TTL of every window bucket key: the window plus a margin, seconds."""
        return int(self.window_hours * 3_600 + self.ttl_margin_s)


#: environment variable naming the secrets directory (one file per secret setting)
SECRETS_DIR_ENV = "DISTILLWATCH_SECRETS_DIR"


class SecretsDirError(ValueError):
    """``DISTILLWATCH_SECRETS_DIR`` names no directory."""


def secrets_dir() -> Path | None:
    """The secrets directory named by ``DISTILLWATCH_SECRETS_DIR``, or None when unset.

    Each file in it holds one setting, named like its environment variable in lower case
    (``distillwatch_webhook_secret``, ``distillwatch_api_tokens`` as a JSON list,
    ``distillwatch_redis_url``; pydantic-settings' ``secrets_dir``). Environment variables
    win over files, explicit overrides over both.

    Raises
    ------
    SecretsDirError
        When the variable is set but names no directory.
    """
    raw = os.environ.get(SECRETS_DIR_ENV, "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_dir():
        what = "not a directory" if path.exists() else "no such directory"
        raise SecretsDirError(f"{SECRETS_DIR_ENV}={raw}: {what}")
    return path


def get_settings(**overrides: object) -> StreamSettings:
    """Settings from the environment and the secrets directory, with explicit
    ``overrides`` (``None`` values ignored).

    Raises
    ------
    SecretsDirError
        When ``DISTILLWATCH_SECRETS_DIR`` names no directory.
    """
    clean = {k: v for k, v in overrides.items() if v is not None}
    return StreamSettings(_secrets_dir=secrets_dir(), **clean)  # type: ignore[arg-type]


class TokenSpec(BaseModel):
    """One API bearer token.

    ``token`` is the secret itself or ``sha256:<hex>`` of it (so a config file need not
    hold the plain secret). ``name`` is who acts: it is recorded on notes, acknowledgements
    and false-positive marks, and it keys the per-token rate limit.
    """

    name: str
    role: Literal["gateway", "analyst", "admin"]
    token: str
    #: requests/s this token may make, instead of its role's ``rate_limit_<role>`` (e.g. a
    #: smaller quota for a partner's gateway, so that its flood cannot starve the others)
    rate: float | None = Field(default=None, gt=0)


class ServiceSettings(StreamSettings):
    """Settings of the HTTP service (``distillwatch serve``), on top of the pipeline's.

    Tokens come from ``DISTILLWATCH_API_TOKENS`` (a JSON list of ``{"name", "role",
    "token"}``, optionally ``"rate"`` in req/s) and/or ``DISTILLWATCH_API_TOKENS_FILE``
    (a JSON or YAML file holding the same list).
    """

    host: str = "127.0.0.1"
    port: int = 8000

    # -- auth ---------------------------------------------------------------------------
    api_tokens: list[TokenSpec] = Field(default_factory=list)
    api_tokens_file: str | None = None
    #: serve without tokens (every caller is an admin); for local experiments only
    auth_disabled: bool = False
    #: sustained requests per second allowed per token, by role (burst: 2 s worth)
    rate_limit_gateway: float = 20_000.0
    rate_limit_analyst: float = 50.0
    rate_limit_admin: float = 50.0
    #: largest request body, bytes (``POST /v1/events`` has its own limit)
    max_body_bytes: int = 1_048_576
    max_events_body_bytes: int = 16_777_216
    #: browser origins allowed by CORS; empty (the default) turns CORS off
    cors_origins: list[str] = Field(default_factory=list)

    # -- gateway decisions -----------------------------------------------------------------
    #: decision when Redis cannot be read: "open" allows, "closed" denies
    fail_mode: Literal["open", "closed"] = "open"
    #: budget of one Redis read on the scoring path, seconds
    redis_timeout_s: float = 0.025
    #: after a Redis failure, answer from the fail mode for this long before retrying
    redis_retry_s: float = 1.0
    #: header carrying the account id on ``GET /v1/check``
    check_account_header: str = "x-distillwatch-account"
    #: actions that make ``/v1/check`` and the LiteLLM guardrail deny a request
    deny_actions: tuple[str, ...] = ("block",)
    #: request-level signals remembered per account (the live boost), seconds
    live_signal_ttl_s: int = 3_600
    #: LiteLLM guardrail request_data fields naming the account, first non-empty wins
    guardrail_account_fields: tuple[str, ...] = (
        "user_api_key_org_id",
        "user_api_key_team_id",
        "user_api_key_user_id",
        "user_api_key_hash",
    )
    #: show short redacted prompt samples in API answers (off: features and fingerprints)
    show_prompt_samples: bool = False

    # -- saturation (admission control and load shedding; docs/service.md) ------------------
    #: gateway requests in flight at once before new ones get 503 + Retry-After (0: no limit)
    max_inflight_gateway: int = 256
    #: event-loop lag above which a Redis overrun is the service's own queueing, seconds
    loop_lag_tolerance_s: float = 0.005
    #: longest a gateway answer waits on a congested loop before it is shed, seconds
    overload_wait_s: float = 0.5
    #: a PING this often, answered within the timeout, says Redis is alive however slow:
    #: budget overruns are then overload (shed), not an outage (fail mode)
    redis_probe_interval_s: float = 0.2
    redis_probe_timeout_s: float = 1.0
    #: when overloaded: "shed" answers 503 + Retry-After (never allow); "fail_mode" answers
    #: from fail_mode as if Redis were down
    overload_action: Literal["shed", "fail_mode"] = "shed"

    # -- alert sinks ------------------------------------------------------------------------
    #: generic webhook receiving alerts as JSON, signed with HMAC-SHA256
    webhook_url: str | None = None
    webhook_secret: str | None = None
    #: Alertmanager base URL (alerts are POSTed to ``<url>/api/v2/alerts``)
    alertmanager_url: str | None = None
    sink_timeout_s: float = 5.0
    sink_max_attempts: int = 6
    sink_backoff_s: float = 0.5
    sink_backoff_max_s: float = 30.0
    #: run the sinks inside ``distillwatch serve`` (else run ``distillwatch sinks``)
    sinks_in_service: bool = True
    #: alerts per delivery
    sink_batch: int = 100
    #: Alertmanager: re-send firing alerts this often so it does not resolve them itself
    alertmanager_resend_s: float = 60.0

    # -- dashboard --------------------------------------------------------------------------
    ui_enabled: bool = True
    ui_page_size: int = 50

    # -- replicas and slow clients (issues 13 and 15; helper F's block) ---------------------
    #: where dashboard sessions live: "redis" (shared by every serve process) or "memory"
    session_store: Literal["redis", "memory"] = "redis"
    #: a dashboard session unused this long ends, seconds (sliding)
    session_idle_s: float = 2 * 3_600.0
    #: a dashboard session ends this long after sign-in whatever its use, seconds
    session_lifetime_s: float = 12 * 3_600.0
    #: a session's idle timer is refreshed in Redis at most this often, seconds
    session_touch_s: float = 60.0
    #: how often gateway tokens' local rate-limit shares are synced through Redis, seconds
    rate_limit_sync_s: float = 0.2
    #: longest time to receive a whole request body before 408 (``/v1/events`` has its own)
    max_body_seconds: float = 10.0
    max_events_body_seconds: float = 60.0
    #: uvicorn: connections + tasks at once before new requests get 503 (0: no limit)
    http_limit_concurrency: int = 4_096
    #: uvicorn: an idle keep-alive connection is closed after this many seconds
    http_keepalive_s: int = 5
    # -- end of helper F's block ------------------------------------------------------------


def get_service_settings(**overrides: object) -> ServiceSettings:
    """Service settings from the environment and the secrets directory, with explicit
    ``overrides`` (``None`` ignored).

    Raises
    ------
    SecretsDirError
        When ``DISTILLWATCH_SECRETS_DIR`` names no directory.
    """
    clean = {k: v for k, v in overrides.items() if v is not None}
    return ServiceSettings(_secrets_dir=secrets_dir(), **clean)  # type: ignore[arg-type]
