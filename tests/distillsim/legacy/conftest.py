"""Shared, session-scoped small simulations for the simulator tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from distillsim.legacy.generate import SimConfig, Simulation, simulate
from distillsim.legacy.profiles import DEFAULT_MIX
from distillsim.legacy.writers import iter_records

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "simulate"
# more hydra than the default mix so that two campaigns exist (one moving to the new model)
SMALL = SimConfig(seed=3, days=2.0, accounts=150, mix={**DEFAULT_MIX, "chat": 0.4, "hydra": 0.3})


@pytest.fixture(scope="session")
def small_sim() -> Simulation:
    """150 accounts over two days (about 4k events), two hydra campaigns."""
    return simulate(SMALL)


@pytest.fixture(scope="session")
def small_records(small_sim: Simulation) -> dict[str, list[dict[str, Any]]]:
    """The small simulation rendered in every format."""
    return {fmt: list(iter_records(small_sim, fmt)) for fmt in ("litellm", "openai", "canonical")}


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """``tests/fixtures/simulate``."""
    return FIXTURES
