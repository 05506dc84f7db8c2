"""The population anomaly model: estimator contract, orientation, versioned save/load."""

from __future__ import annotations

import pickle
import zlib

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from detector.features import FEATURE_NAMES
from detector.model import (
    MODEL_FEATURES,
    MODEL_MAGIC,
    AccountAnomalyModel,
    ModelIntegrityError,
    ModelSchemaError,
    ModelVersionError,
    load_model,
    model_from_bytes,
    model_to_bytes,
    read_model_meta,
    save_model,
)

KEY = b"test-model-key-0001"


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
    meta = save_model(model, path, version="v1", trained_at="2026-11-28T00:00:00Z", key=KEY)
    assert (tmp_path / "m.json").exists()
    loaded, meta2 = load_model(path, key=KEY)
    assert meta2 == meta and meta2["version"] == "v1" and meta2["signed"] is True
    assert set(meta2["libraries"]) >= {"python", "numpy", "scikit-learn", "pyod"}
    np.testing.assert_allclose(loaded.decision_function(frame), model.decision_function(frame))

    import detector.model as model_module

    monkeypatch.setattr(model_module, "schema_hash", lambda: "another-schema")
    with pytest.raises(ModelSchemaError, match="retrain"):
        load_model(path, key=KEY)


class _Boom:
    """Unpickling this runs code: a refused model must never get that far."""

    ran = False

    def __reduce__(self):
        return (_Boom._run, ())

    @staticmethod
    def _run():
        _Boom.ran = True
        return "ran"


def test_signature_is_checked_before_anything_is_unpickled() -> None:
    model = AccountAnomalyModel(n_estimators=20).fit(population())
    blob, meta = model_to_bytes(model, version="v2", trained_at="t", key=KEY)
    assert blob.startswith(MODEL_MAGIC) and read_model_meta(blob)["version"] == "v2"
    # the right key loads it; another key, no key, or any changed byte do not
    assert model_from_bytes(blob, key=KEY)[1] == meta
    with pytest.raises(ModelIntegrityError, match="does not verify"):
        model_from_bytes(blob, key=b"another-key")
    with pytest.raises(ModelIntegrityError, match="no model key"):
        model_from_bytes(blob)
    tampered = blob[:-5] + bytes([blob[-5] ^ 1]) + blob[-4:]
    with pytest.raises(ModelIntegrityError, match="does not verify"):
        model_from_bytes(tampered, key=KEY)
    # an attacker's payload in a well-formed envelope: refused, and never executed
    meta_line, sig, _payload = blob[len(MODEL_MAGIC) :].split(b"\n", 2)
    evil = MODEL_MAGIC + meta_line + b"\n" + sig + b"\n" + pickle.dumps(_Boom())
    with pytest.raises(ModelIntegrityError, match="does not verify"):
        model_from_bytes(evil, key=KEY)
    # a bare pickle (the pre-envelope format, or anything else) is never unpickled
    with pytest.raises(ModelIntegrityError, match="not a distillwatch model"):
        model_from_bytes(pickle.dumps(_Boom()), key=KEY)
    assert not _Boom.ran


def test_unsigned_models_only_when_allowed_and_never_with_a_key() -> None:
    model = AccountAnomalyModel(n_estimators=20).fit(population())
    blob, meta = model_to_bytes(model, version="v3", trained_at="t")
    assert meta["signed"] is False
    with pytest.raises(ModelIntegrityError, match="unsigned"):
        model_from_bytes(blob)
    assert model_from_bytes(blob, allow_unsigned=True)[1]["version"] == "v3"
    with pytest.raises(ModelIntegrityError, match="not signed and a model key"):
        model_from_bytes(blob, key=KEY, allow_unsigned=True)


def test_other_library_releases_are_refused(monkeypatch) -> None:
    import detector.model as model_module

    model = AccountAnomalyModel(n_estimators=20).fit(population())
    real = model_module.library_versions()
    monkeypatch.setattr(
        model_module, "library_versions", lambda: {**real, "scikit-learn": "0.24.2"}
    )
    blob, _meta = model_to_bytes(model, version="old", trained_at="t", key=KEY)
    monkeypatch.setattr(model_module, "library_versions", lambda: real)
    with pytest.raises(ModelVersionError, match=r"scikit-learn 0\.24\.2 \(here"):
        model_from_bytes(blob, key=KEY)
    # another patch release of the same minor one is the same pickle format
    patch = {**real, "numpy": ".".join(real["numpy"].split(".")[:2]) + ".999"}
    monkeypatch.setattr(model_module, "library_versions", lambda: patch)
    blob, _meta = model_to_bytes(model, version="patch", trained_at="t", key=KEY)
    monkeypatch.setattr(model_module, "library_versions", lambda: real)
    assert model_from_bytes(blob, key=KEY)[1]["libraries"]["numpy"].endswith(".999")


def test_ecod_alternative_fits() -> None:
    frame = population()
    model = AccountAnomalyModel(detector="ecod").fit(frame)
    assert model.decision_function(frame).shape == (len(frame),)
