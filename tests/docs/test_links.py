"""Broken links in the documentation.

For README.md, every docs/**/*.md and sample_logs/README.md: every relative link target
exists, and every ``#anchor`` (same file or ``file.md#anchor``) matches a heading of the
target as GitHub slugs it. Every ``runbook_url`` (alerts.yml, the detector's alert
annotations) resolves to a section of docs/runbook.md. External links are not fetched.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "runbook.md"
RUNBOOK_BASE = "https://github.com/distillwatch/distillwatch/blob/main/docs/runbook.md"
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
# [text](target "title") and ![alt](target); text may hold one level of brackets
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^()\s>]*)>?(?:\s+[^)]*)?\)")
_REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_HTML_ANCHOR = re.compile(r"<a\s+[^>]*(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)
_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def doc_files() -> list[Path]:
    """The markdown files whose links are checked."""
    files = [ROOT / "README.md", ROOT / "sample_logs" / "README.md"]
    files += sorted((ROOT / "docs").rglob("*.md"))
    return [f for f in files if f.is_file()]


def _prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, inline code spans blanked."""
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        opening = _FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)[0] * len(opening.group(1))
            continue
        if fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
            continue
        yield number, _CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading's text.

    The rendered text (inline markup removed: code spans keep their content, links keep
    their text, emphasis markers go) in lower case, every character that is not a letter,
    a digit, a space, ``-`` or ``_`` removed, spaces replaced by ``-``.

    Parameters
    ----------
    heading : str
        The heading as written in markdown (without the leading ``#``).

    Returns
    -------
    str
        The slug (without the ``-1``, ``-2`` suffixes of repeated headings).
    """
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links, images -> text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    text = text.replace("`", "")
    text = re.sub(r"(\*+|(?<!\w)_+|_+(?!\w))", "", text)  # emphasis markers
    out = []
    for ch in text.strip().lower():
        if ch in " -_" or unicodedata.category(ch)[0] in ("L", "N"):
            out.append("-" if ch == " " else ch)
    return "".join(out)


@cache
def anchors(path: Path) -> frozenset[str]:
    """Every anchor a markdown file defines: heading slugs (repeats numbered as GitHub
    does) and explicit HTML anchors."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    lines = list(_prose_lines(path.read_text(encoding="utf-8")))
    previous = ""
    for _, line in lines:
        heading = None
        match = _HEADING.match(line)
        if match:
            heading = match.group(2)
        elif _SETEXT.match(line) and previous.strip() and not previous.lstrip().startswith("|"):
            heading = previous.strip()
        if heading is not None:
            slug = github_slug(heading)
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
        found.update(_HTML_ANCHOR.findall(line))
        previous = line
    return frozenset(found)


def links(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, target) of every link of a markdown file, outside code (a link's
    text may run over a line break)."""
    prose = list(_prose_lines(path.read_text(encoding="utf-8")))
    numbers = [n for n, _ in prose]
    text = "\n".join(line for _, line in prose)
    for match in _INLINE_LINK.finditer(text):
        yield numbers[text.count("\n", 0, match.start(1))], match.group(1)
    for number, line in prose:
        ref = _REF_DEF.match(line)
        if ref:
            yield number, ref.group(1)


def broken_links(path: Path) -> list[str]:
    """Human-readable problems of the links of one file (empty when all resolve)."""
    problems = []
    rel = path.relative_to(ROOT)
    for number, target in links(path):
        if not target or _EXTERNAL.match(target):
            continue  # external (http, https, mailto): not fetched
        file_part, _, anchor = target.partition("#")
        file_part = unquote(file_part.split("?", 1)[0])
        dest = path if not file_part else (path.parent / file_part).resolve()
        if file_part and not dest.exists():
            problems.append(f"{rel}:{number}: {target}: no such file")
            continue
        if anchor:
            if dest.is_dir() or dest.suffix.lower() != ".md":
                problems.append(f"{rel}:{number}: {target}: anchor into a non-markdown target")
            elif unquote(anchor).lower() not in anchors(dest):
                problems.append(f"{rel}:{number}: {target}: no heading #{anchor}")
    return problems


# -- the checker itself ----------------------------------------------------------------
def test_github_slugs() -> None:
    assert github_slug("DistillwatchIngestLagHigh") == "distillwatchingestlaghigh"
    assert github_slug("Detection alerts") == "detection-alerts"
    assert github_slug("`/v1/score`") == "v1score"
    assert github_slug("Delivery and retries") == "delivery-and-retries"
    assert github_slug("Window state (per account, per event hour)") == (
        "window-state-per-account-per-event-hour"
    )
    assert github_slug("How well it *detects*: 1.0 vs. [two](x.md)") == (
        "how-well-it-detects-10-vs-two"
    )
    assert github_slug("snake_case and a-b") == "snake_case-and-a-b"


def test_checker_finds_broken_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "other.md").write_text("# Title\n\n## Same\n\n## Same\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](other.md) [ok](other.md#same-1) [ok](#page) [ext](https://example.com/x#y)\n"
        "[gone](missing.md) [bad anchor](other.md#nope) [self](#nowhere)\n"
        "`[code](missing.md)`\n\n```\n[fenced](missing.md)\n```\n"
        "[ref]: other.md#title\n[badref]: missing2.md\n"
        "a [link over\ntwo lines](missing3.md)\n"
    )
    problems = broken_links(page)
    assert len(problems) == 5, problems
    assert any(p.startswith("page.md:13: missing3.md") for p in problems), problems
    assert any("missing.md: no such file" in p for p in problems)
    assert any("other.md#nope" in p for p in problems)
    assert any("#nowhere" in p for p in problems)
    assert any("missing2.md" in p for p in problems)


# -- the documentation ---------------------------------------------------------------------
@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_anchors_resolve(path: Path) -> None:
    assert broken_links(path) == []


def _runbook_urls() -> list[tuple[str, str]]:
    from detector.alerts import RUNBOOK_URL
    from detector.linking import result

    urls = [("detector.alerts.RUNBOOK_URL", RUNBOOK_URL)]
    urls += [
        (f"{result.__name__}.{name}", value)
        for name, value in vars(result).items()
        if name.endswith("RUNBOOK_URL") and isinstance(value, str)
    ]
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            url = rule.get("annotations", {}).get("runbook_url")
            if url:
                urls.append((rule["alert"], url))
    return urls


def test_every_runbook_url_resolves_to_a_runbook_section() -> None:
    urls = _runbook_urls()
    assert len(urls) >= 10  # the detector's and every Prometheus alert's
    runbook_anchors = anchors(RUNBOOK)
    for owner, url in urls:
        base, _, anchor = url.partition("#")
        assert base == RUNBOOK_BASE, owner
        assert anchor in runbook_anchors, f"{owner}: {url}"


def test_runbook_has_one_section_per_prometheus_alert() -> None:
    doc = yaml.safe_load(RULES.read_text())
    alerts = [r["alert"] for g in doc["groups"] for r in g["rules"] if "alert" in r]
    sections = [
        m.group(2)
        for _, line in _prose_lines(RUNBOOK.read_text(encoding="utf-8"))
        if (m := _HEADING.match(line)) and m.group(1) == "##"
    ]
    assert "Detection alerts" in sections
    for alert in alerts:
        assert sections.count(alert) == 1, alert
    body = RUNBOOK.read_text(encoding="utf-8")
    for alert in alerts:
        section = body.split(f"## {alert}\n", 1)[1].split("\n## ", 1)[0]
        for part in ("**Meaning.**", "**Check.**", "**Act.**"):
            assert part in section, f"{alert}: {part}"
