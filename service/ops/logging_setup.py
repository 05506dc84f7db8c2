"""Log lines as text or JSON, for every long-running command (``--log-format``).

JSON lines are one object per line with the keys ``ts`` (RFC 3339, UTC, milliseconds),
``level`` (lower case: ``debug``, ``info``, ``warning``, ``error``, ``critical``),
``logger``, ``msg``, plus ``exc`` when the record carries a traceback. uvicorn's access
lines also carry ``client``, ``method``, ``path`` and ``status``. Nothing else of the
record is copied, so no field a caller attached by accident (a prompt, a token) leaks.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import orjson

__all__ = [
    "LIFECYCLE_LOGGER",
    "LOG_FORMATS",
    "TEXT_FORMAT",
    "JsonFormatter",
    "StderrHandler",
    "announce",
    "configure_logging",
    "uvicorn_log_config",
]

LogFormat = Literal["text", "json"]
#: the values of ``--log-format`` / ``DISTILLWATCH_LOG_FORMAT``
LOG_FORMATS: tuple[str, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: start / stop lines of the commands: always logged at INFO, whatever the level
LIFECYCLE_LOGGER = "distillwatch.lifecycle"
_MARK = "_distillwatch_handler"


def _rfc3339(created: float) -> str:
    stamp = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``msg`` (+ ``exc``)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (no newline)."""
        doc: dict[str, Any] = {
            "ts": _rfc3339(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            args = record.args
            if len(args) == 5:  # client_addr, method, full_path, http_version, status_code
                doc["client"], doc["method"], doc["path"] = str(args[0]), args[1], args[2]
                doc["status"] = args[4]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            doc["exc"] = record.exc_text
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(doc, default=str).decode()


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler writing to whatever ``sys.stderr`` is at emit time (so a test
    runner swapping ``sys.stderr`` never leaves it writing to a closed stream)."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        logging.Handler.__init__(self, level)

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:  # StreamHandler.setStream
        pass


def _formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    if fmt == "text":
        return logging.Formatter(TEXT_FORMAT)
    raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}")


def configure_logging(level: int | str = logging.WARNING, fmt: str = "text") -> logging.Handler:
    """Send every log record to stderr as text or JSON lines.

    Replaces the handler a previous call installed (other handlers of the root logger,
    e.g. a test runner's, are left alone). The ``distillwatch.lifecycle`` logger (start
    and stop lines of the commands) logs at INFO whatever ``level`` is.

    Parameters
    ----------
    level : int or str
        Level of the root logger (``logging.INFO``, ``"warning"``, ...).
    fmt : {"text", "json"}
        Line format.

    Returns
    -------
    logging.Handler
        The installed handler.

    Raises
    ------
    ValueError
        For an unknown format.
    """
    formatter = _formatter(fmt)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
    handler = StderrHandler()
    handler.setFormatter(formatter)
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    logging.getLogger(LIFECYCLE_LOGGER).setLevel(logging.INFO)
    return handler


def announce(message: str, fmt: str) -> None:
    """A start / stop line of a command: plain on stderr with the text format, a JSON
    log record (``distillwatch.lifecycle``, INFO) with the JSON format."""
    if fmt == "json":
        logging.getLogger(LIFECYCLE_LOGGER).info("%s", message)
    else:
        import click

        click.echo(message, err=True)


def uvicorn_log_config(fmt: str, level: str = "info") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for uvicorn's ``uvicorn``, ``uvicorn.error``
    and ``uvicorn.access`` loggers in the given format (``uvicorn.run(log_config=...)``).

    Parameters
    ----------
    fmt : {"text", "json"}
        Line format.
    level : str
        Level of uvicorn's loggers.

    Returns
    -------
    dict
        The configuration.
    """
    _formatter(fmt)  # validates
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if fmt == "json" else {"format": TEXT_FORMAT}
    )
    handler = {"()": f"{__name__}.StderrHandler", "formatter": "default"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
    }
