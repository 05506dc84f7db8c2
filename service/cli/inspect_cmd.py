"""``distillwatch inspect``: read log exports and say what is in them.

Reads any supported export (LiteLLM / OpenAI-style / canonical; JSONL, JSON, CSV,
Parquet, ``.gz``), validates every record, and prints per file the format detected and
the record counts, then accounts, time range, models, statuses and quarantined records
by reason. ``--quarantine-out`` writes the rejected records (reason, location, the start
of the raw line) as JSONL; ``--json`` prints the summary as JSON for scripts.

Exit status: 0 when the files were read (even with quarantined records), 2 for usage
errors (missing file, bad option).
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import click

from detector.ingest import (
    FORMATS,
    RAW_LIMIT,
    REASONS,
    EventChunk,
    QuarantineWriter,
    expand_paths,
    format_rfc3339,
    iter_event_chunks,
    parse_account_field,
)

__all__ = ["InspectSummary", "inspect_cmd"]

_TOP_MODELS = 10


@dataclass
class _FileStats:
    path: str
    container: str = "?"
    compression: str | None = None
    formats: Counter[str] = field(default_factory=Counter)
    records: int = 0
    events: int = 0
    quarantined: int = 0
    bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "container": self.container,
            "compression": self.compression,
            "format": self.format,
            "formats": dict(self.formats.most_common()),
            "records": self.records,
            "events": self.events,
            "quarantined": self.quarantined,
            "bytes": self.bytes,
        }

    @property
    def format(self) -> str:
        if not self.formats:
            return "unknown"
        return self.formats.most_common(1)[0][0] if len(self.formats) == 1 else "mixed"


class InspectSummary:
    """Accumulates what ``inspect`` reports, one :class:`EventChunk` at a time."""

    def __init__(self) -> None:
        self.files: dict[str, _FileStats] = {}
        self.accounts: set[str] = set()
        self.models: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.ts_min: float | None = None
        self.ts_max: float | None = None
        self.records = 0
        self.events = 0
        self.quarantined = 0
        self.elapsed_s = 0.0

    def add(self, chunk: EventChunk) -> None:
        """Fold one chunk into the summary."""
        stats = self.files.get(chunk.file)
        if stats is None:
            stats = self.files[chunk.file] = _FileStats(chunk.file)
        stats.container = chunk.container
        stats.compression = chunk.compression
        stats.formats.update(chunk.formats)
        stats.records += chunk.records
        stats.events += len(chunk.events)
        stats.quarantined += len(chunk.quarantined)
        stats.bytes = chunk.bytes_total
        self.records += chunk.records
        self.events += len(chunk.events)
        self.quarantined += len(chunk.quarantined)
        if chunk.events:
            self.accounts.update(e["account_id"] for e in chunk.events)
            self.models.update(e["model"] or "(none)" for e in chunk.events)
            self.statuses.update(e["status"] or "(none)" for e in chunk.events)
            lo = min(e["ts"] for e in chunk.events)
            hi = max(e["ts"] for e in chunk.events)
            self.ts_min = lo if self.ts_min is None else min(self.ts_min, lo)
            self.ts_max = hi if self.ts_max is None else max(self.ts_max, hi)
        self.reasons.update(q.reason for q in chunk.quarantined)

    def to_dict(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict (the ``--json`` output)."""
        return {
            "files": [f.to_dict() for f in self.files.values()],
            "records": self.records,
            "events": self.events,
            "quarantined": self.quarantined,
            "accounts": len(self.accounts),
            "time_range": {
                "start": format_rfc3339(self.ts_min),
                "end": format_rfc3339(self.ts_max),
                "start_ts": self.ts_min,
                "end_ts": self.ts_max,
            },
            "models": dict(self.models.most_common(_TOP_MODELS)),
            "models_distinct": len(self.models),
            "status": dict(self.statuses.most_common()),
            "quarantined_by_reason": dict(self.reasons.most_common()),
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def render_text(self) -> str:
        """The human-readable summary."""
        out: list[str] = []
        share = f" ({self.quarantined / self.records:.1%})" if self.records else ""
        out.append(
            f"{len(self.files)} file(s): {self.records:,} records, {self.events:,} events, "
            f"{self.quarantined:,} quarantined{share}"
        )
        out.append("")
        rows = []
        for f in self.files.values():
            container = f.container + ("+gz" if f.compression else "")
            fmt = f.format
            if fmt == "mixed":
                fmt = "+".join(name for name, _ in f.formats.most_common())
            rows.append((f.path, container, fmt, f.records, f.events, f.quarantined))
        w_path = max([len(r[0]) for r in rows] + [4])
        w_fmt = max([len(r[2]) for r in rows] + [6])
        out.append(
            f"{'FILE':<{w_path}}  {'CONTAINER':<10} {'FORMAT':<{w_fmt}} {'RECORDS':>10} "
            f"{'EVENTS':>10} {'QUARANTINED':>11}"
        )
        for path, container, fmt, records, events, quarantined in rows:
            out.append(
                f"{path:<{w_path}}  {container:<10} {fmt:<{w_fmt}} {records:>10,} "
                f"{events:>10,} {quarantined:>11,}"
            )
        out.append("")
        out.append(f"accounts      {len(self.accounts):,}")
        if self.ts_min is not None and self.ts_max is not None:
            out.append(
                f"time range    {format_rfc3339(self.ts_min)} .. {format_rfc3339(self.ts_max)}"
                f"  ({_duration(self.ts_max - self.ts_min)})"
            )
        else:
            out.append("time range    -")
        out.append(f"models        {_counts(self.models, _TOP_MODELS)}")
        out.append(f"status        {_counts(self.statuses)}")
        if self.reasons:
            out.append("quarantined")
            for reason, n in self.reasons.most_common():
                out.append(f"  {reason:<20} {n:>10,}  {REASONS.get(reason, '')}")
        else:
            out.append("quarantined   none")
        return "\n".join(out)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:,.1f} days"


def _counts(counter: Counter[str], top: int | None = None) -> str:
    if not counter:
        return "-"
    items = counter.most_common(top)
    text = ", ".join(f"{name} {n:,}" for name, n in items)
    rest = len(counter) - len(items)
    return text + (f", ... ({rest} more)" if rest > 0 else "")


def _progress_bar(files: list[str], enabled: bool | None) -> Any:
    from tqdm import tqdm

    total = sum(os.path.getsize(f) for f in files if f != "-") or None
    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc="inspect",
        file=sys.stderr,
        disable=None if enabled is None else not enabled,
        leave=False,
        dynamic_ncols=True,
    )


@click.command("inspect")
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, allow_dash=True, readable=True, path_type=str),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", *FORMATS]),
    default="auto",
    show_default=True,
    help="Record format; 'auto' detects it per record.",
)
@click.option(
    "--account-field",
    default=None,
    metavar="PATH[,PATH...]",
    help="Dotted path(s) to the account in the raw record, first non-empty wins "
    "(e.g. metadata.user_api_key_team_id,metadata.user_api_key_hash).",
)
@click.option(
    "--quarantine-out",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="Write rejected records (reason, location, start of the raw line) to this JSONL file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: when stderr is a terminal).",
)
@click.option("--chunk-size", type=click.IntRange(min=1), default=20_000, hidden=True)
def inspect_cmd(
    files: tuple[str, ...],
    fmt: str,
    account_field: str | None,
    quarantine_out: str | None,
    as_json: bool,
    progress: bool | None,
    chunk_size: int,
) -> None:
    """Read log exports (FILE... or - for stdin) and summarise them.

    Formats: LiteLLM StandardLoggingPayload, OpenAI request/response pairs, the
    canonical schema; as JSONL / JSON / CSV / Parquet, optionally gzipped.
    """
    try:
        parse_account_field(account_field)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--account-field") from None
    try:
        paths = expand_paths(files)
    except FileNotFoundError as exc:
        raise click.BadParameter(str(exc), param_hint="FILE") from None
    if not paths:
        raise click.BadParameter("no supported log files found", param_hint="FILE")

    writer: QuarantineWriter | None = None
    if quarantine_out is not None:
        try:
            writer = QuarantineWriter(quarantine_out)
        except OSError as exc:
            raise click.BadParameter(
                f"cannot write {quarantine_out}: {exc.strerror or exc}",
                param_hint="--quarantine-out",
            ) from None

    summary = InspectSummary()
    seen: dict[str, int] = {}
    started = time.perf_counter()
    bar = _progress_bar(paths, progress)
    try:
        # raw text of rejected records is kept only when the operator asked for the file
        raw_limit = RAW_LIMIT if writer is not None else 0
        chunks = iter_event_chunks(
            paths, fmt, account_field, chunk_size=chunk_size, raw_limit=raw_limit
        )
        for chunk in chunks:
            summary.add(chunk)
            if writer is not None and chunk.quarantined:
                writer.write(chunk.quarantined)
            delta = chunk.bytes_done - seen.get(chunk.file, 0)
            seen[chunk.file] = chunk.bytes_done
            if delta > 0:
                bar.update(delta)
            bar.set_postfix(records=f"{summary.records:,}", refresh=False)
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    summary.elapsed_s = time.perf_counter() - started

    if as_json:
        import orjson

        click.echo(orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(summary.render_text())
        if writer is not None:
            click.echo(f"quarantine    {writer.count:,} record(s) written to {writer.path}")
    rate = summary.records / summary.elapsed_s if summary.elapsed_s > 0 else 0.0
    click.echo(
        f"read {summary.records:,} records in {summary.elapsed_s:.2f} s ({rate:,.0f} records/s)",
        err=True,
    )
