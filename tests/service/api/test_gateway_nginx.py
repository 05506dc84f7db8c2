"""A real nginx running ``docs/gateways/nginx.conf`` in front of a trivial upstream.

nginx (Debian package ``nginx``) runs as this test's child process with its own prefix in
a temp dir, on loopback and free ports; the config file is the documented one with only
its ports and token replaced. distillwatch is the real app (uvicorn in a thread) on the
replayed sample state. Skipped when no ``nginx`` binary is installed.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from service.api.app import create_app
from service.redis_keys import Keys
from service.stream.local_redis import free_port, stop_process
from tests.service.api.conftest import PREFIX, TOKENS, Populated
from tests.service.ui.conftest import start_server, stop_server

pytestmark = pytest.mark.redis

CONF = Path(__file__).resolve().parents[3] / "docs" / "gateways" / "nginx.conf"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
)
if NGINX is None:
    pytest.skip(
        "nginx is not installed (Debian: apt-get install -y nginx)", allow_module_level=True
    )


class _Upstream(BaseHTTPRequestHandler):
    """The LLM API stand-in: answers 200 JSON naming what it received."""

    seen: ClassVar[list[dict[str, Any]]] = []

    def _answer(self) -> None:
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n) if n else b""
        record = {
            "path": self.path,
            "method": self.command,
            "account": self.headers.get("x-api-account"),
            "action": self.headers.get("x-distillwatch-action"),
            "body": body.decode(),
        }
        type(self).seen.append(record)
        payload = json.dumps({"upstream": True, **record}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    """Port of the stand-in LLM API."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def service(populated: Populated) -> Iterator[int]:
    """Port of the real app (uvicorn in a thread) on the replayed state."""
    live = start_server(create_app(populated.settings))
    port = live.port
    # warm the app's Redis connection: a cold connect can exceed the 25 ms budget on a busy
    # machine, and the service then answers from its fail mode for redis_retry_s
    _, blocked = _accounts(populated)
    deadline = time.monotonic() + 10
    while direct_check(port, blocked)[0] != 403 and time.monotonic() < deadline:
        time.sleep(0.1)
    yield port
    stop_server(live)


def direct_check(port: int, account: str) -> tuple[int, dict[str, str]]:
    """``GET /v1/check`` straight to the service; (status, headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(
        "GET",
        "/v1/check",
        headers={"Authorization": f"Bearer {TOKENS['gateway']}", "x-distillwatch-account": account},
    )
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}


def render(listen: int, dw: int, llm: int, fail_closed: bool = False) -> str:
    """The documented config with this test's ports and gateway token."""
    text = CONF.read_text()
    for old, new in (
        ("127.0.0.1:8080", f"127.0.0.1:{listen}"),
        ("127.0.0.1:8000", f"127.0.0.1:{dw}"),
        ("127.0.0.1:9000", f"127.0.0.1:{llm}"),
        ("CHANGE-ME-gateway-token", TOKENS["gateway"]),
    ):
        assert old in text, f"{old} is no longer in {CONF}"
        text = text.replace(old, new)
    if fail_closed:  # the documented switch: swap the two error_page lines
        open_line = "            error_page 500 502 503 504 = @llm_api;\n"
        closed_line = "            # error_page 500 502 503 504 = @distillwatch_unavailable;\n"
        assert open_line in text and closed_line in text
        text = text.replace(open_line, "            # fail-open off\n")
        text = text.replace(closed_line, closed_line.replace("# ", "", 1))
    return text


class Nginx:
    """One nginx master (and its workers) with its own prefix, in the foreground."""

    def __init__(self, prefix: Path, conf: str, port: int) -> None:
        self.prefix = prefix
        self.port = port
        (prefix / "logs").mkdir(parents=True, exist_ok=True)
        temp = "".join(
            f"    {name}_temp_path {prefix / name};\n"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # temp paths inside the prefix (the package's defaults are under /var/lib/nginx)
        conf = conf.replace("http {\n", "http {\n" + temp, 1)
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(conf)
        directives = f"daemon off; pid {prefix / 'nginx.pid'}; error_log {prefix / 'error.log'};"
        if os.geteuid() == 0:
            directives += " user root;"  # workers must reach the temp dirs in the prefix
        self.args = [str(NGINX), "-p", str(prefix), "-c", str(self.conf), "-g", directives]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Nginx:
        check = subprocess.run([*self.args, "-t"], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/")
                conn.getresponse().read()
                conn.close()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    raise RuntimeError(f"nginx did not start: {err}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        stop_process(self.proc)  # SIGTERM: fast shutdown of master and workers
        self.proc = None

    def call(
        self, account: str | None, path: str = "/v1/chat/completions"
    ) -> tuple[int, dict[str, str], bytes]:
        """POST a chat request through nginx as ``account``; (status, headers, body)."""
        headers = {"content-type": "application/json", "authorization": "Bearer sk-client"}
        if account is not None:
            headers["x-api-account"] = account
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def _start(tmp: Path, dw: int, llm: int, fail_closed: bool = False) -> Nginx:
    port = free_port()
    return Nginx(tmp, render(port, dw, llm, fail_closed), port).start()


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory, service: int, upstream: int) -> Iterator[Nginx]:
    """nginx with the documented config in front of the service and the upstream."""
    server = _start(tmp_path_factory.mktemp("nginx"), service, upstream)
    yield server
    server.stop()


def _accounts(populated: Populated) -> tuple[str, str]:
    """An account the stored verdicts allow (no analyst decision) and one they block."""
    client = populated.client()
    keys = Keys(PREFIX)
    decided = {a.decode() for a in client.zrange(keys.decisions, 0, -1)}
    allowed = blocked = None
    for raw in client.zrange(keys.risk, 0, -1):
        acct = raw.decode()
        action = client.hget(keys.score(acct), "action")
        if action == b"allow" and acct not in decided and allowed is None:
            allowed = acct
        if action == b"block" and blocked is None:
            blocked = acct
        if allowed and blocked:
            break
    client.close()
    assert allowed and blocked, "the sample state should hold allowed and blocked accounts"
    return allowed, blocked


def test_allowed_account_reaches_the_upstream(nginx: Nginx, populated: Populated) -> None:
    allowed, _ = _accounts(populated)
    status, headers, body = nginx.call(allowed)
    assert status == 200, body
    seen = json.loads(body)
    assert seen["upstream"] is True and seen["account"] == allowed
    assert seen["path"] == "/v1/chat/completions" and '"messages"' in seen["body"]
    assert seen["action"] in ("allow", "review", "throttle")
    assert "x-distillwatch-reason" not in headers


def test_blocked_account_gets_403_with_the_reason(
    nginx: Nginx, service: int, populated: Populated
) -> None:
    _, blocked = _accounts(populated)
    before = len(_Upstream.seen)
    status, headers, body = nginx.call(blocked)
    assert status == 403, body
    assert headers.get("x-distillwatch-action") == "block"
    reason = headers.get("x-distillwatch-reason", "")
    assert reason, headers
    error = json.loads(body)["error"]
    assert error["type"] == "distillation_risk"
    assert len(_Upstream.seen) == before  # never forwarded
    # the same reason distillwatch gives directly
    status, direct = direct_check(service, blocked)
    assert status == 403
    assert direct["x-distillwatch-reason"] == reason


def test_request_without_account_is_refused(nginx: Nginx) -> None:
    status, _headers, _body = nginx.call(None)
    assert status == 401


def test_check_service_down_fails_open(tmp_path: Path, upstream: int, populated: Populated) -> None:
    _, blocked = _accounts(populated)
    dead = free_port()  # nothing listens: the subrequest is refused
    server = _start(tmp_path, dead, upstream)
    try:
        status, _headers, body = server.call(blocked)
    finally:
        server.stop()
    assert status == 200, body
    assert json.loads(body)["action"] == "unchecked"


def test_check_service_down_fails_closed(tmp_path: Path, upstream: int) -> None:
    dead = free_port()
    server = _start(tmp_path, dead, upstream, fail_closed=True)
    try:
        status, headers, body = server.call("anyone")
    finally:
        server.stop()
    assert status == 503, body
    assert headers.get("retry-after") == "1"
