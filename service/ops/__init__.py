"""Operations plumbing shared by the long-running commands.

* :mod:`service.ops.logging_setup`: text or JSON log lines (``--log-format``);
* :mod:`service.ops.http_listener`: the small ``/metrics`` ``/healthz`` ``/readyz``
  listener of the worker and sinks processes (``--metrics-port``);
* :mod:`service.ops.pipeline_collector`: Prometheus counters of the ``dw:stats`` hash,
  served from a snapshot (never Redis at scrape time).

Each module is imported on its own; this package imports nothing.
"""
