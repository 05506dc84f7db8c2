"""Per-account features: the schema and the pure function from aggregates to features."""

from detector.features.compute import feature_frame, features_from_state
from detector.features.schema import (
    FAMILIES,
    FEATURE_NAMES,
    FEATURES,
    FeatureSpec,
    schema_hash,
    spec,
)

__all__ = [
    "FAMILIES",
    "FEATURES",
    "FEATURE_NAMES",
    "FeatureSpec",
    "feature_frame",
    "features_from_state",
    "schema_hash",
    "spec",
]
