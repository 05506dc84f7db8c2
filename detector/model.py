"""Population anomaly model: pyod's isolation forest over per-account features.

The estimator follows the scikit-learn / pyod contract: ``__init__`` only stores
parameters, ``fit`` returns ``self``, fitted state ends in ``_``, and a higher score
means more suspicious (pyod's ``decision_function`` already orients the forest that
way, so no further flip is applied here).

Saved models carry their version, training time, training size, the feature-schema hash
and the versions of the libraries they were pickled with, in a signed envelope
(:func:`model_to_bytes`)::

    DWMODEL1\n<metadata JSON>\n<hmac-sha256 hex | "unsigned">\n<pickle>

The signature is HMAC-SHA256 with the operator's model key over the metadata line, a
newline and the pickle. :func:`model_from_bytes` reads and checks everything *before* it
unpickles: a model without a valid signature (when a key is given), without any
signature (unless the caller allows unsigned files it wrote itself), fitted on another
feature schema, or pickled with other numpy / scikit-learn / pyod releases (major.minor)
is refused with a clear error, so whoever can write the model store cannot run code in
the processes that load from it.
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
import sys
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
    "MODEL_MAGIC",
    "AccountAnomalyModel",
    "ModelIntegrityError",
    "ModelSchemaError",
    "ModelVersionError",
    "fit_fallback",
    "library_versions",
    "load_model",
    "model_from_bytes",
    "model_to_bytes",
    "read_model_meta",
    "save_model",
]

#: first bytes of every model file and blob
MODEL_MAGIC = b"DWMODEL1\n"
_UNSIGNED = b"unsigned"
#: libraries whose pickles must match by major.minor release
PICKLED_LIBRARIES: tuple[str, ...] = ("numpy", "scikit-learn", "pyod")

# Features the forest sees: every directional feature plus the infrastructure counts.
# Features with no suspicious direction that only describe *how* an account is built
# (stream share, system prompt share) are left out: they isolate legitimate products.
MODEL_FEATURES: tuple[str, ...] = tuple(
    f.name for f in FEATURES if f.higher_is_suspicious is not None and f.family != "legit"
)
_LOG_UNITS = {"1", "1/h", "tokens", "tokens/h", "h", "s", "words"}


class ModelSchemaError(RuntimeError):
    """The saved model was fitted on a different feature schema."""


class ModelIntegrityError(RuntimeError):
    """Not a distillwatch model, not signed, or its signature does not verify."""


class ModelVersionError(RuntimeError):
    """The model was pickled with other releases of numpy, scikit-learn or pyod."""


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries a model's pickle depends on."""
    from importlib.metadata import version

    out = {"python": ".".join(map(str, sys.version_info[:3]))}
    for name in PICKLED_LIBRARIES:
        out[name] = version(name)
    return out


def _minor(v: str) -> str:
    return ".".join(str(v).split(".")[:2])


def _key_bytes(key: str | bytes | None) -> bytes | None:
    if key is None or key == "" or key == b"":
        return None
    return key.encode() if isinstance(key, str) else bytes(key)


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


def model_to_bytes(
    model: AccountAnomalyModel,
    *,
    version: str,
    trained_at: str,
    extra: dict[str, Any] | None = None,
    key: str | bytes | None = None,
) -> tuple[bytes, dict[str, Any]]:
    """Serialise a fitted model with its metadata in the signed envelope.

    Parameters
    ----------
    model : AccountAnomalyModel
        Fitted model.
    version : str
        Model version label.
    trained_at : str
        RFC 3339 UTC training time (passed in: the library never reads the clock).
    extra : dict, optional
        More metadata (training data description, metrics).
    key : str or bytes, optional
        The operator's model key; without one the envelope says ``unsigned``.

    Returns
    -------
    (bytes, dict)
        The blob and its metadata.
    """
    meta = {
        "version": version,
        "trained_at": trained_at,
        "schema_hash": model.schema_hash_,
        "n_train": model.n_train_,
        "detector": model.detector,
        "contamination": model.contamination,
        "features": model.feature_names_,
        "libraries": library_versions(),
        **(extra or {}),
    }
    meta["signed"] = _key_bytes(key) is not None
    meta_line = orjson.dumps(meta, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    k = _key_bytes(key)
    sig = (
        hmac.new(k, meta_line + b"\n" + payload, hashlib.sha256).hexdigest().encode()
        if k is not None
        else _UNSIGNED
    )
    return MODEL_MAGIC + meta_line + b"\n" + sig + b"\n" + payload, meta


def _split(blob: bytes) -> tuple[bytes, bytes, bytes]:
    if not blob.startswith(MODEL_MAGIC):
        raise ModelIntegrityError(
            "not a distillwatch model (no DWMODEL1 header): a model saved before signed "
            "models (or any other file) is never unpickled; retrain it with `distillwatch train`"
        )
    rest = blob[len(MODEL_MAGIC) :]
    meta_line, sep1, rest = rest.partition(b"\n")
    sig, sep2, payload = rest.partition(b"\n")
    if not (sep1 and sep2):
        raise ModelIntegrityError("truncated model envelope")
    return meta_line, sig, payload


def read_model_meta(blob: bytes) -> dict[str, Any]:
    """The metadata of a model blob, without verifying or unpickling anything.

    Raises
    ------
    ModelIntegrityError
        When the blob is not a distillwatch model envelope.
    """
    meta_line, _sig, _payload = _split(blob)
    try:
        meta = orjson.loads(meta_line)
    except orjson.JSONDecodeError as exc:
        raise ModelIntegrityError(f"model metadata is not JSON: {exc}") from None
    if not isinstance(meta, dict):
        raise ModelIntegrityError("model metadata is not an object")
    return meta


def model_from_bytes(
    blob: bytes,
    *,
    key: str | bytes | None = None,
    allow_unsigned: bool = False,
) -> tuple[AccountAnomalyModel, dict[str, Any]]:
    """Load a model from its envelope, refusing anything that fails a check, before
    unpickling it.

    Parameters
    ----------
    blob : bytes
        What :func:`model_to_bytes` returned (or a file :func:`save_model` wrote).
    key : str or bytes, optional
        The operator's model key: the signature must verify with it.
    allow_unsigned : bool
        Without a key, accept an unsigned model (a file the caller wrote itself). A
        signed model cannot be checked without its key and is refused.

    Raises
    ------
    ModelIntegrityError
        Not a model envelope; signature missing, invalid or not checkable.
    ModelSchemaError
        Fitted on another feature schema.
    ModelVersionError
        Pickled with other major.minor releases of numpy, scikit-learn or pyod.
    """
    meta_line, sig, payload = _split(blob)
    meta = read_model_meta(blob)
    name = meta.get("version")
    k = _key_bytes(key)
    if k is not None:
        if sig == _UNSIGNED:
            raise ModelIntegrityError(
                f"model {name!r} is not signed and a model key is configured: publish it "
                "again with DISTILLWATCH_MODEL_KEY set (`distillwatch train`)"
            )
        want = hmac.new(k, meta_line + b"\n" + payload, hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(want, sig):
            raise ModelIntegrityError(
                f"model {name!r}: signature does not verify with the configured model key "
                "(tampered with, or signed with another key)"
            )
    elif sig != _UNSIGNED:
        raise ModelIntegrityError(
            f"model {name!r} is signed but no model key is configured "
            "(set DISTILLWATCH_MODEL_KEY) to verify it"
        )
    elif not allow_unsigned:
        raise ModelIntegrityError(
            f"model {name!r} is unsigned: set DISTILLWATCH_MODEL_KEY where it is trained and "
            "where it is loaded (or allow unsigned models you wrote yourself)"
        )
    if meta.get("schema_hash") != schema_hash():
        raise ModelSchemaError(
            f"model {name!r} was fitted on feature schema "
            f"{meta.get('schema_hash')!r}, this build has {schema_hash()!r}; retrain it"
        )
    saved = meta.get("libraries") or {}
    here = library_versions()
    differ = [
        f"{lib} {saved.get(lib)} (here {here[lib]})"
        for lib in PICKLED_LIBRARIES
        if _minor(str(saved.get(lib))) != _minor(here[lib])
    ]
    if differ:
        raise ModelVersionError(
            f"model {name!r} was pickled with other library releases: {', '.join(differ)}; "
            "retrain it with this installation"
        )
    return pickle.loads(payload), meta


def save_model(
    model: AccountAnomalyModel,
    path: str | Path,
    *,
    version: str,
    trained_at: str,
    extra: dict[str, Any] | None = None,
    key: str | bytes | None = None,
) -> dict[str, Any]:
    """Save a fitted model in the signed envelope (:func:`model_to_bytes`) and a ``.json``
    sidecar with its metadata.

    Parameters
    ----------
    model : AccountAnomalyModel
        Fitted model.
    path : path
        Output file.
    version, trained_at, extra, key
        As for :func:`model_to_bytes`.

    Returns
    -------
    dict
        The metadata written.
    """
    blob, meta = model_to_bytes(model, version=version, trained_at=trained_at, extra=extra, key=key)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    path.with_suffix(".json").write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    return meta


def load_model(
    path: str | Path, *, key: str | bytes | None = None, allow_unsigned: bool = False
) -> tuple[AccountAnomalyModel, dict[str, Any]]:
    """Load a model file written by :func:`save_model` (see :func:`model_from_bytes`)."""
    return model_from_bytes(Path(path).read_bytes(), key=key, allow_unsigned=allow_unsigned)


#: fewest eligible accounts a fallback forest is fitted on
MIN_FIT_ACCOUNTS = 20


def fit_fallback(
    features: pd.DataFrame, *, min_events: int, contamination: float
) -> AccountAnomalyModel | None:
    """The forest fitted on a population when no trained model is given: on the accounts
    with ``min_events`` or more, in account order (the forest's ``random_state`` is fixed,
    so the same accounts give the same model in every process and run, whatever order
    they arrived in). None with fewer than :data:`MIN_FIT_ACCOUNTS` such accounts.

    Used by the offline audit and by the streaming population job alike.
    """
    eligible = features[features["n_events"] >= min_events].sort_index()
    if len(eligible) < MIN_FIT_ACCOUNTS:
        return None
    return AccountAnomalyModel(contamination=contamination).fit(eligible)
