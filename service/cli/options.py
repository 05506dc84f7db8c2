"""Command-line options shared by the long-running commands (one definition each)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from service.ops.logging_setup import LOG_FORMATS

__all__ = ["listener_options", "log_format_option"]

log_format_option = click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default=None,
    help="Log lines as text or JSON objects (DISTILLWATCH_LOG_FORMAT, default text).",
)


def listener_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--metrics-port``, ``--metrics-host`` and ``--log-format`` of worker, sinks, scorer."""
    fn = log_format_option(fn)
    fn = click.option(
        "--metrics-host",
        default=None,
        help="Bind address of that listener (DISTILLWATCH_METRICS_HOST, default 127.0.0.1).",
    )(fn)
    return click.option(
        "--metrics-port",
        type=click.IntRange(0, 65535),
        default=None,
        help="Serve /metrics /healthz /readyz on this port (DISTILLWATCH_METRICS_PORT; 0: off).",
    )(fn)
