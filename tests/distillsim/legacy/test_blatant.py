"""Opt-in blatant harvesters: high rate from the first minute, other accounts unchanged."""

from __future__ import annotations

import numpy as np

from distillsim.legacy.generate import SimConfig, labels_rows, meta_dict, simulate
from distillsim.legacy.profiles import BLATANT_KINDS, BLATANT_RATE_PER_MIN, KINDS

BASE = SimConfig(seed=11, days=1.0, accounts=40)
WITH = SimConfig(seed=11, days=1.0, accounts=40, blatant=4, blatant_window=(2.0, 6.0))


def test_blatant_accounts_leave_the_rest_of_the_population_unchanged() -> None:
    base, sim = simulate(BASE), simulate(WITH)
    assert [a.account_id for a in sim.accounts[:40]] == [a.account_id for a in base.accounts]
    keep = sim.events["acct"] < 40
    for col, values in base.events.items():
        assert np.array_equal(sim.events[col][keep], values, equal_nan=True), col
    assert meta_dict(base, "litellm", base.n_events)["accounts_per_kind"].keys() == set(KINDS)


def test_blatant_kinds_are_labelled_distill_and_alternate() -> None:
    sim = simulate(WITH)
    extra = sim.accounts[40:]
    assert [a.kind for a in extra] == [*BLATANT_KINDS, *BLATANT_KINDS]
    rows = {r[0]: r for r in labels_rows(sim)}
    assert all(rows[a.account_id][1:3] == ("distill", a.kind) for a in extra)
    meta = meta_dict(sim, "litellm", sim.n_events)
    assert meta["blatant"] == 4
    assert meta["accounts_per_kind"]["blatant_cot_harvest"] == 2


def test_blatant_runs_are_fast_from_the_first_minute_and_inside_the_window() -> None:
    sim = simulate(WITH)
    ev = sim.events
    lo, hi = sim.ctx.start + 2 * 3600, sim.ctx.start + 6 * 3600
    for a in sim.accounts[40:]:
        sel = ev["acct"] == a.index
        ts = np.sort(ev["ts"][sel])
        assert lo <= ts[0] and ts[-1] < hi
        first_minute = int((ts < ts[0] + 60).sum())
        assert first_minute >= 0.5 * BLATANT_RATE_PER_MIN[0], (a.kind, first_minute)
        if a.kind == "blatant_cot_harvest":
            assert (ev["maxt"][sel] >= 4096).all()
            assert (ev["sysp"][sel] >= 0).sum() + (ev["tmpl"][sel] >= 0).sum() == sel.sum()
        else:
            assert ev["lp"][sel].all() and (ev["tlp"][sel] == 20).all()
        prompts = set(zip(ev["pool"][sel].tolist(), ev["item"][sel].tolist(), strict=True))
        assert len(prompts) == int(sel.sum()), "one pass over the prompt set: no repeats"
