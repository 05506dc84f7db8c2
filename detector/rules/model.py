"""Rule files: the data model, the loader and the structural validator.

One YAML file per rule (see ``docs/rules.md``). :func:`parse_rule` checks everything
that can be checked from one file alone (required keys, enumerations, uuid4 id, the
condition tree against the feature schema, the shape of inline tests);
:mod:`detector.rules.engine` adds the checks across files (duplicate ids) and runs the
inline tests.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector.features.schema import FAMILIES, FEATURE_NAMES
from detector.rules._yaml import YamlError, load_yaml
from detector.rules.condition import Node, feature_bounds, iter_leaves, parse_condition
from detector.vocabulary import ALERT_ACTIONS
from detector.vocabulary import LEVELS as VOCAB_LEVELS

__all__ = [
    "ACTIONS",
    "EXPECTS",
    "LEVELS",
    "OPTIONAL_KEYS",
    "REQUIRED_KEYS",
    "STATUSES",
    "Problem",
    "Rule",
    "RuleTest",
    "RuleValidationError",
    "load_rule_file",
    "parse_rule",
]

STATUSES: tuple[str, ...] = ("experimental", "test", "stable", "deprecated")
LEVELS = VOCAB_LEVELS  # ascending severity
ACTIONS: tuple[str, ...] = tuple(reversed(ALERT_ACTIONS))  # a rule's actions, ascending
EXPECTS: tuple[str, ...] = ("match", "no_match")
REQUIRED_KEYS: tuple[str, ...] = (
    "id",
    "title",
    "status",
    "level",
    "action",
    "family",
    "description",
    "references",
    "falsepositives",
    "author",
    "date",
    "condition",
    "tests",
)
OPTIONAL_KEYS: tuple[str, ...] = ("tags", "modified")


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation problem, tied to the file (or rule) it was found in."""

    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


class RuleValidationError(ValueError):
    """Rule or allowlist files that failed validation; ``problems`` lists every issue."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in rule or allowlist files:"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


@dataclass(frozen=True, slots=True)
class RuleTest:
    """One inline test: a feature row and the expected outcome.

    Attributes
    ----------
    name : str
        Unique within the rule.
    features : dict
        Feature name -> value; every other feature takes its neutral default
        (:data:`detector.rules.defaults.BENIGN_DEFAULTS`). ``None`` means missing (NaN).
    expect : str
        ``match`` or ``no_match``.
    """

    name: str
    features: dict[str, float]
    expect: str

    @property
    def expect_match(self) -> bool:
        """Whether the rule should fire on this row."""
        return self.expect == "match"


@dataclass(frozen=True, slots=True)
class Rule:
    """One detection rule, as loaded from its file.

    Attributes mirror the YAML keys (see ``docs/rules.md``); ``source`` is the file path.
    """

    id: str
    title: str
    status: str
    level: str
    action: str
    family: str
    description: str
    references: tuple[str, ...]
    falsepositives: tuple[str, ...]
    author: str
    date: dt.date
    condition: Node
    tests: tuple[RuleTest, ...]
    tags: tuple[str, ...] = ()
    modified: dt.date | None = None
    source: str = field(default="", compare=False)

    @property
    def deprecated(self) -> bool:
        """Deprecated rules load (and their tests run) but are never evaluated."""
        return self.status == "deprecated"

    @property
    def features(self) -> frozenset[str]:
        """Every feature the condition reads."""
        names: set[str] = set()
        for leaf in iter_leaves(self.condition):
            names.add(leaf.feature)
            if leaf.feature_ref is not None:
                names.add(leaf.feature_ref)
        return frozenset(names)


# --------------------------------------------------------------------------- validation


def _str(data: Mapping[str, Any], key: str, problems: list[str]) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{key}: must be a non-empty string, got {value!r}")
        return ""
    return value.strip()


def _choice(
    data: Mapping[str, Any], key: str, allowed: tuple[str, ...], problems: list[str]
) -> str:
    value = data.get(key)
    if value not in allowed:
        problems.append(f"{key}: unknown {key} {value!r} (expected one of {', '.join(allowed)})")
        return ""
    return value


def _str_list(data: Mapping[str, Any], key: str, problems: list[str], non_empty: bool) -> tuple:
    value = data.get(key)
    if value is None and not non_empty:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{key}: must be a list of non-empty strings, got {value!r}")
        return ()
    if non_empty and not value:
        problems.append(f"{key}: must list at least one entry")
    return tuple(v.strip() for v in value)


def _date(value: Any, key: str, problems: list[str]) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    problems.append(f"{key}: must be a date YYYY-MM-DD, got {value!r}")
    return None


def _uuid4(value: Any, problems: list[str]) -> str:
    if not isinstance(value, str):
        problems.append(f"id: must be a uuid4 string, got {value!r}")
        return ""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        problems.append(
            f"id: {value!r} is not a UUID "
            "(generate one: python -c 'import uuid; print(uuid.uuid4())')"
        )
        return ""
    if parsed.version != 4 or str(parsed) != value:
        problems.append(f"id: {value!r} is not a canonical lower-case uuid4")
        return ""
    return value


def _test_value(name: str, value: Any, where: str, problems: list[str]) -> float:
    if value is None:
        return math.nan
    if not isinstance(value, int | float) or isinstance(value, bool):
        problems.append(f"{where}.{name}: must be a number (or null for missing), got {value!r}")
        return math.nan
    lo, hi = feature_bounds(name)
    if not math.isnan(value) and not lo <= value <= hi:
        problems.append(
            f"{where}.{name}: value {value!r} is outside the feature's range [{lo:g}, {hi:g}]"
        )
    return float(value)


def _parse_tests(value: Any, problems: list[str]) -> tuple[RuleTest, ...]:
    if not isinstance(value, list) or not value:
        problems.append("tests: must be a non-empty list of {name, features, expect}")
        return ()
    tests: list[RuleTest] = []
    names: set[str] = set()
    for i, raw in enumerate(value):
        where = f"tests[{i}]"
        if not isinstance(raw, Mapping):
            problems.append(f"{where}: must be a mapping with name, features, expect")
            continue
        extra = sorted(set(raw) - {"name", "features", "expect"}, key=str)
        if extra:
            problems.append(f"{where}: unknown key(s) {', '.join(map(repr, extra))}")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}.name: must be a non-empty string")
            name = f"#{i}"
        elif name in names:
            problems.append(f"{where}.name: duplicate test name {name!r}")
        names.add(name)
        expect = raw.get("expect")
        if expect not in EXPECTS:
            problems.append(f"{where}.expect: must be 'match' or 'no_match', got {expect!r}")
        feats = raw.get("features", {})
        if feats is None:
            feats = {}
        if not isinstance(feats, Mapping):
            problems.append(f"{where}.features: must be a mapping feature -> value")
            feats = {}
        row: dict[str, float] = {}
        for fname, fvalue in feats.items():
            if fname not in FEATURE_NAMES:
                problems.append(f"{where}.features: unknown feature {fname!r}")
                continue
            row[fname] = _test_value(fname, fvalue, f"{where}.features", problems)
        tests.append(RuleTest(name=name, features=row, expect=str(expect)))
    expects = {t.expect for t in tests}
    if "match" not in expects or "no_match" not in expects:
        problems.append(
            "tests: need at least one 'expect: match' and one 'expect: no_match' test "
            f"(found {sorted(expects) or 'none'})"
        )
    return tuple(tests)


def parse_rule(data: Any, source: str = "<rule>") -> Rule:
    """Validate the YAML form of one rule and build the :class:`Rule`.

    Inline tests are parsed but not run (see :func:`detector.rules.engine.run_rule_tests`).

    Parameters
    ----------
    data : Any
        The parsed YAML document.
    source : str
        File name used in problem messages.

    Returns
    -------
    Rule

    Raises
    ------
    RuleValidationError
        Listing every problem found in the file.
    """
    if not isinstance(data, Mapping):
        kind = "empty file" if data is None else type(data).__name__
        raise RuleValidationError([Problem(source, f"expected a mapping of rule keys, got {kind}")])
    problems: list[str] = []
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        problems.append(f"missing required key(s): {', '.join(missing)}")
    unknown = sorted(set(map(str, data)) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        problems.append(
            f"unknown key(s): {', '.join(unknown)} "
            f"(allowed: {', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)})"
        )
    rule_id = _uuid4(data.get("id"), problems) if "id" in data else ""
    title = _str(data, "title", problems) if "title" in data else ""
    status = _choice(data, "status", STATUSES, problems) if "status" in data else ""
    level = _choice(data, "level", LEVELS, problems) if "level" in data else ""
    action = _choice(data, "action", ACTIONS, problems) if "action" in data else ""
    family = _choice(data, "family", tuple(FAMILIES), problems) if "family" in data else ""
    description = _str(data, "description", problems) if "description" in data else ""
    author = _str(data, "author", problems) if "author" in data else ""
    references = _str_list(data, "references", problems, non_empty=False)
    falsepositives = (
        _str_list(data, "falsepositives", problems, non_empty=True)
        if "falsepositives" in data
        else ()
    )
    tags = _str_list(data, "tags", problems, non_empty=False)
    date = _date(data.get("date"), "date", problems) if "date" in data else None
    modified = _date(data["modified"], "modified", problems) if "modified" in data else None
    condition = None
    if "condition" in data:
        condition, cond_problems = parse_condition(data["condition"])
        problems.extend(cond_problems)
    tests = _parse_tests(data["tests"], problems) if "tests" in data else ()
    if problems or condition is None or date is None:
        raise RuleValidationError([Problem(source, p) for p in problems])
    return Rule(
        id=rule_id,
        title=title,
        status=status,
        level=level,
        action=action,
        family=family,
        description=description,
        references=references,
        falsepositives=falsepositives,
        author=author,
        date=date,
        condition=condition,
        tests=tests,
        tags=tags,
        modified=modified,
        source=source,
    )


def load_rule_file(path: Path | str) -> Rule:
    """Read and validate one rule file.

    Parameters
    ----------
    path : pathlib.Path or str
        A ``*.yml`` rule file.

    Returns
    -------
    Rule

    Raises
    ------
    RuleValidationError
        When the file is not valid YAML or not a valid rule.
    """
    path = Path(path)
    try:
        data = load_yaml(path)
    except (YamlError, OSError, UnicodeDecodeError) as exc:
        raise RuleValidationError([Problem(str(path), str(exc))]) from exc
    return parse_rule(data, str(path))
