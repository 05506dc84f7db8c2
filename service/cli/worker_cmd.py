"""``distillwatch worker``: consume the events stream into window state, score, alert."""

from __future__ import annotations

import click

from service.cli.options import listener_options

__all__ = ["worker_cmd"]


@click.command("worker")
@click.option("--redis-url", envvar="DISTILLWATCH_REDIS_URL", default=None, help="Redis URL.")
@click.option("--consumer", default=None, help="Consumer name (default: host-pid-random).")
@click.option("--batch-size", type=int, default=None, help="Entries per XREADGROUP.")
@click.option("--window-hours", type=int, default=None, help="Scoring window, hours.")
@click.option("--claim-idle-ms", type=int, default=None, help="Reclaim entries idle this long.")
@click.option("--max-deliveries", type=int, default=None, help="Dead-letter after N deliveries.")
@click.option("--rules-dir", default=None, type=click.Path(file_okay=False))
@click.option("--no-score", is_flag=True, help="Only fold events into state (no scoring).")
@click.option(
    "--exit-when-idle",
    type=float,
    default=None,
    help="Exit after this many seconds without new events (replays, tests).",
)
@listener_options
@click.option("--verbose", "-v", is_flag=True)
def worker_cmd(
    redis_url: str | None,
    consumer: str | None,
    batch_size: int | None,
    window_hours: int | None,
    claim_idle_ms: int | None,
    max_deliveries: int | None,
    rules_dir: str | None,
    no_score: bool,
    exit_when_idle: float | None,
    metrics_port: int | None,
    metrics_host: str | None,
    log_format: str | None,
    verbose: bool,
) -> None:
    """Join the consumer group on the events stream: fold batches into per-account window
    state (exactly once), rescore touched accounts and raise alerts. Any number of workers
    can run on any number of hosts; SIGTERM finishes the batch in hand and exits.
    With --metrics-port, a listener serves the worker's Prometheus metrics, /healthz (the
    loop turns) and /readyz (Redis answers)."""
    import logging

    from service import metrics
    from service.ops.http_listener import OpsListener, redis_ping_check
    from service.ops.logging_setup import announce, configure_logging
    from service.redis_client import connect
    from service.settings import get_settings
    from service.stream.scoring import Scorer
    from service.stream.worker import Worker

    try:
        settings = get_settings(
            redis_url=redis_url,
            batch_size=batch_size,
            window_hours=window_hours,
            claim_idle_ms=claim_idle_ms,
            max_deliveries=max_deliveries,
            rules_dir=rules_dir,
            metrics_port=metrics_port,
            metrics_host=metrics_host,
            log_format=log_format,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    fmt = settings.log_format
    configure_logging(logging.INFO if verbose else logging.WARNING, fmt)
    from service.stream.layout import LayoutMismatch

    client = connect(settings.redis_url)
    try:
        scorer = None if no_score else Scorer(client, settings)
        worker = Worker(client, settings, consumer=consumer, scorer=scorer)
    except LayoutMismatch as exc:
        raise click.ClickException(str(exc)) from exc
    worker.install_signal_handlers()
    listener = None
    if settings.metrics_port:
        stall_s = settings.healthz_stall_s
        try:
            listener = OpsListener(
                metrics.WORKER_REGISTRY,
                host=settings.metrics_host,
                port=settings.metrics_port,
                alive=lambda: worker.alive(stall_s),
                ready=redis_ping_check(settings.redis_url),
                role="worker",
            ).start()
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {settings.metrics_host}:{settings.metrics_port}: {exc}"
            ) from exc
    where = f" (metrics on {listener.url})" if listener is not None else ""
    announce(
        f"worker {worker.consumer} on {settings.redis_url} (group {settings.group}){where}", fmt
    )
    try:
        worker.run(exit_when_idle=exit_when_idle)
    finally:
        if scorer is not None:
            scorer.close()  # hand the population lease over at once
        if listener is not None:
            listener.stop()
    announce(f"worker {worker.consumer} stopped: {worker.stats.as_dict()}", fmt)
