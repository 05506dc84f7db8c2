"""Load a rules directory: its rules and its allowlists, the same way everywhere."""

from __future__ import annotations

from pathlib import Path

from detector.rules.allowlist import Allowlist
from detector.rules.engine import RuleSet
from detector.rules.paths import default_allowlist_dir, default_rules_dir

__all__ = ["load_rules"]


def load_rules(rules_dir: str | Path | None = None) -> tuple[RuleSet, Allowlist]:
    """The rules of ``rules_dir`` (default: the packaged rules) and the allowlists in its
    ``allowlists/`` folder (an empty allowlist when there is none). Used by the offline
    audit and the streaming scorer, so both judge with the same rules.

    Raises
    ------
    detector.rules.RuleValidationError
        When a rule file is invalid or an inline test fails.
    """
    directory = Path(rules_dir) if rules_dir else default_rules_dir()
    return RuleSet.load(directory), Allowlist.load(
        default_allowlist_dir(directory), missing_ok=True
    )
