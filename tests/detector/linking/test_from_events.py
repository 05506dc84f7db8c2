"""The real path: canonical events -> aggregates -> linking -> fusion."""

from __future__ import annotations

import numpy as np

from detector.aggregates import aggregate_events, merge_into
from detector.events import new_event, validate_event
from detector.features import feature_frame
from detector.fusion import fuse
from detector.linking import link_accounts
from tests.detector.linking.helpers import T0

PROBLEMS = [
    "A train leaves at {a} pm going {b} mph. How far has it gone after {c} hours?",
    "Mary has {a} apples and gives {b} to each of {c} friends. How many are left?",
    "What is the sum of the integers from {a} to {b}, skipping multiples of {c}?",
]
TOPICS = [
    "Write a haiku about {a} autumn leaves.",
    "Summarise this meeting note: we moved the launch {a} days because of {b} bugs.",
    "Translate into French: the {a} cats sleep on {b} warm roofs.",
    "Give me a recipe that uses {a} eggs and {b} grams of flour.",
]


def _event(account: str, ts: float, ip: str, system: str | None, user: str, **kw) -> dict:
    e = new_event()
    e.update(
        ts=ts,
        request_id=f"{account}-{ts:.3f}",
        account_id=account,
        ip=ip,
        user_agent=kw.pop("user_agent", "Go-http-client/2.0"),
        model="gpt-4o",
        status="success",
        prompt_tokens=120,
        completion_tokens=kw.pop("completion_tokens", 1800),
        max_tokens=kw.pop("max_tokens", 4096),
        system_prompt=system,
        user_prompt=user,
        finish_reason="stop",
        **kw,
    )
    return validate_event(e)


def _events() -> tuple[list[dict], list[str]]:
    rng = np.random.default_rng(3)
    events = []
    hydra = [f"hyd-{i}" for i in range(6)]
    bursts = T0 + 7200 + np.sort(rng.uniform(0, 12 * 3600, 25))
    system = "You are a meticulous mathematician. Always reason step by step before answering."
    for i, account in enumerate(hydra):
        for k, t in enumerate(bursts):
            a, b, c = rng.integers(2, 99, 3)
            user = (
                "Solve the following problem. Think step by step and show all of your "
                "reasoning before the final answer.\n\n" + PROBLEMS[k % 3].format(a=a, b=b, c=c)
            )
            ip = f"203.0.113.{10 + (i + k) % 4}"
            events.append(_event(account, float(t + rng.uniform(0, 20)), ip, system, user))
    for j in range(40):
        start = T0 + rng.uniform(0, 86_400)
        ip = f"73.{rng.integers(256)}.{rng.integers(256)}.{rng.integers(1, 255)}"
        for k in range(int(rng.integers(5, 25))):
            a, b = rng.integers(2, 99, 2)
            user = TOPICS[(j + k) % 4].format(a=a, b=b)
            events.append(
                _event(
                    f"bg-{j:02d}",
                    float(start + rng.uniform(0, 6 * 3600)),
                    ip,
                    None,
                    user,
                    user_agent="OpenAI/Python 1.54.4",
                    completion_tokens=int(rng.integers(50, 400)),
                    max_tokens=None,
                )
            )
    return events, hydra


def test_hydra_from_canonical_events_is_blocked_through_fusion() -> None:
    events, hydra = _events()
    states: dict = {}
    for lo in range(0, len(events), 97):  # chunked, as the audit reads files
        merge_into(states, aggregate_events(events[lo : lo + 97]))
    as_of = max(e["ts"] for e in events)
    features = feature_frame(states, as_of)
    result = link_accounts(states, features)
    assert len(result.flagged()) == 1
    cluster = result.flagged()[0]
    assert cluster.members == hydra
    assert cluster.action == "block"
    assert "203.0.113.0/24" in cluster.reason
    verdicts = fuse(features, {}, None, clusters=result.account_verdicts())
    by_account = {v.account_id: v for v in verdicts}
    for account in hydra:
        v = by_account[account]
        assert v.action == "block" and v.cluster_id == cluster.cluster_id
        assert any(r.startswith("member of cluster") for r in v.reasons)
    assert all(by_account[f"bg-{j:02d}"].cluster_id is None for j in range(40))
