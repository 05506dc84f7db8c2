"""The streaming pipeline: ingest into Redis streams, workers folding events into
per-account window state, continuous scoring and alerts.

``detector/`` stays pure (no Redis); everything that talks to Redis lives here.
"""
