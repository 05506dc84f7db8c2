"""Where the rule files are when no directory is given."""

from __future__ import annotations

from pathlib import Path

__all__ = ["PACKAGED_RULES_DIR", "default_allowlist_dir", "default_rules_dir"]

# ``detector/rules/builtin`` is a symlink to the repository's ``rules/`` directory; a
# wheel built with the package-data entry documented in docs/rules.md ships its files.
PACKAGED_RULES_DIR = Path(__file__).resolve().parent / "builtin"


def default_rules_dir(cwd: Path | None = None) -> Path:
    """The rules directory used when none is given.

    ``./rules`` when the current directory has one (a checkout, or an operator's own
    rules), else the copy shipped inside the package.

    Parameters
    ----------
    cwd : pathlib.Path, optional
        Directory to look in instead of the process's current directory.

    Returns
    -------
    pathlib.Path
    """
    local = (cwd or Path.cwd()) / "rules"
    if local.is_dir():
        return local
    return PACKAGED_RULES_DIR


def default_allowlist_dir(rules_dir: Path | None = None) -> Path:
    """``allowlists/`` inside the rules directory (``rules_dir`` or the default)."""
    return (rules_dir or default_rules_dir()) / "allowlists"
