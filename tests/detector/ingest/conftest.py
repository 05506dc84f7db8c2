"""Fixtures shared by the ingest tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.detector.ingest.helpers import LITELLM


@pytest.fixture(scope="session")
def litellm_dir() -> Path:
    return LITELLM
