"""``distillwatch scorer``: run the population job (and nothing else)."""

from __future__ import annotations

import logging
import signal
import time
from typing import Any

import click

from service.cli.options import listener_options

__all__ = ["PopulationLoop", "scorer_cmd"]

log = logging.getLogger("distillwatch.scorer")


class PopulationLoop:
    """Holds (or waits for) the population lease and refreshes the snapshot.

    Parameters
    ----------
    scorer : service.stream.scoring.Scorer
        A scorer with a *dedicated* lease (:class:`service.stream.population.PopulationLease`).
    """

    def __init__(self, scorer: Any) -> None:
        self.scorer = scorer
        self.stopping = False
        #: time.monotonic() of the loop's last turn (the /healthz of the process)
        self.heartbeat = time.monotonic()

    def alive(self, stall_s: float = 120.0) -> bool:
        """True while the loop turned within the last ``stall_s`` seconds."""
        return time.monotonic() - self.heartbeat < stall_s

    def install_signal_handlers(self) -> None:
        """SIGTERM / SIGINT: finish the refresh in hand, release the lease, exit."""

        def stop(signum: int, _frame: Any) -> None:
            log.info("signal %s: releasing the population lease", signum)
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def turn(self) -> bool:
        """One turn: poll the model, take / renew the lease, refresh when due.

        Returns
        -------
        bool
            True when a snapshot was computed and published.
        """
        import redis

        from service import metrics

        try:
            self.scorer.poll_model()
            done = self.scorer.refresh_population()
        except redis.ConnectionError as exc:
            log.warning("Redis unavailable (%s); retrying", exc)
            metrics.WORKER_REDIS_UP.set(0)
            metrics.WORKER_ERRORS.inc()
            return False
        except Exception:
            log.exception("population refresh failed")
            metrics.WORKER_ERRORS.inc()
            return False
        finally:
            self.heartbeat = time.monotonic()
        metrics.WORKER_REDIS_UP.set(1)
        return done

    def run(self, *, max_seconds: float | None = None) -> None:
        """Turn until stopped (or for ``max_seconds``), then release the lease."""
        started = time.monotonic()
        pause = min(self.scorer.lease.check_every_s, 0.5)
        try:
            while not self.stopping:
                self.turn()
                if max_seconds is not None and time.monotonic() - started >= max_seconds:
                    break
                until = time.monotonic() + pause
                while not self.stopping and time.monotonic() < until:
                    self.heartbeat = time.monotonic()
                    time.sleep(0.05)
        finally:
            self.scorer.close()


@click.command("scorer")
@click.option("--redis-url", envvar="DISTILLWATCH_REDIS_URL", default=None, help="Redis URL.")
@click.option("--window-hours", type=int, default=None, help="Scoring window, hours.")
@click.option(
    "--refresh-s",
    type=float,
    default=None,
    help="Seconds between population refreshes (DISTILLWATCH_POPULATION_REFRESH_S, 30).",
)
@click.option(
    "--lease-ttl-s",
    type=float,
    default=None,
    help="Lease lifetime, seconds (DISTILLWATCH_POPULATION_LEASE_TTL_S, 15).",
)
@click.option(
    "--exit-after",
    type=float,
    default=None,
    help="Exit after this many seconds (benchmarks, tests).",
)
@listener_options
@click.option("--verbose", "-v", is_flag=True)
def scorer_cmd(
    redis_url: str | None,
    window_hours: int | None,
    refresh_s: float | None,
    lease_ttl_s: float | None,
    exit_after: float | None,
    metrics_port: int | None,
    metrics_host: str | None,
    log_format: str | None,
    verbose: bool,
) -> None:
    """Run the population job: hold the population lease, and every refresh interval read
    the window states of the most recently active accounts, fit the fallback forest (while
    no model is published), link accounts, and publish the population snapshot every
    worker scores against. Never consumes the events stream. Run one or two (a standby
    takes over when the holder's lease expires); without any, a worker runs the job.
    With --metrics-port, a listener serves the Prometheus metrics, /healthz (the loop
    turns) and /readyz (Redis answers)."""
    from service import metrics
    from service.ops.http_listener import OpsListener, redis_ping_check
    from service.ops.logging_setup import announce, configure_logging
    from service.redis_client import connect
    from service.redis_keys import Keys
    from service.settings import get_settings
    from service.stream.population import PopulationLease, default_owner
    from service.stream.scoring import Scorer

    try:
        settings = get_settings(
            redis_url=redis_url,
            window_hours=window_hours,
            population_refresh_s=refresh_s,
            population_lease_ttl_s=lease_ttl_s,
            metrics_port=metrics_port,
            metrics_host=metrics_host,
            log_format=log_format,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    fmt = settings.log_format
    configure_logging(logging.INFO if verbose else logging.WARNING, fmt)
    client = connect(settings.redis_url)
    keys = Keys.of(settings)
    lease = PopulationLease(
        client,
        keys,
        default_owner("scorer"),
        settings.population_lease_ttl_s,
        dedicated=True,
    )
    loop = PopulationLoop(Scorer(client, settings, keys, lease=lease))
    loop.install_signal_handlers()
    listener = None
    if settings.metrics_port:
        stall_s = settings.healthz_stall_s
        try:
            listener = OpsListener(
                metrics.WORKER_REGISTRY,
                host=settings.metrics_host,
                port=settings.metrics_port,
                alive=lambda: loop.alive(stall_s),
                ready=redis_ping_check(settings.redis_url),
                role="scorer",
            ).start()
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {settings.metrics_host}:{settings.metrics_port}: {exc}"
            ) from exc
    where = f" (metrics on {listener.url})" if listener is not None else ""
    announce(f"scorer {lease.owner} on {settings.redis_url}{where}", fmt)
    try:
        loop.run(max_seconds=exit_after)
    finally:
        if listener is not None:
            listener.stop()
    announce(
        f"scorer {lease.owner} stopped: {loop.scorer.population_computed} population "
        "refreshes computed",
        fmt,
    )
