"""Reproducibility, population mix, labels and the CLI of the simulator."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import orjson
from click.testing import CliRunner

from distillsim.legacy.generate import (
    SimConfig,
    output_stem,
    release_time,
    simulate,
    write_simulation,
)
from distillsim.legacy.profiles import BENIGN_KINDS, DEFAULT_MIX, KINDS, kind_counts
from service.cli.simulate_cmd import simulate_cmd

TINY = SimConfig(seed=11, days=1.0, accounts=40)


def _litellm_account(rec: dict) -> str:
    m = rec["metadata"]
    return m["user_api_key_org_id"] or m["user_api_key_team_id"] or m["user_api_key_user_id"]


def test_same_seed_same_bytes_different_seed_different(tmp_path: Path) -> None:
    a = write_simulation(simulate(TINY), tmp_path / "a" / "x.jsonl.gz", fmt="litellm")
    b = write_simulation(simulate(TINY), tmp_path / "b" / "x.jsonl.gz", fmt="litellm")
    c = write_simulation(
        simulate(SimConfig(seed=12, days=1.0, accounts=40)), tmp_path / "c" / "x.jsonl.gz"
    )
    data_a = (tmp_path / "a" / "x.jsonl.gz").read_bytes()
    assert data_a == (tmp_path / "b" / "x.jsonl.gz").read_bytes()
    assert Path(a["labels"]).read_bytes() == Path(b["labels"]).read_bytes()
    assert Path(a["meta"]).read_bytes() == Path(b["meta"]).read_bytes()
    assert data_a != (tmp_path / "c" / "x.jsonl.gz").read_bytes()
    assert Path(a["labels"]).read_bytes() != Path(c["labels"]).read_bytes()


def test_kind_counts_follow_the_mix() -> None:
    counts = kind_counts(400)
    assert sum(counts.values()) == 400
    assert counts == {
        "chat": 220,
        "saas": 16,
        "batch": 16,
        "eval": 12,
        "coding_agent": 20,
        "researcher": 12,
        "cot_harvest": 8,
        "hydra": 60,
        "logprob_harvest": 8,
        "logit_bias_probe": 6,
        "math_harvest": 8,
        "mixed": 8,
        "reseller": 6,
    }
    assert kind_counts(13) == dict.fromkeys(KINDS, 1)
    for n in (57, 150, 1000):
        c = kind_counts(n)
        assert sum(c.values()) == n
        assert all(c[k] >= 1 for k in KINDS)
        for k, share in DEFAULT_MIX.items():
            assert abs(c[k] - share * n) <= max(1.5, 0.02 * n)


def test_every_kind_present_with_requested_counts(small_sim) -> None:
    expected = kind_counts(small_sim.config.accounts, small_sim.config.mix)
    got = {k: 0 for k in KINDS}
    for a in small_sim.accounts:
        got[a.kind] += 1
    assert got == expected
    with_events = set(small_sim.events["acct"].tolist())
    assert with_events == {a.index for a in small_sim.accounts}, "every account sends something"


def test_labels_consistent_with_events(small_sim, small_records, tmp_path: Path) -> None:
    res = write_simulation(small_sim, tmp_path / "sim.jsonl", fmt="canonical")
    with open(res["labels"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["account_id", "label", "kind", "campaign_id"]
    by_id = {r["account_id"]: r for r in rows}
    assert len(by_id) == len(rows) == small_sim.config.accounts
    for r in rows:
        assert r["label"] == ("benign" if r["kind"] in BENIGN_KINDS else "distill")
        assert bool(r["campaign_id"]) == (r["kind"] == "hydra")
    ids = {
        "canonical": {rec["account_id"] for rec in small_records["canonical"]},
        "openai": {rec["account_id"] for rec in small_records["openai"]},
        "litellm": {_litellm_account(rec) for rec in small_records["litellm"]},
    }
    for fmt, seen in ids.items():
        assert seen == set(by_id), fmt
    lines = (tmp_path / "sim.jsonl").read_bytes().splitlines()
    assert len(lines) == res["events"] == small_sim.n_events
    meta = json.loads(Path(res["meta"]).read_text())
    assert meta["events"] == small_sim.n_events
    assert meta["seed"] == 3 and meta["days"] == 2.0 and meta["accounts"] == 150
    assert meta["start"] == "2026-11-01T00:00:00Z"
    assert meta["model_release"] == {"model": "gpt-next", "time": "2026-11-02T00:00:00Z"}
    assert sum(meta["accounts_per_kind"].values()) == 150
    assert sum(meta["events_per_kind"].values()) == small_sim.n_events


def test_account_id_fallback_chain_is_exercised(small_records) -> None:
    placements = set()
    for rec in small_records["litellm"]:
        m = rec["metadata"]
        if m["user_api_key_org_id"]:
            placements.add("org")
        elif m["user_api_key_team_id"]:
            placements.add("team")
        else:
            assert m["user_api_key_user_id"]
            placements.add("user")
    assert placements == {"org", "team", "user"}


def test_target_events_calibrates_volume() -> None:
    sim = simulate(SimConfig(seed=5, days=1.0, accounts=40, target_events=2000))
    assert abs(sim.n_events - 2000) / 2000 < 0.06
    assert sim.scale > 1.0


def test_release_time_and_stem() -> None:
    assert release_time(0.0, 2.0) == 86400.0
    assert release_time(0.0, 7.0) == 3 * 86400.0
    assert release_time(0.0, 1.0) == 43200.0
    assert output_stem("out/litellm-2d.jsonl.gz").name == "litellm-2d"
    assert output_stem("x.json").name == "x"


def test_cli_writes_events_labels_and_meta(tmp_path: Path) -> None:
    out = tmp_path / "cli" / "events.jsonl.gz"
    result = CliRunner().invoke(
        simulate_cmd,
        [
            "--seed",
            "4",
            "--days",
            "1",
            "--accounts",
            "30",
            "--format",
            "openai",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "events" in result.output
    lines = gzip.decompress(out.read_bytes()).splitlines()
    assert lines and all(orjson.loads(x)["request"]["messages"] for x in lines[:50])
    assert (tmp_path / "cli" / "events.labels.csv").exists()
    meta = json.loads((tmp_path / "cli" / "events.meta.json").read_text())
    assert meta["events"] == len(lines) and meta["format"] == "openai"
    bad = CliRunner().invoke(simulate_cmd, ["--out", str(out), "--mix", "nope=1"])
    assert bad.exit_code != 0


def test_parallel_workers_write_the_same_bytes(small_sim, tmp_path: Path, monkeypatch) -> None:
    from distillsim.legacy import writers

    monkeypatch.setattr(writers, "CHUNK", 1024)
    one = write_simulation(small_sim, tmp_path / "one.jsonl.gz", fmt="openai", compress_level=1)
    two = write_simulation(
        small_sim, tmp_path / "two.jsonl.gz", fmt="openai", compress_level=1, workers=2
    )
    assert one["events"] == two["events"] > 3 * 1024
    assert (tmp_path / "one.jsonl.gz").read_bytes() == (tmp_path / "two.jsonl.gz").read_bytes()


def test_bundled_data_is_small_and_complete() -> None:
    from distillsim.legacy import corpora, traces

    data = Path(corpora.__file__).parent / "data"
    assert sum(p.stat().st_size for p in data.iterdir()) <= 3_000_000
    pack = corpora.load_pack()
    assert [p.name for p in pack.pools] == list(corpora.POOL_NAMES)
    assert all(len(p) > 50 for p in pack.pools)
    assert max(len(t) for p in pack.pools for t in p.texts) <= 2000
    shapes = traces.load_traces()
    assert shapes.diurnal_clients.shape[1] == 144
    assert {"azure_conv_generated", "mooncake_input", "servegen_client_cv"} <= set(shapes.quantiles)
