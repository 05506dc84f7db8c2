"""``distillwatch ingest``: log files (or stdin) onto the Redis events stream."""

from __future__ import annotations

import signal
import sys
import time
from typing import Any

import click

from service.ops.logging_setup import LOG_FORMATS

__all__ = ["ingest_cmd"]


def _client(url: str) -> Any:
    from service.redis_client import connect

    return connect(url)


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True)
@click.option("--redis-url", envvar="DISTILLWATCH_REDIS_URL", default=None, help="Redis URL.")
@click.option(
    "--format", "fmt", type=click.Choice(["auto", "litellm", "openai", "canonical"]), default=None
)
@click.option("--account-field", default=None, help="Dotted path(s) of the account field.")
@click.option("--follow", is_flag=True, help="Keep tailing the files (survives rotation).")
@click.option(
    "--replay-speed",
    type=float,
    default=None,
    help="Pace events by their timestamps, N times faster than real time (e.g. 600).",
)
@click.option("--poll", type=float, default=0.5, show_default=True, help="--follow poll, s.")
@click.option("--quiet", "-q", is_flag=True)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default=None,
    help="Log and progress lines as text or JSON objects (DISTILLWATCH_LOG_FORMAT).",
)
@click.option("--verbose", "-v", is_flag=True)
def ingest_cmd(
    paths: tuple[str, ...],
    redis_url: str | None,
    fmt: str | None,
    account_field: str | None,
    follow: bool,
    replay_speed: float | None,
    poll: float,
    quiet: bool,
    log_format: str | None,
    verbose: bool,
) -> None:
    """Validate log records from PATHS (files, directories or - for stdin) and add them to
    the events stream; bad records go to the quarantine stream. Idempotent on request id:
    ingesting the same file twice adds nothing the second time."""
    import logging

    from service.ops.logging_setup import configure_logging
    from service.settings import get_settings
    from service.stream.ingest import Ingestor

    try:
        settings = get_settings(redis_url=redis_url, log_format=log_format)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    log_fmt = settings.log_format
    configure_logging(logging.INFO if verbose else logging.WARNING, log_fmt)
    progress = logging.getLogger("distillwatch.lifecycle")
    from service.stream.layout import LayoutMismatch

    try:
        ing = Ingestor(_client(settings.redis_url), settings)
    except LayoutMismatch as exc:
        raise click.ClickException(str(exc)) from exc
    started = time.monotonic()

    def report(stats: Any, final: bool = False) -> None:
        if quiet and not final:
            return
        d = stats.as_dict()
        rate = d["events"] / max(time.monotonic() - started, 1e-9)
        line = (
            f"events {d['events']:,}  added {d['added']:,}  duplicates {d['duplicates']:,}  "
            f"quarantined {d['quarantined']:,}  ({rate:,.0f}/s)"
        )
        if log_fmt == "json" and not final:  # progress on stderr: a JSON log record
            progress.info("ingest progress: %s", line)
        else:
            click.echo(line, err=not final)

    if not follow:
        total = ing.ingest_files(
            list(paths),
            fmt=fmt,
            account_field=account_field,
            replay_speed=replay_speed,
            on_chunk=None if quiet else report,
        )
        report(total, final=True)
        if total.reasons:
            click.echo(f"quarantine reasons: {dict(sorted(total.reasons.items()))}")
        return
    if "-" in paths:
        raise click.UsageError("--follow needs files, not stdin")
    _follow(ing, list(paths), fmt, account_field, poll, report)


def _follow(
    ing: Any, paths: list[str], fmt: str | None, account_field: str | None, poll: float, report: Any
) -> None:
    from service.stream.follow import FileTail
    from service.stream.ingest import IngestStats

    stop = {"now": False}

    def handler(_signum: int, _frame: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    tails = [FileTail(p) for p in paths]
    total = IngestStats()
    while not stop["now"]:
        got = False
        for tail in tails:
            data, _first_line = tail.read()
            if data:
                got = True
                total.add(
                    ing.ingest_payload(data, fmt=fmt, account_field=account_field, source=tail.path)
                )
                report(total)
        if not got:
            time.sleep(poll)
    for tail in tails:
        tail.close()
    report(total, final=True)
    sys.exit(0)
