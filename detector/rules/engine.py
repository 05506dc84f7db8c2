"""The rule engine: load a directory of rules, evaluate them over a feature frame.

>>> rules = RuleSet.load("rules")                 # validates and runs inline tests
>>> matches = rules.evaluate(features)             # bool frame: accounts x rule ids
>>> rules.hits_for(features.loc["acct-42"])        # evidence for one account
>>> rules.hits(features)                           # {account: [RuleHit, ...]} for all hits

Rules are data: call :meth:`RuleSet.load` again to pick up edited files; a directory
with any invalid rule or failing inline test raises and the caller keeps the old set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from detector.rules.condition import (
    Evidence,
    collect_evidence,
    describe,
    truth,
    truth_vector,
    unknown_leaves,
)
from detector.rules.defaults import feature_row
from detector.rules.model import (
    ACTIONS,
    LEVELS,
    Problem,
    Rule,
    RuleValidationError,
    load_rule_file,
)
from detector.rules.paths import default_rules_dir

__all__ = [
    "InlineTestResult",
    "LoadReport",
    "RuleHit",
    "RuleSet",
    "check_directory",
    "rule_files",
    "run_rule_tests",
]

RULE_GLOBS: tuple[str, ...] = ("*.yml", "*.yaml")


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One rule that matched one account.

    Attributes
    ----------
    rule_id, title, level, action, family : str
        Copied from the rule.
    evidence : tuple of str
        The leaf conditions that held, as analysts read them
        (``"cot_share 0.92 >= 0.6"``; under a ``not``, the negation that held).
    conditions : tuple of Evidence
        The same, structured (feature, operator, threshold, actual value).
    """

    rule_id: str
    title: str
    level: str
    action: str
    family: str
    evidence: tuple[str, ...] = ()
    conditions: tuple[Evidence, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rule_id": self.rule_id,
            "title": self.title,
            "level": self.level,
            "action": self.action,
            "family": self.family,
            "evidence": list(self.evidence),
            "conditions": [c.to_dict() for c in self.conditions],
        }


@dataclass(frozen=True, slots=True)
class InlineTestResult:
    """Outcome of one inline test."""

    rule_id: str
    source: str
    name: str
    expect: str
    got: str
    detail: str = ""

    @property
    def passed(self) -> bool:
        """Whether the rule behaved as the test expects."""
        return self.expect == self.got


def _explain(rule: Rule, row: Mapping[str, float], matched: bool) -> str:
    if matched:
        ev = collect_evidence(rule.condition, row, True)
        return "matched on " + "; ".join(e.text for e in ev)
    ev = collect_evidence(rule.condition, row, False)
    unknown = unknown_leaves(rule.condition, row)
    parts = []
    if ev:
        parts.append("held instead: " + "; ".join(e.text for e in ev))
    if unknown:
        parts.append("missing (NaN): " + ", ".join(sorted({leaf.feature for leaf in unknown})))
    return "; ".join(parts) or f"condition: {describe(rule.condition)}"


def run_rule_tests(rule: Rule) -> list[InlineTestResult]:
    """Run a rule's inline tests (deprecated rules too).

    Each test row is :data:`~detector.rules.defaults.BENIGN_DEFAULTS` overlaid with the
    test's features, evaluated with the vectorised engine; the per-row reference
    evaluator must agree (a disagreement is an engine bug and raises).

    Parameters
    ----------
    rule : Rule

    Returns
    -------
    list of InlineTestResult
        One per inline test, in file order.
    """
    rows = [feature_row(t.features) for t in rule.tests]
    frame = pd.DataFrame(rows)
    matched, _ = truth_vector(rule.condition, lambda name: frame[name].to_numpy(np.float64))
    results = []
    for test, row, hit in zip(rule.tests, rows, matched, strict=True):
        reference = truth(rule.condition, row) is True
        if reference != bool(hit):  # pragma: no cover - engine invariant
            raise AssertionError(f"{rule.source}: vector/row evaluation disagree on {test.name!r}")
        got = "match" if hit else "no_match"
        detail = "" if got == test.expect else _explain(rule, row, bool(hit))
        results.append(InlineTestResult(rule.id, rule.source, test.name, test.expect, got, detail))
    return results


@dataclass
class LoadReport:
    """Everything :func:`check_directory` found.

    Attributes
    ----------
    directory : pathlib.Path
    files : list of pathlib.Path
        Rule files seen.
    rules : list of Rule
        Rules that passed structural validation (first of any duplicate id).
    problems : list of Problem
        Validation problems and failed inline tests.
    results : dict
        Rule id -> its inline test results (when tests were run).
    version : str
        Short hash of the files' names and contents.
    """

    directory: Path
    files: list[Path] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    results: dict[str, list[InlineTestResult]] = field(default_factory=dict)
    version: str = ""

    @property
    def ok(self) -> bool:
        """No problem at all."""
        return not self.problems


def rule_files(directory: Path) -> list[Path]:
    """Rule files directly in ``directory`` (``*.yml``, ``*.yaml``), sorted by name."""
    found = {p for pattern in RULE_GLOBS for p in directory.glob(pattern) if p.is_file()}
    return sorted(found, key=lambda p: p.name)


def check_directory(directory: Path | str | None = None, *, run_tests: bool = True) -> LoadReport:
    """Validate every rule file in a directory and run the inline tests.

    Unlike :meth:`RuleSet.load` this never raises on bad rules: it reports every
    problem, so a command line can show them all at once.

    Parameters
    ----------
    directory : path, optional
        Rules directory; default :func:`~detector.rules.paths.default_rules_dir`.
    run_tests : bool
        Also run each rule's inline tests (failures become problems).

    Returns
    -------
    LoadReport
    """
    directory = Path(directory) if directory is not None else default_rules_dir()
    report = LoadReport(directory=directory)
    if not directory.is_dir():
        report.problems.append(Problem(str(directory), "rules directory not found"))
        return report
    report.files = rule_files(directory)
    if not report.files:
        report.problems.append(Problem(str(directory), "no rule files (*.yml) found"))
    digest = hashlib.sha256()
    first_source: dict[str, str] = {}
    for path in report.files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        try:
            rule = load_rule_file(path)
        except RuleValidationError as exc:
            report.problems.extend(exc.problems)
            continue
        if rule.id in first_source:
            report.problems.append(
                Problem(
                    rule.source, f"duplicate id {rule.id} (already used by {first_source[rule.id]})"
                )
            )
            continue
        first_source[rule.id] = rule.source
        report.rules.append(rule)
    report.version = digest.hexdigest()[:12]
    if run_tests:
        for rule in report.rules:
            results = run_rule_tests(rule)
            report.results[rule.id] = results
            for r in results:
                if not r.passed:
                    report.problems.append(
                        Problem(
                            rule.source,
                            f"inline test {r.name!r} failed: expected {r.expect}, got {r.got}"
                            + (f" ({r.detail})" if r.detail else ""),
                        )
                    )
    return report


_LEVEL_RANK = {level: i for i, level in enumerate(LEVELS)}
_ACTION_RANK = {action: i for i, action in enumerate(ACTIONS)}


class RuleSet:
    """A validated, immutable set of rules, evaluated vectorised over feature frames.

    Parameters
    ----------
    rules : iterable of Rule
        Rules (ids must be unique). Deprecated rules are kept but never evaluated.
    directory : pathlib.Path, optional
        Where they were loaded from.
    version : str, optional
        Content hash of the rule files (reported by the service after a reload).
    """

    def __init__(
        self,
        rules: Iterable[Rule],
        *,
        directory: Path | None = None,
        version: str = "",
    ) -> None:
        self._rules = tuple(rules)
        ids = [r.id for r in self._rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule ids: {', '.join(dupes)}")
        self._by_id = {r.id: r for r in self._rules}
        self._active = tuple(r for r in self._rules if not r.deprecated)
        self.directory = directory
        self.version = version

    @classmethod
    def load(cls, directory: Path | str | None = None, *, run_tests: bool = True) -> RuleSet:
        """Load, validate and (by default) test every rule file in a directory.

        Call it again to reload edited rules at run time; the returned set is new and
        the old one stays valid, so a failed reload leaves the running set untouched.

        Parameters
        ----------
        directory : path, optional
            Rules directory; default :func:`~detector.rules.paths.default_rules_dir`.
        run_tests : bool
            Run each rule's inline tests and refuse the set if any fails.

        Returns
        -------
        RuleSet

        Raises
        ------
        RuleValidationError
            Listing every problem, each with its file.
        """
        report = check_directory(directory, run_tests=run_tests)
        if report.problems:
            raise RuleValidationError(report.problems)
        return cls(report.rules, directory=report.directory, version=report.version)

    # ----------------------------------------------------------------- accessors

    @property
    def rules(self) -> tuple[Rule, ...]:
        """All loaded rules, deprecated included, in file-name order."""
        return self._rules

    @property
    def active(self) -> tuple[Rule, ...]:
        """The rules that are evaluated (status is not ``deprecated``)."""
        return self._active

    @property
    def ids(self) -> list[str]:
        """Ids of the active rules: the columns of :meth:`evaluate`."""
        return [r.id for r in self._active]

    @property
    def required_features(self) -> frozenset[str]:
        """Every feature an active rule reads."""
        return frozenset().union(*(r.features for r in self._active))

    def get(self, rule_id: str) -> Rule:
        """The rule with this id (``KeyError`` when unknown)."""
        return self._by_id[rule_id]

    def __len__(self) -> int:
        return len(self._rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules)

    def __repr__(self) -> str:
        return (
            f"RuleSet({len(self._active)} active / {len(self._rules)} rules, "
            f"version={self.version or '-'})"
        )

    # ----------------------------------------------------------------- evaluation

    def _check_columns(self, available: Iterable[str], what: str) -> None:
        missing = sorted(self.required_features - set(available))
        if missing:
            raise KeyError(f"{what} lacks feature(s) used by rules: {', '.join(missing)}")

    def evaluate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Which active rules match which accounts.

        Vectorised with numpy: each feature column is converted once and each leaf is
        one array comparison. NaN never makes a comparison hold (see
        :mod:`detector.rules.condition` for the three-valued logic).

        Parameters
        ----------
        frame : pandas.DataFrame
            One row per account, one column per feature (as built by
            :func:`detector.features.compute.feature_frame`); extra columns are ignored.

        Returns
        -------
        pandas.DataFrame
            Boolean, same index as ``frame``, one column per active rule id.

        Raises
        ------
        KeyError
            When ``frame`` lacks a feature an active rule reads.
        """
        matches, _ = self._evaluate(frame)
        return matches

    def _evaluate(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
        self._check_columns(frame.columns, "feature frame")
        columns = {
            name: frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
            for name in sorted(self.required_features)
        }
        data = {
            rule.id: truth_vector(rule.condition, columns.__getitem__)[0] for rule in self._active
        }
        out = pd.DataFrame(data, index=frame.index, columns=self.ids, dtype=bool)
        out.columns.name = "rule_id"
        return out, columns

    def hits_for(self, row: pd.Series | Mapping[str, float]) -> list[RuleHit]:
        """Matching rules for one account, with evidence, most severe first.

        Parameters
        ----------
        row : pandas.Series or mapping
            The account's features (a row of the feature frame).

        Returns
        -------
        list of RuleHit
            Sorted by level, then action (most severe first), then title.

        Raises
        ------
        KeyError
            When ``row`` lacks a feature an active rule reads.
        """
        self._check_columns(row.keys(), "feature row")
        hits = [self._hit(rule, row) for rule in self._active if truth(rule.condition, row) is True]
        hits.sort(key=lambda h: (-_LEVEL_RANK[h.level], -_ACTION_RANK[h.action], h.title))
        return hits

    def hits(self, frame: pd.DataFrame) -> dict[Any, list[RuleHit]]:
        """Rule hits with evidence for every account that matched at least one rule.

        Evaluates the whole frame vectorised, then builds evidence only for the matching
        (account, rule) pairs.

        Parameters
        ----------
        frame : pandas.DataFrame
            Feature frame indexed by account id.

        Returns
        -------
        dict
            account id -> hits (as :meth:`hits_for`); accounts without hits are absent.
        """
        matches, columns = self._evaluate(frame)
        values = matches.to_numpy()
        if values.size == 0:
            return {}
        rows = np.flatnonzero(values.any(axis=1))
        names = list(columns)
        matrix = (
            np.column_stack([columns[n][rows] for n in names])
            if names
            else np.empty((len(rows), 0))
        )
        labels = frame.index[rows].tolist()
        out: dict[Any, list[RuleHit]] = {}
        for k, i in enumerate(rows):
            row = dict(zip(names, matrix[k].tolist(), strict=True))
            hits = [self._hit(self._active[j], row) for j in np.flatnonzero(values[i])]
            hits.sort(key=lambda h: (-_LEVEL_RANK[h.level], -_ACTION_RANK[h.action], h.title))
            out[labels[k]] = hits
        return out

    @staticmethod
    def _hit(rule: Rule, row: pd.Series | Mapping[str, float]) -> RuleHit:
        conditions = tuple(collect_evidence(rule.condition, row, True))
        return RuleHit(
            rule_id=rule.id,
            title=rule.title,
            level=rule.level,
            action=rule.action,
            family=rule.family,
            evidence=tuple(c.text for c in conditions),
            conditions=conditions,
        )
