"""The population anomaly model: estimator contract, orientation, versioned save/load."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from detector.features import FEATURE_NAMES
from detector.model import (
    MODEL_FEATURES,
    AccountAnomalyModel,
    ModelSchemaError,
    load_model,
    save_model,
)


def population(n: int = 300, seed: int = 0) -> pd.DataFrame:
    # one generator per column, seeded by its name: adding a feature to the schema does
    # not reshuffle the values of the others
    cols = {
        name: np.random.default_rng([seed, zlib.crc32(name.encode())]).gamma(2.0, 1.0, n) * 0.1
        for name in FEATURE_NAMES
    }
    frame = pd.DataFrame(cols, index=[f"a{i}" for i in range(n)])
    frame["n_events"] = np.random.default_rng(seed).integers(5, 200, n)
    return frame


def test_init_stores_params_only_and_fit_returns_self() -> None:
    model = AccountAnomalyModel(contamination=0.1, n_estimators=50)
    assert not any(k.endswith("_") for k in vars(model))
    assert clone(model).get_params() == model.get_params()
    frame = population()
    assert model.fit(frame) is model
    assert model.feature_names_ == list(MODEL_FEATURES)
    assert model.n_train_ == len(frame)


def test_outlier_scores_higher_and_percentile_in_unit_interval() -> None:
    frame = population()
    model = AccountAnomalyModel(n_estimators=100, random_state=1).fit(frame)
    outlier = frame.iloc[[0]].copy()
    outlier.index = ["odd"]
    for name in (
        "cot_share",
        "events_per_hour",
        "logprobs_share",
        "finish_length_share",
        "novel_output_tokens",
        "output_tokens_per_prompt",
    ):
        outlier[name] = 50.0
    scores = model.decision_function(pd.concat([frame.iloc[:50], outlier]))
    assert scores[-1] > np.percentile(scores[:-1], 99)
    pct = model.percentile(pd.concat([frame.iloc[:50], outlier]))
    assert ((pct >= 0) & (pct <= 1)).all()
    assert pct[-1] >= 0.99


def test_unfitted_and_bad_input_fail_clearly() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        AccountAnomalyModel().decision_function(population(10))
    with pytest.raises(ValueError, match="lacks"):
        AccountAnomalyModel().fit(population(10).drop(columns=["cot_share"]))
    with pytest.raises(ValueError, match="two accounts"):
        AccountAnomalyModel().fit(population(1))


def test_save_load_round_trip_and_schema_refusal(tmp_path, monkeypatch) -> None:
    frame = population()
    model = AccountAnomalyModel(n_estimators=30).fit(frame)
    path = tmp_path / "m.pkl"
    meta = save_model(model, path, version="v1", trained_at="2026-11-28T00:00:00Z")
    assert (tmp_path / "m.json").exists()
    loaded, meta2 = load_model(path)
    assert meta2 == meta and meta2["version"] == "v1"
    np.testing.assert_allclose(loaded.decision_function(frame), model.decision_function(frame))

    import detector.model as model_module

    monkeypatch.setattr(model_module, "schema_hash", lambda: "another-schema")
    with pytest.raises(ModelSchemaError, match="retrain"):
        load_model(path)


def test_ecod_alternative_fits() -> None:
    frame = population()
    model = AccountAnomalyModel(detector="ecod").fit(frame)
    assert model.decision_function(frame).shape == (len(frame),)
