"""Alert sinks: push alert lifecycle entries from the alerts stream to other systems.

Each sink (a signed generic webhook, Alertmanager's v2 API) reads the alerts stream
through its own consumer group (``sink-<name>``), so a slow or unreachable receiver
never slows the scorer (which only ``XADD``\\ s) nor another sink. Delivery is at least
once: a batch is acknowledged only after the receiver took it, retried with exponential
backoff, and recorded in the sink's dead-letter stream when it cannot be delivered.

Modules
-------
base
    Stream entries as alerts, HTTP delivery with outcome classification, backoff.
webhook
    The generic webhook (HMAC-SHA256 signature; :func:`~service.sinks.webhook.verify_signature`).
alertmanager
    Alertmanager's ``POST /api/v2/alerts`` (postable alerts, periodic re-send).
consumer
    The consumer-group loop of one sink: read, reclaim, retry, ack, dead-letter.
runner
    :func:`~service.sinks.runner.start_sinks` (service lifespan) and
    :func:`~service.sinks.runner.run_sinks` (``distillwatch sinks``).

See ``docs/alerts.md``.
"""

from __future__ import annotations
