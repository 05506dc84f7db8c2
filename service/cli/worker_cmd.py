"""``distillwatch worker``: consume the events stream into window state, score, alert."""

from __future__ import annotations

import logging

import click

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
    verbose: bool,
) -> None:
    """Join the consumer group on the events stream: fold batches into per-account window
    state (exactly once), rescore touched accounts and raise alerts. Any number of workers
    can run on any number of hosts; SIGTERM finishes the batch in hand and exits."""
    import redis

    from service.settings import get_settings
    from service.stream.scoring import Scorer
    from service.stream.worker import Worker

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = get_settings(
        redis_url=redis_url,
        batch_size=batch_size,
        window_hours=window_hours,
        claim_idle_ms=claim_idle_ms,
        max_deliveries=max_deliveries,
        rules_dir=rules_dir,
    )
    client = redis.Redis.from_url(settings.redis_url)
    scorer = None if no_score else Scorer(client, settings)
    worker = Worker(client, settings, consumer=consumer, scorer=scorer)
    worker.install_signal_handlers()
    click.echo(
        f"worker {worker.consumer} on {settings.redis_url} (group {settings.group})", err=True
    )
    worker.run(exit_when_idle=exit_when_idle)
    click.echo(f"worker {worker.consumer} stopped: {worker.stats.as_dict()}", err=True)
