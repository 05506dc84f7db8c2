"""Helpers for the operations tests: the CLI as a real subprocess, HTTP probes, scrapes.

Every wait is bounded; every process started here is stopped by the caller's finally.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[3]
PROMTOOL = shutil.which("promtool") or (
    "/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None
)


def cli_args(*args: str) -> list[str]:
    """argv running ``distillwatch <args>`` with this interpreter's installation."""
    script = Path(sys.executable).parent / "distillwatch"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from service.cli import main; main()", *args]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any DISTILLWATCH_ variable of the caller, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTILLWATCH_")}
    env.update(extra)
    return env


def start_cli(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``distillwatch <args>``; stdout and stderr go to ``log`` (a file, so a chatty
    child never blocks on a full pipe)."""
    handle = log.open("wb")
    try:
        return subprocess.Popen(
            cli_args(*args), cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    finally:
        handle.close()


def wait_for(cond: Callable[[], Any], timeout: float, what: str, step: float = 0.1) -> Any:
    """Poll ``cond`` until truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = cond()
        except Exception as exc:  # not up yet
            last_exc = exc
            value = None
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"{what} within {timeout}s (last error: {last_exc!r})")


def get(url: str, timeout: float = 5.0) -> httpx.Response:
    """One GET with a bounded timeout."""
    return httpx.get(url, timeout=timeout)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition: (name, sorted labels) -> value."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = float(s.value)
    return out


def value(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample, or None when absent."""
    return samples(text).get((name, tuple(sorted(labels.items()))))


def promtool_check(text: str) -> subprocess.CompletedProcess[str]:
    """``promtool check metrics`` on ``text`` (the caller skips when promtool is absent)."""
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
