"""A real Prometheus Alertmanager (Debian's ``prometheus-alertmanager``) for the sink tests.

The process listens on a free 127.0.0.1 port, keeps its state in a temp dir, gossips with
nobody (``--cluster.listen-address=``) and is always stopped by the fixture's teardown.
Its route sends every group to one receiver: a webhook on loopback when a URL is given
(so tests see Alertmanager's own firing / resolved notifications), else a receiver with
no integration.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from service.stream.local_redis import free_port, stop_process

__all__ = ["BINARY", "AlertmanagerProcess", "alertmanager_binary"]

BINARY = "prometheus-alertmanager"


def alertmanager_binary() -> str | None:
    """Path of Debian's ``prometheus-alertmanager`` (PATH or /usr/bin), or None."""
    found = shutil.which(BINARY)
    if found:
        return found
    fallback = Path("/usr/bin") / BINARY
    return str(fallback) if fallback.exists() else None


def _config(webhook_url: str | None) -> str:
    """Alertmanager config: one route, 1 s grouping, one receiver."""
    receiver: dict[str, Any] = {"name": "tests"}
    if webhook_url:
        receiver["webhook_configs"] = [
            {"url": webhook_url, "send_resolved": True, "max_alerts": 0},
        ]
    config = {
        "route": {
            "receiver": "tests",
            "group_by": ["..."],  # one group per alert: one notification each
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [receiver],
    }
    return json.dumps(config, indent=2)  # JSON is YAML


class AlertmanagerProcess:
    """A ``prometheus-alertmanager`` child process.

    Parameters
    ----------
    workdir : pathlib.Path
        Holds ``am.yml``, the storage directory and ``alertmanager.log``.
    webhook_url : str, optional
        Where Alertmanager sends its notifications (``send_resolved``); None: nowhere.
    binary : str, optional
        Default: :func:`alertmanager_binary`.
    """

    def __init__(
        self, workdir: Path, webhook_url: str | None = None, binary: str | None = None
    ) -> None:
        self.workdir = workdir
        self.webhook_url = webhook_url
        self.binary = binary or alertmanager_binary()
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL (``http://127.0.0.1:<port>``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "alertmanager.log"

    def log_tail(self, n: int = 20) -> str:
        """The last lines of the process's log (for failure messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def version(self) -> str:
        """``prometheus-alertmanager --version``'s first line."""
        if self.binary is None:
            raise FileNotFoundError(BINARY)
        out = subprocess.run(
            [self.binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
        return (out.stdout or out.stderr).splitlines()[0].strip()

    def start(self, timeout_s: float = 20.0) -> AlertmanagerProcess:
        """Start it and wait for ``/-/ready`` (up to 3 tries on fresh ports).

        Raises
        ------
        FileNotFoundError
            When the binary is absent.
        RuntimeError
            When it never became ready (its log is in the message).
        """
        if self.binary is None:
            raise FileNotFoundError(BINARY)
        config = self.workdir / "am.yml"
        config.write_text(_config(self.webhook_url))
        storage = self.workdir / "data"
        storage.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            self.port = free_port()
            with self.log_path.open("ab") as log:
                self.proc = subprocess.Popen(
                    [
                        self.binary,
                        f"--config.file={config}",
                        f"--storage.path={storage}",
                        f"--web.listen-address=127.0.0.1:{self.port}",
                        "--cluster.listen-address=",
                        "--log.level=info",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            if self._wait_ready(timeout_s):
                return self
            stop_process(self.proc, kill=True)  # port taken meanwhile, or failed: retry
        raise RuntimeError(f"alertmanager did not become ready:\n{self.log_tail()}")

    def _wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1.0) as resp:
                    if resp.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s); idempotent."""
        stop_process(self.proc)
        self.proc = None

    # -- its v2 API ---------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One JSON request to the API; returns the decoded answer."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        with urllib.request.urlopen(req, timeout=5.0) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def alerts(self, **filters: bool) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts`` (filters such as ``active=False``, ``silenced=False``)."""
        query = urllib.parse.urlencode({k: str(v).lower() for k, v in filters.items()})
        return list(self.request("GET", "/api/v2/alerts" + (f"?{query}" if query else "")))

    def by_fingerprint(self, **filters: bool) -> dict[str, dict[str, Any]]:
        """The alerts listed, keyed by Alertmanager's fingerprint."""
        return {a["fingerprint"]: a for a in self.alerts(**filters)}

    def silence(self, matchers: dict[str, str], duration_s: float = 3600.0) -> str:
        """Create a silence of equality matchers from now on; returns its id."""
        now = time.time()

        def ts(t: float) -> str:
            return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + "Z"

        body = {
            "matchers": [
                {"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in matchers.items()
            ],
            "startsAt": ts(now - 1),
            "endsAt": ts(now + duration_s),
            "createdBy": "distillwatch-tests",
            "comment": "silenced by a test",
        }
        return str(self.request("POST", "/api/v2/silences", body)["silenceID"])
