"""The feature schema is the single list: complete, documented, and honoured by compute."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detector.aggregates import AccountState
from detector.features import FAMILIES, FEATURE_NAMES, FEATURES, features_from_state, schema_hash
from detector.features.docs import render

ROOT = Path(__file__).resolve().parents[3]


def test_names_unique_and_fields_valid() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURES)
    for f in FEATURES:
        assert f.dtype in {"int64", "float64"}, f
        assert f.family in FAMILIES, f
        assert f.unit and f.meaning, f


def test_every_family_has_features() -> None:
    assert {f.family for f in FEATURES} == set(FAMILIES)


def test_compute_returns_exactly_the_schema_for_an_empty_state() -> None:
    out = features_from_state(AccountState(), as_of=1_800_000_000.0)
    assert list(out) == list(FEATURE_NAMES)
    assert all(v == v for v in out.values())  # no NaN


def test_docs_features_md_is_current() -> None:
    assert (ROOT / "docs" / "features.md").read_text() == render(), (
        "regenerate with: python -m detector.features.docs > docs/features.md"
    )


def test_schema_hash_is_stable_within_a_build() -> None:
    assert schema_hash() == schema_hash()
    assert len(schema_hash()) == 16


def test_peak_two_hours_counts_a_burst_across_an_hour_boundary() -> None:
    st = AccountState()
    h = 500_000
    st.hourly = {
        h: np.array([80.0, 1.0, 70.0]),
        h + 1: np.array([60.0, 1.0, 50.0]),
        h + 5: np.array([100.0, 1.0, 0.0]),
        h + 9: np.array([900.0, 1.0, 900.0]),  # after as_of: ignored
    }
    st.counts[0] = 1140.0
    st.first_ts = h * 3600.0
    st.last_ts = (h + 9) * 3600.0 + 10
    out = features_from_state(st, as_of=(h + 6) * 3600.0)
    assert out["peak_hour_events"] == 100
    assert out["peak_2h_events"] == 140
    assert out["peak_2h_cot_events"] == 120
