"""``distillwatch sinks``: deliver alerts to the configured webhook and/or Alertmanager."""

from __future__ import annotations

import click

from service.cli.options import listener_options

__all__ = ["sinks_cmd"]


@click.command("sinks")
@click.option("--redis-url", default=None, help="Redis URL (default DISTILLWATCH_REDIS_URL).")
@click.option("--webhook-url", default=None, help="Webhook URL (DISTILLWATCH_WEBHOOK_URL).")
@click.option(
    "--alertmanager-url",
    default=None,
    help="Alertmanager base URL (DISTILLWATCH_ALERTMANAGER_URL).",
)
@click.option("--consumer", default=None, help="Consumer name (default: host-pid-random).")
@click.option(
    "--from-start",
    is_flag=True,
    help="A sink seen for the first time starts at the oldest alert on the stream "
    "(default: alerts added from now on).",
)
@click.option(
    "--stop-after", type=float, default=None, help="Exit after this many seconds (tests)."
)
@listener_options
@click.option("--verbose", "-v", is_flag=True)
def sinks_cmd(
    redis_url: str | None,
    webhook_url: str | None,
    alertmanager_url: str | None,
    consumer: str | None,
    from_start: bool,
    stop_after: float | None,
    metrics_port: int | None,
    metrics_host: str | None,
    log_format: str | None,
    verbose: bool,
) -> None:
    """Read the alerts stream and deliver every firing / resolved alert to the signed
    webhook and/or Alertmanager's v2 API, at least once, with retries and backoff. Each
    sink has its own consumer group; run any number of these processes. SIGTERM lets the
    request in flight finish and exits (undelivered alerts stay pending for the next run).
    Settings: DISTILLWATCH_WEBHOOK_SECRET, DISTILLWATCH_SINK_* (see docs/alerts.md).
    With --metrics-port, a listener serves the sinks' Prometheus metrics, /healthz and
    /readyz."""
    import logging

    from service.ops.logging_setup import announce, configure_logging
    from service.settings import get_service_settings
    from service.sinks.runner import run_sinks

    try:
        settings = get_service_settings(
            redis_url=redis_url,
            webhook_url=webhook_url,
            alertmanager_url=alertmanager_url,
            metrics_port=metrics_port,
            metrics_host=metrics_host,
            log_format=log_format,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    fmt = settings.log_format
    configure_logging(logging.INFO if verbose else logging.WARNING, fmt)
    names = [
        n
        for n, url in (
            ("webhook", settings.webhook_url),
            ("alertmanager", settings.alertmanager_url),
        )
        if url
    ]
    if not names:
        raise click.ClickException(
            "no sink configured: set DISTILLWATCH_WEBHOOK_URL and/or "
            "DISTILLWATCH_ALERTMANAGER_URL (or --webhook-url / --alertmanager-url)"
        )
    where = ""
    if settings.metrics_port:
        where = f" (metrics on {settings.metrics_host}:{settings.metrics_port})"
    announce(f"sinks {', '.join(names)} on {settings.redis_url}{where}", fmt)
    try:
        stats = run_sinks(
            settings, stop_after=stop_after, consumer=consumer, start_id="0" if from_start else "$"
        )
    except OSError as exc:  # the listener's port is taken
        raise click.ClickException(f"cannot start the sinks: {exc}") from exc
    announce(f"sinks stopped: {stats}", fmt)
