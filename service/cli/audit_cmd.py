"""``distillwatch audit``: score every account in log exports and write a report."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

__all__ = ["audit_cmd"]


@click.command("audit")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["litellm", "openai", "canonical"]),
    default=None,
    help="Force the input format (default: detected per file).",
)
@click.option(
    "--account-field",
    default=None,
    help="Dotted path(s) of the account id, comma-separated fallbacks.",
)
@click.option("--rules-dir", type=click.Path(file_okay=False, exists=True), default=None)
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Trained model (distillwatch train); default: fit on this population.",
)
@click.option("--contamination", type=float, default=0.05, show_default=True)
@click.option("--chunk-size", type=int, default=20_000, show_default=True)
@click.option("--no-report", is_flag=True, help="Skip report.html.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def audit_cmd(
    paths: tuple[str, ...],
    out_dir: str,
    fmt: str | None,
    account_field: str | None,
    rules_dir: str | None,
    model_path: str | None,
    contamination: float,
    chunk_size: int,
    no_report: bool,
    quiet: bool,
) -> None:
    """Audit log exports PATHS: accounts.csv, alerts.jsonl, quarantine.jsonl, report.html."""
    from tqdm import tqdm

    from detector.audit.outputs import summary_of, write_accounts_csv, write_alerts
    from detector.audit.pipeline import AuditConfig, run_audit
    from detector.ingest import QuarantineWriter
    from detector.model import (
        ModelIntegrityError,
        ModelSchemaError,
        ModelVersionError,
        load_model,
    )
    from service.settings import get_settings

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = None
    version = "population-fit"
    if model_path:
        # a local file: unsigned is accepted when no key is configured (the user's own
        # file); with DISTILLWATCH_MODEL_KEY set, the signature must verify
        key = get_settings().model_key
        try:
            model, meta = load_model(model_path, key=key, allow_unsigned=key is None)
        except (ModelIntegrityError, ModelSchemaError, ModelVersionError) as exc:
            raise click.ClickException(str(exc)) from None
        version = str(meta.get("version"))
    total = sum(Path(p).stat().st_size for p in paths)
    bar = tqdm(
        total=total, unit="B", unit_scale=True, desc="audit", disable=quiet or None, file=sys.stderr
    )
    last = {"file": 0}

    def progress(bytes_done: int, _bytes_total: int) -> None:
        # bytes_done counts within the current file: a smaller value means the next file
        delta = bytes_done - last["file"] if bytes_done >= last["file"] else bytes_done
        last["file"] = bytes_done
        bar.update(delta)

    config = AuditConfig(
        fmt=fmt,
        account_field=account_field,
        chunk_size=chunk_size,
        rules_dir=rules_dir,
        contamination=contamination,
        model=model,
        model_version=version,
    )
    with QuarantineWriter(out / "quarantine.jsonl") as qw:
        result = run_audit(list(paths), config, on_progress=progress, on_quarantine=qw.write)
    bar.update(max(total - bar.n, 0))
    bar.close()
    write_accounts_csv(result, out / "accounts.csv")
    n_alerts = write_alerts(result, out / "alerts.jsonl")
    summary = summary_of(result)
    summary["alerts"] = n_alerts
    (out / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    if not no_report:
        from detector.audit.report import render_report

        (out / "report.html").write_text(render_report(result), encoding="utf-8")
    actions = summary["actions"]
    click.echo(
        f"{summary['events']:,} events from {summary['accounts']:,} accounts; "
        f"block {actions.get('block', 0)}, throttle {actions.get('throttle', 0)}, "
        f"review {actions.get('review', 0)}; {n_alerts} alerts; "
        f"{sum(summary['quarantined'].values())} quarantined -> {out}/"
    )
