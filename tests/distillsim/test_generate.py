"""Tests of the wide, domain-randomised generator (distillsim)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from detector.events import validate_event
from detector.ingest.readers import read_events
from distillsim import KINDS, WideConfig, generate, write

SMALL = WideConfig(seed=11, accounts=400, days=2.0)


@pytest.fixture(scope="module")
def sim():
    return generate(SMALL)


def _sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_same_seed_same_bytes(tmp_path: Path, sim) -> None:
    a = write(sim, tmp_path / "a" / "w.jsonl.gz", fmt="litellm")
    b = write(generate(SMALL), tmp_path / "b" / "w.jsonl.gz", fmt="litellm")
    for key in ("events", "labels", "params"):
        assert _sha(a[key]) == _sha(b[key])


def test_different_seeds_draw_different_parameters(sim) -> None:
    other = generate(WideConfig(seed=12, accounts=400, days=2.0))
    assert set(other.params) == set(sim.params)
    differing = [k for k in sim.params if sim.params[k] != other.params[k]]
    assert len(differing) == len(sim.params)


def test_every_kind_appears_with_default_mix(sim) -> None:
    assert set(sim.labels["kind"]) == set(KINDS)
    per_kind = {KINDS[k] for k in sim.labels["kind"]}
    assert per_kind == {"benign", "distill"}
    acct_with_events = {e["account_id"] for e in sim.events}
    kinds_with_events = set(sim.labels.loc[sim.labels["account_id"].isin(acct_with_events), "kind"])
    assert kinds_with_events == set(KINDS)


def test_distiller_share_is_realistic(sim) -> None:
    share = (sim.labels["label"] == "distill").mean()
    assert 0.08 <= share <= 0.2


def test_exclude_kinds() -> None:
    got = generate(WideConfig(seed=11, accounts=300, days=1.0, exclude_kinds=("chat", "mixed")))
    assert "chat" not in set(got.labels["kind"])
    assert "mixed" not in set(got.labels["kind"])
    assert 200 < len(got.labels) <= 300


def test_include_kinds_and_unknown_kind() -> None:
    got = generate(WideConfig(seed=1, accounts=40, days=1.0, include_kinds=("chat", "cot_harvest")))
    assert set(got.labels["kind"]) == {"chat", "cot_harvest"}
    with pytest.raises(ValueError):
        generate(WideConfig(seed=1, accounts=10, days=1.0, exclude_kinds=("nope",)))


def test_labels_match_kinds_and_events(sim) -> None:
    lab = sim.labels
    assert list(lab.columns) == ["account_id", "label", "kind", "campaign_id"]
    assert lab["account_id"].is_unique
    assert (lab["label"] == lab["kind"].map(KINDS)).all()
    campaign_kinds = set(lab.loc[lab["campaign_id"] != "", "kind"])
    assert campaign_kinds <= {"content_swarm", "infra_hydra"}
    assert {e["account_id"] for e in sim.events} == set(lab["account_id"])
    ts = [e["ts"] for e in sim.events]
    assert ts == sorted(ts)


def test_events_are_valid_canonical(sim) -> None:
    t0, t1 = sim.events[0]["ts"], sim.events[-1]["ts"]
    assert t1 - t0 <= SMALL.days * 86400
    for ev in sim.events[:: max(1, len(sim.events) // 2000)]:
        validate_event(dict(ev))


def test_content_swarm_members_share_nothing_but_start_day(sim) -> None:
    lab = sim.labels[sim.labels["kind"] == "content_swarm"]
    assert len(lab) >= 2
    members = set(lab["account_id"])
    ev = pd.DataFrame([e for e in sim.events if e["account_id"] in members])
    for _, grp in ev.merge(lab, on="account_id").groupby("campaign_id"):
        per = grp.groupby("account_id")
        for col in ("ip", "user_agent", "api_key"):
            owners = grp.groupby(col)["account_id"].nunique()
            assert (owners == 1).all(), col
        first_days = (per["ts"].min() // 86400).unique()
        assert len(first_days) == 1
        assert first_days[0] > SMALL_START_DAY


SMALL_START_DAY = pd.Timestamp(SMALL.start).timestamp() // 86400


@pytest.mark.parametrize("fmt", ["litellm", "openai", "canonical"])
def test_audit_reader_quarantines_nothing(tmp_path: Path, sim, fmt: str) -> None:
    paths = write(sim, tmp_path / f"w.{fmt}.jsonl.gz", fmt=fmt)
    events, quarantined = read_events(paths["events"])
    assert quarantined == []
    assert len(events) == len(sim.events)
    got = {e["request_id"]: e for e in events}
    for ev in sim.events[:: max(1, len(sim.events) // 500)]:
        g = got[ev["request_id"]]
        for k in (
            "account_id",
            "prompt_tokens",
            "completion_tokens",
            "top_logprobs",
            "logit_bias_size",
            "tools_count",
            "n_messages",
            "user_prompt",
            "system_prompt",
            "end_user",
            "ip",
        ):
            assert g[k] == ev[k], k
