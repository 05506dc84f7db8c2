"""The adapters' fast validation accepts or rejects exactly as ``validate_event``."""

from __future__ import annotations

import math
import random

import pytest

from detector.events import EVENT_FIELD_NAMES, EventError, validate_event
from detector.ingest.adapters import _validated

_VALUES: dict[str, list[object]] = {
    "ts": [1_790_000_000.5, 1_790_000_000, "1790000000", None, "", 1e13, math.nan, True, -5.0],
    "account_id": ["acct", " acct ", "", None, 17, 1.5, True, "\u2003a", "a\n"],
    "request_id": ["r1", "r1 ", "", None, 3],
    "count": [0, 5, None, "", -1, 2.0, 2.5, "7", True, math.inf],
    "float": [None, 0.0, -0.0, 0.7, 1, "0.5", "", -0.1, math.inf, math.nan, True],
    "bool": [True, False, None, 0, 1, "true", "no", 2],
    "str": ["x", "", None, 5, 2.5, True, ["a"]],
}
_KIND = {
    "ts": "ts",
    "account_id": "account_id",
    "request_id": "request_id",
    "prompt_tokens": "count",
    "completion_tokens": "count",
    "reasoning_tokens": "count",
    "n": "count",
    "max_tokens": "count",
    "top_logprobs": "count",
    "logit_bias_size": "count",
    "tools_count": "count",
    "n_messages": "count",
    "latency_s": "float",
    "temperature": "float",
    "top_p": "float",
    "logprobs": "bool",
    "seed": "bool",
    "stream": "bool",
}


def _outcome(fn, event: dict) -> object:
    try:
        return ("ok", fn(event))
    except EventError as exc:
        return ("error", exc.reason, exc.detail)


@pytest.mark.parametrize("seed", range(6))
def test_fast_validation_equals_validate_event(seed: int) -> None:
    rng = random.Random(seed)
    good = {name: _VALUES[_KIND.get(name, "str")][0] for name in EVENT_FIELD_NAMES}
    for _ in range(3_000):
        event = dict(good)
        for name in rng.sample(EVENT_FIELD_NAMES, rng.choice((0, 1, 1, 2, 3))):
            event[name] = rng.choice(_VALUES[_KIND.get(name, "str")])
        want = _outcome(validate_event, dict(event))
        got = _outcome(_validated, dict(event))
        assert repr(got) == repr(want), event
