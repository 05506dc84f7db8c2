"""``distillwatch audit`` end to end on a small canonical export with malformed lines."""

from __future__ import annotations

import csv
import random
import subprocess
import sys
from pathlib import Path

import orjson
from click.testing import CliRunner

from service.cli import main

T0 = 1_790_000_000.0
COT = "Think step by step and explain your reasoning in detail before giving the answer: "


def _event(i: int, account: str, ts: float, **kw) -> dict:
    base = {
        "ts": ts,
        "request_id": f"{account}-{i}",
        "account_id": account,
        "ip": f"198.51.100.{hash(account) % 200}",
        "user_agent": "OpenAI/Python 1.40.0",
        "model": "gpt-x",
        "status": "success",
        "prompt_tokens": 40,
        "completion_tokens": 200,
        "temperature": 0.7,
        "user_prompt": f"question {i} about topic {i % 7}",
        "finish_reason": "stop",
    }
    base.update(kw)
    return base


def write_export(path: Path, seed: int = 0) -> int:
    rng = random.Random(seed)
    lines: list[bytes] = []
    for a in range(60):
        t = T0 + rng.random() * 3600
        for i in range(rng.randrange(3, 30)):
            t += rng.expovariate(1 / 900)
            prompt = rng.choice(["Write a poem about ", "Summarise: ", "What is "]) + str(i)
            lines.append(orjson.dumps(_event(i, f"benign-{a}", t, user_prompt=prompt)))
    t = T0
    for i in range(1500):  # a blatant chain-of-thought harvester, 24/7, regular
        t += 60 + rng.random() * 5
        ev = _event(
            i,
            "harvester-1",
            t,
            user_prompt=COT + f"problem {i}: a train leaves at {i % 12} o'clock...",
            completion_tokens=3500,
            max_tokens=4096,
            finish_reason="length" if i % 3 == 0 else "stop",
        )
        lines.append(orjson.dumps(ev))
    good = len(lines)
    bad = [
        b"{not json",
        b'{"ts": 1790000000, "request_id": "x1"',  # truncated
        b"[1, 2, 3]",
        b'{"ts": 1790000000, "request_id": "x2"}',  # no account
        b'{"request_id": "x3", "account_id": "a"}',  # no time
        b'{"ts": "yesterday", "request_id": "x4", "account_id": "a"}',
        b'{"ts": 1790000000, "request_id": "x5", "account_id": "a", "prompt_tokens": "lots"}',
        b'{"ts": 1790000000, "request_id": "x6", "account_id": "a", "completion_tokens": -5}',
        b"\xff\xfe garbage",
    ]
    for j, b in enumerate(bad):
        lines.insert(7 + j * 97, b)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return good


def test_audit_writes_every_output(tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    n_good = write_export(export)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["audit", str(export), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    for name in ("accounts.csv", "alerts.jsonl", "quarantine.jsonl", "report.html", "summary.json"):
        assert (out / name).exists(), name

    summary = orjson.loads((out / "summary.json").read_bytes())
    assert summary["events"] == n_good
    # 9 bad lines; the array line [1, 2, 3] quarantines each of its 3 elements
    assert sum(summary["quarantined"].values()) == 11
    assert summary["quarantined"]["not_an_object"] == 3
    quarantined = [orjson.loads(x) for x in (out / "quarantine.jsonl").read_bytes().splitlines()]
    assert len(quarantined) == 11
    assert all(q["reason"] and q["line"] for q in quarantined)

    with open(out / "accounts.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:8] == [
        "account_id",
        "risk",
        "action",
        "cluster_id",
        "evidence",
        "purpose",
        "reasons",
        "n_events",
    ]
    by_id = {r["account_id"]: r for r in rows}
    assert len(by_id) == 61
    assert by_id["harvester-1"]["action"] == "block"
    assert "chain" in by_id["harvester-1"]["reasons"].lower()
    flagged_benign = [
        r
        for r in rows
        if r["account_id"].startswith("benign") and r["action"] in ("block", "throttle")
    ]
    assert flagged_benign == []

    alerts = [orjson.loads(x) for x in (out / "alerts.jsonl").read_bytes().splitlines()]
    harvester = [a for a in alerts if a["labels"].get("account_id") == "harvester-1"]
    assert len(harvester) == 1
    assert harvester[0]["annotations"]["recommended_action"] == "block"
    html = (out / "report.html").read_text()
    assert "harvester-1" in html
    assert 'src="http' not in html and 'href="http' not in html


def test_audit_console_script_runs(tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    write_export(export, seed=1)
    exe = Path(sys.executable).with_name("distillwatch")
    proc = subprocess.run(
        [str(exe), "audit", str(export), "--out", str(tmp_path / "o"), "--no-report", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "accounts" in proc.stdout and "quarantined" in proc.stdout
    assert not (tmp_path / "o" / "report.html").exists()


def test_audit_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["audit", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
