"""Anomaly models versioned in Redis: ``model:current`` points at ``model:<version>``.

Publishing writes the blob and its metadata first, then moves the pointer, in one
MULTI/EXEC; running workers poll the pointer and load a new version without a restart.
The blob is the file :func:`detector.model.save_model` writes (a pickle: only load
models you trust, i.e. keep Redis private).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import orjson

from detector.model import AccountAnomalyModel, model_from_bytes, save_model
from service.redis_keys import Keys

__all__ = ["Keys", "current_version", "load_version", "model_to_bytes", "publish_model"]


def model_to_bytes(
    model: AccountAnomalyModel, *, version: str, trained_at: str, extra: dict[str, Any] | None
) -> tuple[bytes, dict[str, Any]]:
    """Serialise a fitted model exactly as :func:`detector.model.save_model` writes it.

    Returns
    -------
    (bytes, dict)
        The blob and its metadata.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pkl"
        meta = save_model(model, path, version=version, trained_at=trained_at, extra=extra)
        return path.read_bytes(), meta


def publish_model(client: Any, keys: Keys, blob: bytes, meta: dict[str, Any]) -> str:
    """Store a model version and make it current (atomically); returns the version.

    Parameters
    ----------
    client : redis.Redis
        Connection.
    keys : Keys
        Key names.
    blob : bytes
        Serialised model (:func:`model_to_bytes`).
    meta : dict
        Its metadata (must hold ``version``).
    """
    version = str(meta["version"])
    pipe = client.pipeline(transaction=True)
    pipe.set(keys.model(version), blob)
    pipe.set(keys.model_meta(version), orjson.dumps(meta))
    pipe.set(keys.model_current, version)
    pipe.execute()
    return version


def current_version(client: Any, keys: Keys) -> str | None:
    """Version the pointer names, or None when no model was published."""
    raw = client.get(keys.model_current)
    return raw.decode() if isinstance(raw, bytes) else raw


def load_version(
    client: Any, keys: Keys, version: str
) -> tuple[AccountAnomalyModel, dict[str, Any]]:
    """Load one model version from Redis (refuses a feature-schema mismatch).

    Raises
    ------
    KeyError
        If the blob is missing.
    detector.model.ModelSchemaError
        If the model was fitted on another feature schema.
    """
    blob = client.get(keys.model(version))
    if blob is None:
        raise KeyError(f"model {version!r} is not in Redis")
    return model_from_bytes(blob)
