"""``distillwatch train``: fit the population anomaly model from log exports or Redis.

From files: parse PATHS, build the per-account states, fit, save to ``--out``.
With ``--from-redis URL``: fit on the window features of every account with state in
Redis (what the workers score), store the model versioned in Redis (``model:<version>``
+ metadata) and move the ``model:current`` pointer; running workers pick it up without
a restart. ``--out`` also writes the file in that mode.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

__all__ = ["train_cmd"]


@click.command("train")
@click.argument("paths", nargs=-1, required=False, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out",
    "out_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="Model file to write (a .json sidecar holds its metadata). Required with PATHS.",
)
@click.option(
    "--from-redis",
    "from_redis",
    default=None,
    metavar="URL",
    help="Fit on the window state in this Redis and publish the model there.",
)
@click.option("--version", "version", default=None, help="Model version label (default: UTC time).")
@click.option(
    "--format", "fmt", type=click.Choice(["litellm", "openai", "canonical"]), default=None
)
@click.option("--account-field", default=None)
@click.option("--contamination", type=float, default=0.05, show_default=True)
@click.option(
    "--detector", type=click.Choice(["iforest", "ecod"]), default="iforest", show_default=True
)
@click.option("--min-events", type=int, default=5, show_default=True)
def train_cmd(
    paths: tuple[str, ...],
    out_path: str,
    version: str | None,
    fmt: str | None,
    account_field: str | None,
    contamination: float,
    detector: str,
    min_events: int,
    from_redis: str | None,
) -> None:
    """Fit the anomaly model on the accounts found in PATHS (or in Redis) and save it,
    versioned."""
    if from_redis:
        if paths:
            raise click.UsageError("give PATHS or --from-redis, not both")
        _train_from_redis(from_redis, out_path, version, contamination, detector, min_events)
        return
    if not paths or not out_path:
        raise click.UsageError("PATHS and --out are required (or use --from-redis URL)")
    from detector.audit.pipeline import build_states
    from detector.features import feature_frame
    from detector.model import AccountAnomalyModel, save_model
    from service.settings import get_settings

    key = get_settings().model_key
    states, stats = build_states(list(paths), fmt=fmt, account_field=account_field)
    features = feature_frame(states, stats["last_ts"])
    eligible = features[features["n_events"] >= min_events]
    if len(eligible) < 20:
        raise click.ClickException(
            f"only {len(eligible)} accounts with >= {min_events} events; need at least 20"
        )
    now = datetime.now(UTC)
    model = AccountAnomalyModel(contamination=contamination, detector=detector).fit(eligible)
    meta = save_model(
        model,
        Path(out_path),
        version=version or now.strftime("%Y%m%dT%H%M%SZ"),
        trained_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        extra={"events": stats["n_events"], "sources": [str(p) for p in paths]},
        key=key,
    )
    signed = "signed" if key else "unsigned (no DISTILLWATCH_MODEL_KEY)"
    click.echo(
        f"model {meta['version']} ({detector}) fitted on {len(eligible):,} accounts, "
        f"schema {meta['schema_hash']}, {signed} -> {out_path}"
    )


def _train_from_redis(
    url: str,
    out_path: str | None,
    version: str | None,
    contamination: float,
    detector: str,
    min_events: int,
) -> None:
    from service.redis_client import connect
    from service.redis_keys import Keys
    from service.settings import get_settings
    from service.stream.training import train_from_redis

    settings = get_settings(redis_url=url)
    client = connect(url)
    try:
        blob, meta, fitted = train_from_redis(
            client,
            settings,
            version=version,
            contamination=contamination,
            detector=detector,
            min_events=min_events,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    label = meta["version"]
    if out_path:
        Path(out_path).write_bytes(blob)
    click.echo(
        f"model {label} ({detector}) fitted on {fitted:,} accounts from Redis, "
        f"schema {meta['schema_hash']} -> {Keys.of(settings).model(label)} (current)"
    )
