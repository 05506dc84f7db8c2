"""``distillwatch rules``: validate, test and list the detection rules.

``distillwatch rules test`` validates every rule file (schema features, operators,
value types, uuid4 ids, duplicate ids, required keys, enumerations, at least one
positive and one negative inline test), runs every inline test, validates the
allowlists, prints a table and exits 1 on any problem. ``distillwatch rules list``
prints id, level, action, family, status and title of each rule.

Both take ``--rules-dir``; the default is ``./rules`` when it exists, else the copy
shipped in the package.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from detector.rules import (
    Allowlist,
    LoadReport,
    RuleValidationError,
    check_directory,
    default_rules_dir,
)

__all__ = ["rules_cmd"]

_TITLE_WIDTH = 64

_rules_dir_option = click.option(
    "--rules-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Rules directory (default: ./rules if present, else the packaged rules).",
)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _short(text: str, width: int = _TITLE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _test_rows(report: LoadReport) -> list[list[str]]:
    rows = []
    by_source = {rule.source: rule for rule in report.rules}
    failing_sources = {p.source for p in report.problems}
    for path in report.files:
        rule = by_source.get(str(path))
        if rule is None:
            rows.append([path.name, "(invalid rule file)", "-", "INVALID"])
            continue
        results = report.results.get(rule.id, [])
        passed = sum(r.passed for r in results)
        status = "ok" if str(path) not in failing_sources else "FAIL"
        title = _short(rule.title) + (" [deprecated]" if rule.deprecated else "")
        rows.append([rule.id[:8], title, f"{passed}/{len(results)}", status])
    return rows


def _check_allowlists(directory: Path) -> tuple[str | None, list[str]]:
    allow_dir = directory / "allowlists"
    if not allow_dir.is_dir():
        return None, []
    try:
        allow = Allowlist.load(allow_dir)
    except RuleValidationError as exc:
        return None, [str(p) for p in exc.problems]
    expired = len(allow.expired())
    note = f"allowlists: {len(allow)} entries ({expired} expired) in {allow_dir}"
    return note, []


@click.group("rules")
def rules_cmd() -> None:
    """Validate, test and list the detection rules (rules/*.yml)."""


@rules_cmd.command("test")
@_rules_dir_option
@click.option("-v", "--verbose", is_flag=True, help="Also list every inline test.")
def test_cmd(rules_dir: Path | None, verbose: bool) -> None:
    """Validate every rule, run its inline tests and check the allowlists.

    Exits 1 when any rule file is invalid, any inline test fails or an allowlist file is
    invalid.
    """
    directory = rules_dir or default_rules_dir()
    report = check_directory(directory, run_tests=True)
    rows = _test_rows(report)
    if rows:
        for text in _table(["rule", "title", "tests", "result"], rows):
            click.echo(text)
    if verbose:
        click.echo("")
        for rule in report.rules:
            for r in report.results.get(rule.id, []):
                mark = "ok  " if r.passed else "FAIL"
                click.echo(f"{mark} {rule.id[:8]} {r.name} (expect {r.expect}, got {r.got})")
    allow_note, allow_problems = _check_allowlists(directory)
    problems = [str(p) for p in report.problems] + allow_problems
    n_tests = sum(len(v) for v in report.results.values())
    n_passed = sum(r.passed for v in report.results.values() for r in v)
    click.echo("")
    click.echo(
        f"{len(report.rules)}/{len(report.files)} rule files valid, "
        f"{n_passed}/{n_tests} inline tests passed, rules version {report.version or '-'} "
        f"({directory})"
    )
    if allow_note:
        click.echo(allow_note)
    if problems:
        click.echo(f"\n{len(problems)} problem{'s' if len(problems) != 1 else ''}:", err=True)
        for p in problems:
            click.echo(f"  {p}", err=True)
        sys.exit(1)


@rules_cmd.command("list")
@_rules_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_cmd(rules_dir: Path | None, as_json: bool) -> None:
    """List the rules: id, level, action, family, status and title.

    Invalid files are reported on stderr and make the command exit 1 (valid rules are
    still listed).
    """
    directory = rules_dir or default_rules_dir()
    report = check_directory(directory, run_tests=False)
    if as_json:
        data = [
            {
                "id": r.id,
                "level": r.level,
                "action": r.action,
                "family": r.family,
                "status": r.status,
                "title": r.title,
                "file": Path(r.source).name,
            }
            for r in report.rules
        ]
        click.echo(json.dumps(data, indent=2))
    else:
        rows = [[r.id, r.level, r.action, r.family, r.status, r.title] for r in report.rules]
        for text in _table(["id", "level", "action", "family", "status", "title"], rows):
            click.echo(text)
    if report.problems:
        click.echo(f"{len(report.problems)} problem(s):", err=True)
        for p in report.problems:
            click.echo(f"  {p}", err=True)
        sys.exit(1)
