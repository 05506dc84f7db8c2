"""``distillwatch sinks``: deliver alerts to the configured webhook and/or Alertmanager."""

from __future__ import annotations

import logging

import click

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
@click.option("--verbose", "-v", is_flag=True)
def sinks_cmd(
    redis_url: str | None,
    webhook_url: str | None,
    alertmanager_url: str | None,
    consumer: str | None,
    from_start: bool,
    stop_after: float | None,
    verbose: bool,
) -> None:
    """Read the alerts stream and deliver every firing / resolved alert to the signed
    webhook and/or Alertmanager's v2 API, at least once, with retries and backoff. Each
    sink has its own consumer group; run any number of these processes. SIGTERM lets the
    request in flight finish and exits (undelivered alerts stay pending for the next run).
    Settings: DISTILLWATCH_WEBHOOK_SECRET, DISTILLWATCH_SINK_* (see docs/alerts.md)."""
    from service.settings import get_service_settings
    from service.sinks.runner import run_sinks

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = get_service_settings(
        redis_url=redis_url, webhook_url=webhook_url, alertmanager_url=alertmanager_url
    )
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
    click.echo(f"sinks {', '.join(names)} on {settings.redis_url}", err=True)
    stats = run_sinks(
        settings, stop_after=stop_after, consumer=consumer, start_id="0" if from_start else "$"
    )
    click.echo(f"sinks stopped: {stats}", err=True)
