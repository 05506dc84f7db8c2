"""Detection rules: YAML files with structured conditions over account features.

Public API:

- :class:`RuleSet` (``load``, ``evaluate``, ``hits``, ``hits_for``) and :class:`RuleHit`
- :func:`check_directory` / :func:`run_rule_tests` (validation and inline tests)
- :class:`Allowlist` and :func:`cap_action` (allowlisted accounts are capped at review)
- :data:`BENIGN_DEFAULTS`, the neutral row inline tests start from

See ``docs/rules.md`` for the file format.
"""

from __future__ import annotations

from detector.rules.allowlist import AllowEntry, Allowlist, cap_action
from detector.rules.condition import OPS, Evidence
from detector.rules.defaults import BENIGN_DEFAULTS, feature_row
from detector.rules.engine import (
    InlineTestResult,
    LoadReport,
    RuleHit,
    RuleSet,
    check_directory,
    run_rule_tests,
)
from detector.rules.loading import load_rules
from detector.rules.model import (
    ACTIONS,
    LEVELS,
    STATUSES,
    Problem,
    Rule,
    RuleTest,
    RuleValidationError,
    load_rule_file,
    parse_rule,
)
from detector.rules.paths import default_allowlist_dir, default_rules_dir

__all__ = [
    "ACTIONS",
    "BENIGN_DEFAULTS",
    "LEVELS",
    "OPS",
    "STATUSES",
    "AllowEntry",
    "Allowlist",
    "Evidence",
    "InlineTestResult",
    "LoadReport",
    "Problem",
    "Rule",
    "RuleHit",
    "RuleSet",
    "RuleTest",
    "RuleValidationError",
    "cap_action",
    "check_directory",
    "default_allowlist_dir",
    "default_rules_dir",
    "feature_row",
    "load_rule_file",
    "load_rules",
    "parse_rule",
    "run_rule_tests",
]
