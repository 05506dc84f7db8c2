"""``import detector``: the documented public API resolves, and the docstring examples run."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

import detector

DOCTESTED = ("detector", "detector.vocabulary", "detector.sketches")


def test_every_public_name_resolves() -> None:
    assert "read_events" in detector.__all__ and "run_audit" in detector.__all__
    for name in detector.__all__:
        assert getattr(detector, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = detector.nope  # type: ignore[attr-defined]


def test_import_is_light() -> None:
    """``import detector`` alone loads no pandas or scikit-learn (names load on use)."""
    code = "import sys, detector; print('pandas' in sys.modules, 'sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("name", DOCTESTED)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
