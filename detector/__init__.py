"""distillwatch detector: pure library (no Redis, no HTTP) for distillation-abuse detection."""

__version__ = "0.1.0"
