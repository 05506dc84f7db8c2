"""Aggregates merge associatively: chunked, shuffled and one-pass builds agree."""

from __future__ import annotations

import random

import numpy as np
import pytest

from detector.aggregates import AccountState, aggregate_events, ip_prefix, merge_into
from detector.events import new_event, validate_event
from detector.features import FEATURE_NAMES, feature_frame

T0 = 1_790_000_000.0


def make_events(n: int = 3_000, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    events = []
    for i in range(n):
        account = f"acct-{rng.randrange(12)}"
        e = new_event()
        e.update(
            ts=T0 + i * 7.3 + rng.random(),
            request_id=f"r{i}",
            account_id=account,
            api_key=f"k-{account}-{rng.randrange(2)}",
            ip=f"203.0.{rng.randrange(4)}.{rng.randrange(250)}",
            user_agent=rng.choice(["OpenAI/Python 1.40.0", "curl/8.0", "harvester/0.1"]),
            model=rng.choice(["m1", "m2"]),
            status=rng.choice(["success"] * 9 + ["failure"]),
            prompt_tokens=rng.randrange(10, 900),
            completion_tokens=rng.randrange(1, 3000),
            temperature=rng.choice([0.0, 0.7, None]),
            n=rng.choice([1, 1, 2]),
            max_tokens=rng.choice([None, 1, 256, 4096]),
            logprobs=rng.random() < 0.2,
            top_logprobs=rng.choice([0, 5, 20]),
            logit_bias_size=rng.choice([0, 0, 0, 30]),
            system_prompt=rng.choice([None, "You are a helpful assistant."]),
            user_prompt=rng.choice(
                [
                    f"Solve step by step: what is {rng.randrange(100)} + {rng.randrange(100)}?",
                    "Write a haiku about autumn.",
                    f"Translate to French: sentence number {rng.randrange(50)}",
                ]
            ),
            finish_reason=rng.choice(["stop", "length"]),
        )
        events.append(validate_event(e))
    return events


def _features(states: dict[str, AccountState]):
    return feature_frame(states, as_of=T0 + 10**6).sort_index()


def test_chunked_equals_one_pass() -> None:
    events = make_events()
    whole = aggregate_events(events)
    chunked: dict[str, AccountState] = {}
    for start in range(0, len(events), 257):
        merge_into(chunked, aggregate_events(events[start : start + 257]))
    a, b = _features(whole), _features(chunked)
    assert list(a.columns) == list(FEATURE_NAMES)
    np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=1e-9)


def test_merge_order_does_not_matter_for_additive_state() -> None:
    events = make_events(1_200, seed=2)
    chunks = [aggregate_events(events[i : i + 200]) for i in range(0, 1_200, 200)]
    forward: dict[str, AccountState] = {}
    for c in chunks:
        merge_into(forward, c)
    chunks2 = [aggregate_events(events[i : i + 200]) for i in range(0, 1_200, 200)]
    backward: dict[str, AccountState] = {}
    for c in reversed(chunks2):
        merge_into(backward, c)
    for account in forward:
        f, b = forward[account], backward[account]
        np.testing.assert_allclose(f.counts, b.counts)
        assert (f.hour_of_day == b.hour_of_day).all()
        assert f.first_ts == b.first_ts and f.last_ts == b.last_ts
        assert f.sketches["ip"].count() == b.sketches["ip"].count()


def test_features_reflect_events() -> None:
    events = make_events(600, seed=3)
    frame = _features(aggregate_events(events))
    totals = frame["n_events"].sum()
    assert totals == 600
    # every account uses only the 4 /24 prefixes and 3 user agents generated above
    assert frame["distinct_ip_prefixes"].max() <= 4
    assert frame["distinct_user_agents"].max() <= 3
    for col in ("logprobs_share", "cot_share", "finish_length_share", "failure_share"):
        assert ((frame[col] >= 0) & (frame[col] <= 1)).all()
    # "Solve step by step" is one of three prompt shapes: CoT share is roughly a third
    assert 0.15 < frame["cot_share"].mean() < 0.5


def test_no_text_is_kept_in_state() -> None:
    events = make_events(50, seed=4)
    states = aggregate_events(events)
    for st in states.values():
        for top in st.tops.values():
            for key in top.counts:
                assert "haiku" not in str(key) and "Translate" not in str(key)


@pytest.mark.parametrize(
    ("ip", "prefix"),
    [
        ("203.0.113.7", "203.0.113.0/24"),
        ("2001:db8:1:2::1", "2001:db8:1::/48"),
        (None, None),
        ("", None),
    ],
)
def test_ip_prefix(ip: str | None, prefix: str | None) -> None:
    assert ip_prefix(ip) == prefix


def test_model_first_use_merges_by_minimum() -> None:
    events = make_events(2_000, seed=6)
    whole = aggregate_events(events)
    chunked: dict[str, AccountState] = {}
    for start in range(0, len(events), 300):
        merge_into(chunked, aggregate_events(events[start : start + 300]))
    for account, state in whole.items():
        assert state.model_first == chunked[account].model_first
        mine = [e for e in events if e["account_id"] == account]
        for model in ("m1", "m2"):
            used = [e["ts"] for e in mine if e["model"] == model]
            if used:
                assert state.model_first[model] == min(used)


def _same_state(a: AccountState, b: AccountState) -> None:
    for name in ("counts", "hour_of_day", "gap_hist", "topic_hist"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert (a.first_ts, a.last_ts) == (b.first_ts, b.last_ts)
    for name, sketch in a.sketches.items():
        other = b.sketches[name]
        assert sketch.is_exact == other.is_exact
        if sketch.is_exact:
            np.testing.assert_array_equal(sketch._sparse, other._sparse)
        else:
            np.testing.assert_array_equal(sketch._dense, other._dense)
    assert {k: t.counts for k, t in a.tops.items()} == {k: t.counts for k, t in b.tops.items()}
    assert a.hourly.keys() == b.hourly.keys()
    for hour, row in a.hourly.items():
        np.testing.assert_array_equal(row, b.hourly[hour])
    np.testing.assert_array_equal(a.minutes.values, b.minutes.values)
    assert a.model_first == b.model_first


def test_chunk_merge_into_equals_merging_states() -> None:
    from detector.aggregates import chunk_aggregate

    events = make_events(2_400, seed=4)
    # overlapping, repeated and out-of-order chunks take every branch of the merge
    spans = [(0, 700), (500, 1_300), (0, 400), (1_300, 2_400), (900, 2_000)]
    via_states: dict[str, AccountState] = {}
    for lo, hi in spans:
        merge_into(via_states, chunk_aggregate(events[lo:hi]).to_states())
    direct: dict[str, AccountState] = {}
    for lo, hi in spans:
        chunk_aggregate(events[lo:hi]).merge_into(direct)
    assert via_states.keys() == direct.keys()
    for account, state in via_states.items():
        _same_state(state, direct[account])
