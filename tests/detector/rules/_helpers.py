"""Shared helpers for the rules engine tests."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any


def valid_rule(**overrides: Any) -> dict[str, Any]:
    """A small valid rule document; keyword arguments replace top-level keys."""
    doc: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "title": "CoT share at volume",
        "status": "experimental",
        "level": "high",
        "action": "throttle",
        "family": "harvest",
        "description": "Test rule.",
        "references": [],
        "falsepositives": ["Evaluation harnesses: excluded by mcq_share."],
        "author": "tests",
        "date": "2026-11-28",
        "condition": {
            "all": [
                {"feature": "cot_share", "op": ">=", "value": 0.5},
                {"feature": "n_events", "op": ">=", "value": 100},
                {"not": {"feature": "mcq_share", "op": ">=", "value": 0.3}},
            ]
        },
        "tests": [
            {"name": "hit", "expect": "match", "features": {"cot_share": 0.9, "n_events": 500}},
            {
                "name": "eval",
                "expect": "no_match",
                "features": {"cot_share": 0.9, "n_events": 500, "mcq_share": 0.8},
            },
        ],
    }
    doc.update(copy.deepcopy(overrides))
    return doc


RuleWriter = Callable[..., Path]
