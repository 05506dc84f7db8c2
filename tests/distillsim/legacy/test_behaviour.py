"""The account kinds behave as specified (checked on the canonical rendering)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from distillsim.legacy.generate import Simulation


@pytest.fixture(scope="module")
def frame(small_sim: Simulation, small_records) -> pd.DataFrame:
    df = pd.DataFrame(small_records["canonical"])
    info = {a.account_id: (a.kind, a.campaign) for a in small_sim.accounts}
    df["kind"] = df["account_id"].map(lambda x: info[x][0])
    df["campaign"] = df["account_id"].map(lambda x: info[x][1])
    return df


def test_hydra_members_share_infrastructure(small_sim: Simulation, frame: pd.DataFrame) -> None:
    hydra = frame[frame["kind"] == "hydra"]
    assert small_sim.campaigns
    uas = [c.client.user_agent for c in small_sim.campaigns]
    assert len(set(uas)) == len(uas), "each campaign has its own unusual client"
    for camp in small_sim.campaigns:
        d = hydra[hydra["campaign"] == camp.campaign_id]
        assert d["account_id"].nunique() == len(camp.members)
        prefixes = d["ip"].str.rsplit(".", n=1).str[0].unique()
        assert len(prefixes) == 1, "one /24 per campaign"
        assert camp.slash24.startswith(prefixes[0] + ".")
        assert d["user_agent"].nunique() == 1
        assert d["ip"].nunique() <= 8
        # shared templates: every prompt starts like one of the campaign's templates
        heads = tuple(small_sim.ctx.templates[t].split("{q}")[0][:25] for t in camp.templates)
        assert d["user_prompt"].str.startswith(heads).all()


def test_hydra_timing_is_synchronised(small_sim: Simulation, frame: pd.DataFrame) -> None:
    for camp in small_sim.campaigns:
        d = frame[frame["campaign"] == camp.campaign_id]
        first = d.groupby("account_id")["ts"].min()
        assert first.max() - first.min() < 600, "simultaneous onset (within 10 min)"
        minute = (d["ts"] // 60).astype(int)
        members_per_minute = d.groupby(minute)["account_id"].nunique()
        busy = members_per_minute[members_per_minute >= 3].index
        assert minute.isin(busy).mean() > 0.7, "members are active in the same minutes"
        # chat users, by contrast, almost never share minutes
    chat = frame[frame["kind"] == "chat"]
    per_min = chat.groupby((chat["ts"] // 60).astype(int))["account_id"].nunique()
    assert (per_min >= 3).mean() < 0.05


def test_switching_campaigns_move_to_new_model_together(
    small_sim: Simulation, frame: pd.DataFrame
) -> None:
    rel = small_sim.ctx.release
    ok = frame[frame["status"] == "success"]
    assert not ((ok["model"] == "gpt-next") & (ok["ts"] < rel)).any(), "no use before release"
    assert {c.switches for c in small_sim.campaigns} == {True, False}
    for camp in small_sim.campaigns:
        d = ok[ok["campaign"] == camp.campaign_id]
        after = d[d["ts"] >= rel + 1800]
        if camp.switches:
            first = d[d["model"] == "gpt-next"].groupby("account_id")["ts"].min()
            assert len(first) == len(camp.members)
            assert first.max() - first.min() < 600
            assert (first - rel).max() < 3600
            assert (after["model"] == "gpt-next").all()
        else:
            assert not (d["model"] == "gpt-next").any()
    # benign accounts adopt gradually: first uses spread over many hours
    benign = ok[ok["kind"].isin(["chat", "saas", "coding_agent", "researcher"])]
    firsts = benign[benign["model"] == "gpt-next"].groupby("account_id")["ts"].min()
    assert len(firsts) >= 3
    assert firsts.max() - firsts.min() > 4 * 3600


def test_logit_bias_probes_repeat_prompt_with_new_biases(small_sim, small_records) -> None:
    probe_ids = {a.account_id for a in small_sim.accounts if a.kind == "logit_bias_probe"}
    by_acct: dict[str, list[dict]] = defaultdict(list)
    for rec in small_records["openai"]:
        if rec["account_id"] in probe_ids and rec["status_code"] == 200:
            by_acct[rec["account_id"]].append(rec["request"])
    assert set(by_acct) == probe_ids
    for reqs in by_acct.values():
        prompts = {r["messages"][-1]["content"] for r in reqs}
        assert len(prompts) <= 3
        assert all(r["max_tokens"] == 1 for r in reqs)
        maps = [tuple(sorted(r["logit_bias"].items())) for r in reqs]
        assert all(len(m) >= 20 for m in maps)
        assert all(abs(v) == 100 for m in maps for _, v in m)
        if len(maps) > 5:
            assert len(set(maps)) / len(maps) > 0.9


def test_distillers_share_surface_signals_with_lookalikes(frame: pd.DataFrame) -> None:
    g = frame.groupby("kind")
    length_share = g["finish_reason"].apply(lambda s: (s == "length").mean())
    assert length_share["cot_harvest"] > 0.1
    logprobs = g["logprobs"].mean()
    assert logprobs["logprob_harvest"] > 0.95 and logprobs["researcher"] > 0.4
    mcq = frame[(frame["kind"] == "eval") & (frame["max_tokens"] == 1)]
    assert mcq["logprobs"].all() and (mcq["top_logprobs"] >= 4).all()
    # reasoning models take no temperature; every other batch / eval request uses 0
    temp0 = g["temperature"].apply(lambda s: (s.dropna() == 0).mean())
    assert temp0["batch"] == 1.0 and temp0["eval"] == 1.0
    assert g["tools_count"].mean()["coding_agent"] >= 6
    assert g["prompt_tokens"].median()["coding_agent"] > 2000
    assert g["end_user"].nunique()["saas"] > 50 and g["end_user"].nunique()["reseller"] > 50
    ctok = g["completion_tokens"].median()
    assert ctok["cot_harvest"] > 4 * ctok["chat"]
    cot_text = frame["system_prompt"].fillna("") + frame["user_prompt"].fillna("")
    step = cot_text.str.contains("step", case=False)
    assert step[frame["kind"] == "cot_harvest"].mean() > 0.6
    assert step[frame["kind"] == "eval"].mean() > 0.2  # "Let's think step by step" harnesses


def test_timing_regularity_by_kind(frame: pd.DataFrame) -> None:
    def cv(ts: pd.Series) -> float:
        gaps = np.diff(np.sort(ts.to_numpy()))
        return float(gaps.std() / gaps.mean()) if len(gaps) > 10 else np.nan

    cvs = frame.groupby(["kind", "account_id"])["ts"].apply(cv).groupby("kind").median()
    assert cvs["cot_harvest"] < 0.8
    assert cvs["math_harvest"] < 1.0
    hours = frame.groupby(["kind", "account_id"])["ts"].apply(
        lambda s: len(set(((s // 3600) % 24).astype(int)))
    )
    med = hours.groupby("kind").median()
    assert med["cot_harvest"] >= 20 and med["saas"] >= 12
    assert med["chat"] <= 6


def test_failures_are_a_small_share(frame: pd.DataFrame) -> None:
    share = (frame["status"] == "failure").mean()
    assert 0.002 < share < 0.05
    assert (frame.loc[frame["status"] == "failure", "completion_tokens"] == 0).all()
