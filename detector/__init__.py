"""distillwatch detector: pure library (no Redis, no HTTP) for distillation-abuse detection.

The public API, loaded on first use (``import detector`` itself imports nothing heavy):

* reading logs: :func:`read_events`, :func:`iter_event_chunks`, :func:`parse_payload`;
* per-account mergeable state and features: :func:`aggregate_events`,
  :func:`feature_frame`, :data:`FEATURES` (the feature schema);
* scoring: :class:`RuleSet`, :class:`AccountAnomalyModel`, :func:`link_accounts`,
  :func:`fuse` with :class:`FusionConfig`, and :func:`score_accounts` that runs them all;
* the offline audit: :func:`run_audit`;
* the shared vocabulary: :class:`Action`, :data:`ACTIONS`.

>>> import detector
>>> detector.ACTIONS
('allow', 'review', 'throttle', 'block')
>>> sorted(set(detector.__all__) - set(dir(detector))) == []
True
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "read_events": "detector.ingest",
    "iter_event_chunks": "detector.ingest",
    "parse_payload": "detector.ingest",
    "aggregate_events": "detector.aggregates",
    "feature_frame": "detector.features",
    "FEATURES": "detector.features.schema",
    "RuleSet": "detector.rules",
    "AccountAnomalyModel": "detector.model",
    "link_accounts": "detector.linking",
    "fuse": "detector.fusion",
    "FusionConfig": "detector.fusion",
    "AccountVerdict": "detector.fusion",
    "score_accounts": "detector.scoring",
    "run_audit": "detector.audit.pipeline",
    "Action": "detector.vocabulary",
    "ACTIONS": "detector.vocabulary",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'detector' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
