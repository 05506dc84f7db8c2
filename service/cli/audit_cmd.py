"""``distillwatch audit``: score every account in log exports and write a report."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

__all__ = ["audit_cmd"]


def _expand_paths(
    _ctx: click.Context, _param: click.Parameter, paths: tuple[str, ...]
) -> list[str]:
    """Files as given, and quoted glob patterns (``'logs/*.jsonl.gz'``) expanded, sorted."""
    from detector.audit.dask_engine import expand_globs

    try:
        files = expand_globs(paths)
    except FileNotFoundError as exc:
        raise click.BadParameter(str(exc)) from None
    for name in files:
        if not Path(name).exists():
            raise click.BadParameter(f"File {name!r} does not exist.")
        if Path(name).is_dir():
            raise click.BadParameter(f"File {name!r} is a directory.")
    return files


@click.command("audit")
@click.argument("paths", nargs=-1, required=True, callback=_expand_paths)
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
@click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Fold files into per-account aggregates in local worker processes, or on Dask "
    "(one partition per file; needs the 'dask' extra). Results are identical.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDR",
    help="Dask engine: scheduler address (tcp://host:8786), or synchronous|threads|"
    "processes; default: a private LocalCluster on 127.0.0.1.",
)
@click.option(
    "--dask-reduce",
    type=click.Choice(["ordered", "tree"]),
    default="ordered",
    show_default=True,
    help="Dask engine: merge block aggregates here in file order (identical to the local "
    "engine) or per-file states on the workers in a tree (docs/scaling.md).",
)
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
    engine: str,
    scheduler: str | None,
    dask_reduce: str,
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

    if scheduler is not None and engine != "dask":
        raise click.UsageError("--scheduler needs --engine dask")
    if engine == "dask":
        from detector.audit.dask_engine import dask_available

        if not dask_available():
            raise click.ClickException(
                "the dask engine needs dask[distributed]: pip install 'distillwatch[dask]'"
            )
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
        engine=engine,
        scheduler=scheduler,
        dask_reduce=dask_reduce,
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
