"""Small deterministic canonical logs for the streaming tests (no simulator needed)."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import orjson

T0 = 1_735_689_600.0  # 2025-01-01T00:00:00Z

_TOPICS = [
    "How do I sort a list of dictionaries by a key in Python?",
    "Write a haiku about autumn leaves falling on a quiet pond.",
    "Summarise the causes of the French revolution in three sentences.",
    "What is the capital of Australia and why was it chosen?",
    "Explain the difference between TCP and UDP for a beginner.",
    "Give me a recipe for a vegetarian lasagna for six people.",
    "Translate 'good morning, how are you' into Spanish and German.",
    "Why is the sky blue? Keep it short.",
]
_COT = (
    "Solve the following problem. Think step by step and show your complete reasoning "
    "before giving the final answer in a box. Problem {i}: if {a} workers build a wall "
    "in {b} days, how many days do {c} workers need?"
)


def _event(ts: float, rid: str, account: str, **kw: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "ts": round(float(ts), 3),
        "request_id": rid,
        "account_id": account,
        "api_key": f"key-{account}",
        "ip": "203.0.113.7",
        "user_agent": "python-requests/2.31",
        "endpoint": "/v1/chat/completions",
        "model": "gpt-4o",
        "status": "success",
        "latency_s": 1.2,
        "prompt_tokens": 40,
        "completion_tokens": 200,
        "temperature": 0.7,
        "n": 1,
        "system_prompt": "You are a helpful assistant.",
        "finish_reason": "stop",
    }
    e.update(kw)
    return e


def make_events(
    n_normal: int = 24,
    harvesters: int = 1,
    hours: float = 6.0,
    seed: int = 0,
    harvest_n: int = 900,
) -> list[dict[str, Any]]:
    """Normal users plus blatant chain-of-thought harvesters, sorted by time.

    Parameters
    ----------
    n_normal : int
        Ordinary accounts (a few requests an hour, varied prompts, two IPs).
    harvesters : int
        Accounts sending thousands of distinct CoT-eliciting prompts with big max_tokens.
    hours : float
        Time span.
    seed : int
        Random seed.
    harvest_n : int
        Requests per harvester.
    """
    rng = np.random.default_rng(seed)
    out: list[dict[str, Any]] = []
    span = hours * 3600
    for a in range(n_normal):
        acct = f"org-normal-{a:03d}"
        n = int(rng.integers(10, 40))
        for j, t in enumerate(np.sort(rng.uniform(0, span, n))):
            out.append(
                _event(
                    T0 + t,
                    f"req-{acct}-{j}",
                    acct,
                    ip=f"198.51.100.{int(rng.integers(1, 3))}",
                    user_prompt=_TOPICS[int(rng.integers(len(_TOPICS)))] + f" (v{j % 5})",
                    prompt_tokens=int(rng.integers(20, 80)),
                    completion_tokens=int(rng.integers(50, 400)),
                    end_user=f"user-{int(rng.integers(0, 5))}",
                )
            )
    for h in range(harvesters):
        acct = f"org-harvest-{h:02d}"
        n = harvest_n
        start = span * 0.25
        times = start + np.cumsum(rng.exponential(2.0, n))
        for j, t in enumerate(times):
            a, b, c = (int(x) for x in rng.integers(2, 50, 3))
            out.append(
                _event(
                    T0 + t,
                    f"req-{acct}-{j}",
                    acct,
                    ip=f"192.0.2.{int(rng.integers(1, 200))}",
                    user_agent="harvest/1.0",
                    system_prompt="Always reason step by step and show all of your work.",
                    user_prompt=_COT.format(i=j, a=a, b=b, c=c),
                    prompt_tokens=int(rng.integers(60, 90)),
                    completion_tokens=int(rng.integers(3000, 4000)),
                    reasoning_tokens=0,
                    max_tokens=4096,
                    temperature=1.0,
                    finish_reason="length" if j % 3 == 0 else "stop",
                )
            )
    out.sort(key=lambda e: e["ts"])
    return out


def write_jsonl(events: list[dict[str, Any]], path: Path, bad_lines: int = 0) -> Path:
    """Write canonical JSONL (``.gz`` if the name says so), with some broken lines."""
    lines = [orjson.dumps(e) for e in events]
    for i in range(bad_lines):
        pos = (i + 1) * len(lines) // (bad_lines + 1)
        bad = b'{"ts": "not a time", "account_id": "x", "request_id": "bad-%d"}' % i
        lines.insert(pos, bad if i % 2 == 0 else b'{"truncated": ')
    data = b"\n".join(lines) + b"\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path
