"""Anomaly models versioned in Redis: ``model:current`` points at ``model:<version>``.

Publishing writes the blob and its metadata first, then moves the pointer, in one
MULTI/EXEC; running workers poll the pointer and load a new version without a restart.
The blob is :func:`detector.model.model_to_bytes`' signed envelope: workers verify its
HMAC with ``DISTILLWATCH_MODEL_KEY`` (and its schema and library versions) before they
unpickle anything, so whoever can write Redis cannot run code in them.
"""

from __future__ import annotations

from typing import Any

import orjson

from detector.model import AccountAnomalyModel, model_from_bytes
from detector.model import model_to_bytes as _envelope
from service.redis_keys import Keys

__all__ = ["Keys", "current_version", "load_version", "model_to_bytes", "publish_model"]


def model_to_bytes(
    model: AccountAnomalyModel,
    *,
    version: str,
    trained_at: str,
    extra: dict[str, Any] | None,
    key: str | bytes | None = None,
) -> tuple[bytes, dict[str, Any]]:
    """Serialise a fitted model in the signed envelope (:func:`detector.model.model_to_bytes`).

    Returns
    -------
    (bytes, dict)
        The blob and its metadata.
    """
    return _envelope(model, version=version, trained_at=trained_at, extra=extra, key=key)


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
    client: Any,
    keys: Keys,
    version: str,
    *,
    key: str | bytes | None = None,
    allow_unsigned: bool = False,
) -> tuple[AccountAnomalyModel, dict[str, Any]]:
    """Load one model version from Redis, verified before it is unpickled.

    Raises
    ------
    KeyError
        If the blob is missing.
    detector.model.ModelIntegrityError
        Not signed, or the signature does not verify with ``key``.
    detector.model.ModelSchemaError
        If the model was fitted on another feature schema.
    detector.model.ModelVersionError
        Pickled with other numpy / scikit-learn / pyod releases.
    """
    blob = client.get(keys.model(version))
    if blob is None:
        raise KeyError(f"model {version!r} is not in Redis")
    return model_from_bytes(blob, key=key, allow_unsigned=allow_unsigned)
