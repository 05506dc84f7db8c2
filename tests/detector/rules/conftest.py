"""Fixtures for the rules engine tests: a writer for rule files in a temporary directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.detector.rules._helpers import RuleWriter, valid_rule


@pytest.fixture
def write_rule(tmp_path: Path) -> RuleWriter:
    """Write a rule document (dict or raw YAML text) into ``tmp_path/rules``."""
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()

    def write(doc: dict[str, Any] | str | None = None, name: str = "rule.yml") -> Path:
        path = rules_dir / name
        if doc is None:
            doc = valid_rule()
        text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write
