"""``distillwatch train``: fit the population anomaly model from log exports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

__all__ = ["train_cmd"]


@click.command("train")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Model file to write (a .json sidecar holds its metadata).",
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
) -> None:
    """Fit the anomaly model on the accounts found in PATHS and save it, versioned."""
    from detector.audit.pipeline import build_states
    from detector.features import feature_frame
    from detector.model import AccountAnomalyModel, save_model

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
    )
    click.echo(
        f"model {meta['version']} ({detector}) fitted on {len(eligible):,} accounts, "
        f"schema {meta['schema_hash']} -> {out_path}"
    )
