"""Harvest evidence and look-alike purposes (detector.evidence)."""

from __future__ import annotations

import pandas as pd
import pytest

from detector.evidence import harvest_evidence


def _platform(concentration: float) -> dict[str, float]:
    """A proxy with 400 end users, 5 requests each, 30 % reasoning requests."""
    return {
        "n_events": 2000,
        "end_user_share": 1.0,
        "distinct_end_users": 400,
        "requests_per_end_user": 5.0,
        "cot_requests_per_cot_end_user": 5.0 * concentration,
        "cot_end_user_concentration": concentration,
        "cot_share": 0.3,
        "mean_completion_tokens": 1200.0,
    }


@pytest.mark.parametrize(
    ("concentration", "lo", "hi"),
    [(0.5, 0.9, 1.0), (1.0, 0.9, 1.0), (1.5, 0.4, 0.6), (2.25, 0.0, 0.0)],
)
def test_many_end_users_purpose_fades_when_reasoning_comes_from_a_few_heavy_users(
    concentration: float, lo: float, hi: float
) -> None:
    """A product's users are alike (concentration ~1): its purpose discounts. A proxy whose
    reasoning requests come from end users sending 2x the average traffic relays harvesters."""
    ev = harvest_evidence(pd.DataFrame([_platform(concentration)], index=["p"]))
    assert lo <= float(ev["purpose_many_end_users"].iloc[0]) <= hi
