"""Population anomaly model: pyod's isolation forest over per-account features.

The estimator follows the scikit-learn / pyod contract: ``__init__`` only stores
parameters, ``fit`` returns ``self``, fitted state ends in ``_``, and a higher score
means more suspicious (pyod's ``decision_function`` already orients the forest that
way, so no further flip is applied here).

Saved models carry their version, training time, training size and the feature-schema
hash; :func:`load_model` refuses a model fitted on another schema.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from sklearn.base import BaseEstimator

from detector.features.schema import FEATURES, schema_hash

__all__ = [
    "MODEL_FEATURES",
    "AccountAnomalyModel",
    "ModelSchemaError",
    "load_model",
    "save_model",
]

# Features the forest sees: every directional feature plus the infrastructure counts.
# Features with no suspicious direction that only describe *how* an account is built
# (stream share, system prompt share) are left out: they isolate legitimate products.
MODEL_FEATURES: tuple[str, ...] = tuple(
    f.name for f in FEATURES if f.higher_is_suspicious is not None and f.family != "legit"
)
_LOG_UNITS = {"1", "1/h", "tokens", "tokens/h", "h", "s", "words"}


class ModelSchemaError(RuntimeError):
    """The saved model was fitted on a different feature schema."""


def _transform(frame: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    units = {f.name: f.unit for f in FEATURES}
    cols = []
    for name in names:
        values = frame[name].to_numpy(dtype=np.float64, na_value=0.0)
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        if units[name] in _LOG_UNITS:
            values = np.log1p(np.maximum(values, 0.0))
        cols.append(values)
    return np.column_stack(cols) if cols else np.empty((len(frame), 0))


class AccountAnomalyModel(BaseEstimator):
    """Isolation forest (pyod ``IForest``) over log-scaled account features.

    Parameters
    ----------
    contamination : float
        Expected share of anomalous accounts; sets pyod's ``threshold_``.
    n_estimators : int
        Trees in the forest.
    max_samples : int or "auto"
        Sub-sample size per tree.
    features : sequence of str, optional
        Feature names to use (default :data:`MODEL_FEATURES`).
    detector : {"iforest", "ecod"}
        The pyod detector. ECOD was measured beside the forest; see docs/detection.md.
    random_state : int
        Seed for reproducible forests.
    """

    def __init__(
        self,
        contamination: float = 0.05,
        n_estimators: int = 100,
        max_samples: int | str = 256,
        features: Sequence[str] | None = None,
        detector: str = "iforest",
        random_state: int = 0,
    ) -> None:
        self.contamination = contamination
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.features = features
        self.detector = detector
        self.random_state = random_state

    def _make_detector(self) -> Any:
        if self.detector == "iforest":
            from pyod.models.iforest import IForest

            return IForest(
                n_estimators=self.n_estimators,
                max_samples=self.max_samples,
                contamination=self.contamination,
                random_state=self.random_state,
            )
        if self.detector == "ecod":
            from pyod.models.ecod import ECOD

            return ECOD(contamination=self.contamination)
        raise ValueError(f"unknown detector {self.detector!r}")

    def fit(self, X: pd.DataFrame, y: Any = None) -> AccountAnomalyModel:
        """Fit on the account population (rows = accounts, columns = features)."""
        names = list(self.features) if self.features is not None else list(MODEL_FEATURES)
        missing = [n for n in names if n not in X.columns]
        if missing:
            raise ValueError(f"feature frame lacks {missing}")
        if len(X) < 2:
            raise ValueError("need at least two accounts to fit the population model")
        data = _transform(X, names)
        det = self._make_detector()
        if self.detector == "iforest" and isinstance(self.max_samples, int):
            det.max_samples = min(self.max_samples, len(X))
        det.fit(data)
        self.detector_ = det
        self.feature_names_ = names
        self.schema_hash_ = schema_hash()
        self.n_train_ = len(X)
        self.train_scores_ = np.sort(np.asarray(det.decision_scores_, dtype=np.float64))
        self.threshold_ = float(det.threshold_)
        return self

    def _check(self, X: pd.DataFrame) -> np.ndarray:
        if not hasattr(self, "detector_"):
            raise RuntimeError("model is not fitted")
        return _transform(X, self.feature_names_)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Raw anomaly scores, higher = more anomalous."""
        data = self._check(X)
        return np.asarray(self.detector_.decision_function(data), dtype=np.float64)

    def percentile(self, X: pd.DataFrame) -> np.ndarray:
        """Anomaly score as a percentile of the training population, in [0, 1]."""
        scores = self.decision_function(X)
        ranks = np.searchsorted(self.train_scores_, scores, side="right")
        return ranks / max(len(self.train_scores_), 1)


def save_model(
    model: AccountAnomalyModel,
    path: str | Path,
    *,
    version: str,
    trained_at: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Save a fitted model with its metadata (version, training time, schema hash).

    Parameters
    ----------
    model : AccountAnomalyModel
        Fitted model.
    path : path
        Output file (a pickle; a ``.json`` sidecar with the metadata is written beside it).
    version : str
        Model version label.
    trained_at : str
        RFC 3339 UTC training time (passed in: the library never reads the clock).
    extra : dict, optional
        More metadata (training data description, metrics).

    Returns
    -------
    dict
        The metadata written.
    """
    meta = {
        "version": version,
        "trained_at": trained_at,
        "schema_hash": model.schema_hash_,
        "n_train": model.n_train_,
        "detector": model.detector,
        "contamination": model.contamination,
        "features": model.feature_names_,
        **(extra or {}),
    }
    buf = io.BytesIO()
    pickle.dump({"meta": meta, "model": model}, buf, protocol=pickle.HIGHEST_PROTOCOL)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    path.with_suffix(".json").write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    return meta


def model_from_bytes(blob: bytes) -> tuple[AccountAnomalyModel, dict[str, Any]]:
    """Load a model saved by :func:`save_model` from bytes; refuses a schema mismatch.

    Only load models you trust: the format is a pickle.
    """
    payload = pickle.loads(blob)
    meta = payload["meta"]
    if meta.get("schema_hash") != schema_hash():
        raise ModelSchemaError(
            f"model {meta.get('version')!r} was fitted on feature schema "
            f"{meta.get('schema_hash')!r}, this build has {schema_hash()!r}; retrain it"
        )
    return payload["model"], meta


def load_model(path: str | Path) -> tuple[AccountAnomalyModel, dict[str, Any]]:
    """Load a model file written by :func:`save_model` (see :func:`model_from_bytes`)."""
    return model_from_bytes(Path(path).read_bytes())
