"""Fit the anomaly model on the window state in Redis and publish it (CLI and admin API)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from service.settings import StreamSettings

__all__ = ["train_from_redis"]


def train_from_redis(
    client: Any,
    settings: StreamSettings,
    *,
    version: str | None = None,
    contamination: float | None = None,
    detector: str = "iforest",
    min_events: int | None = None,
) -> tuple[bytes, dict[str, Any], int]:
    """Fit on every account's window features in Redis, publish, make it current.

    Running scorers poll ``model:current`` and load the new version without a restart.

    Parameters
    ----------
    client : redis.Redis
        Connection.
    settings : StreamSettings
        Key prefix, window, defaults for ``contamination`` and ``min_events``.
    version : str, optional
        Label (default: UTC time, ``%Y%m%dT%H%M%SZ``).
    contamination : float, optional
        Expected share of anomalies.
    detector : str
        ``iforest`` or ``ecod``.
    min_events : int, optional
        Accounts with fewer events are left out of the fit.

    Returns
    -------
    (bytes, dict, int)
        The model blob, its metadata and the number of accounts it was fitted on.

    Raises
    ------
    ValueError
        When fewer than 20 accounts are eligible, or no model key is configured (and
        unsigned models are not allowed).
    """
    from detector.model import AccountAnomalyModel
    from service.stream import model_store
    from service.stream.scoring import population_features

    if not settings.model_key and not settings.model_allow_unsigned:
        raise ValueError(
            "publishing a model needs DISTILLWATCH_MODEL_KEY (the key workers verify models "
            "with; set the same key on trainers and workers), or "
            "DISTILLWATCH_MODEL_ALLOW_UNSIGNED=true for a Redis nobody else can write"
        )
    contamination = settings.contamination if contamination is None else contamination
    min_events = settings.min_events if min_events is None else min_events
    features, as_of = population_features(client, settings, limit=None)
    eligible = features[features["n_events"] >= min_events] if len(features) else features
    if len(eligible) < 20:
        raise ValueError(
            f"only {len(eligible)} accounts with >= {min_events} events in Redis; need 20"
        )
    now = datetime.now(UTC)
    label = version or now.strftime("%Y%m%dT%H%M%SZ")
    model = AccountAnomalyModel(contamination=contamination, detector=detector).fit(eligible)
    extra = {"source": "redis", "window_hours": settings.window_hours, "as_of": as_of}
    blob, meta = model_store.model_to_bytes(
        model,
        version=label,
        trained_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        extra=extra,
        key=settings.model_key,
    )
    model_store.publish_model(client, model_store.Keys.of(settings), blob, meta)
    return blob, meta, len(eligible)
