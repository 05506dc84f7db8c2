"""``distillwatch serve``: the HTTP service (uvicorn) for gateways, analysts and the UI."""

from __future__ import annotations

import click

from service.ops.logging_setup import LOG_FORMATS

__all__ = ["serve_cmd"]


@click.command("serve")
@click.option("--host", default=None, help="Bind address (default 127.0.0.1 or DISTILLWATCH_HOST).")
@click.option("--port", type=int, default=None, help="Port (default 8000 or DISTILLWATCH_PORT).")
@click.option("--redis-url", default=None, help="Redis URL (default DISTILLWATCH_REDIS_URL).")
@click.option(
    "--fail-mode",
    type=click.Choice(["open", "closed"]),
    default=None,
    help="Decision when Redis cannot be read (default DISTILLWATCH_FAIL_MODE or open).",
)
@click.option("--log-level", default="info", show_default=True)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default=None,
    help="Log lines (uvicorn's too) as text or JSON objects (DISTILLWATCH_LOG_FORMAT).",
)
def serve_cmd(
    host: str | None,
    port: int | None,
    redis_url: str | None,
    fail_mode: str | None,
    log_level: str,
    access_log: bool,
    log_format: str | None,
) -> None:
    """Serve the scoring endpoints, the alerts/accounts APIs and the dashboard (/ui)."""
    import uvicorn

    from service.api.app import create_app
    from service.ops.logging_setup import announce, configure_logging, uvicorn_log_config
    from service.settings import get_service_settings

    try:
        settings = get_service_settings(
            host=host, port=port, redis_url=redis_url, fail_mode=fail_mode, log_format=log_format
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    fmt = settings.log_format
    configure_logging(log_level, fmt)
    try:
        app = create_app(settings)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    announce(
        f"distillwatch serving on http://{settings.host}:{settings.port} "
        f"(redis {settings.redis_url}, fail-{settings.fail_mode})",
        fmt,
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        log_config=uvicorn_log_config(fmt, log_level),
        access_log=access_log,
        loop="uvloop",
        http="httptools",
        server_header=False,
        # slow / many clients (docs/service.md, Security): past this many connections +
        # requests in progress, new requests get 503; idle keep-alive connections close
        limit_concurrency=settings.http_limit_concurrency or None,
        timeout_keep_alive=settings.http_keepalive_s,
    )
