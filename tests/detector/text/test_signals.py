"""Topic, format flags, the per-event / batch API and its dtypes."""

from __future__ import annotations

import numpy as np
import pytest

from detector.text import (
    SIGNAL_DTYPES,
    TextSignals,
    Topic,
    clear_caches,
    text_signals,
    text_signals_batch,
)

TOPIC_CASES = [
    ("Solve for x: 3x + 7 = 22", Topic.MATH),
    ("Janet has 16 eggs and eats 3 each morning. How many eggs are left after 4 days?", Topic.MATH),
    (r"Compute $\frac{1}{2} + \frac{1}{3}$.", Topic.MATH),
    ("Write a Python function that returns the n-th Fibonacci number.", Topic.CODE),
    ("```js\nconst x = () => { return 1; };\n```\nwhy is x undefined?", Topic.CODE),
    ("Write a short poem about the autumn rain.", Topic.WRITING),
    ("Write a story about a dragon who is afraid of fire.", Topic.WRITING),
    ("Translate to French: where is the train station?", Topic.TRANSLATION),
    ("What is the capital of Australia?", Topic.FACTUAL_QA),
    ("Who invented the telephone?", Topic.FACTUAL_QA),
    ("I want you to act as a pirate captain and stay in character.", Topic.ROLEPLAY),
    ("Pretend you are a medieval knight talking to a peasant.", Topic.ROLEPLAY),
    ("I was charged twice for my subscription, can I get a refund?", Topic.BUSINESS),
    ("Write a marketing plan for my coffee startup.", Topic.BUSINESS),
    ("Summarize the following article in three bullet points: ...", Topic.TEXT_TASK),
    ("Premise: a man is sleeping. Hypothesis: a man is awake. Does the premise entail the "
     "hypothesis?", Topic.TEXT_TASK),
    ("hmm ok", Topic.OTHER),
]  # fmt: skip


@pytest.mark.parametrize(("text", "topic"), TOPIC_CASES)
def test_topic_examples(text: str, topic: Topic) -> None:
    assert Topic(text_signals(None, text).topic) is topic


def test_topic_ids_are_stable() -> None:
    assert [t.value for t in Topic] == list(range(9))
    assert [t.name for t in Topic] == [
        "OTHER", "MATH", "CODE", "WRITING", "TRANSLATION", "FACTUAL_QA", "ROLEPLAY",
        "BUSINESS", "TEXT_TASK",
    ]  # fmt: skip


def test_system_topic_used_when_user_topic_is_other() -> None:
    s = text_signals("You are a Python code reviewer. Review the code the user sends.", "ok")
    assert Topic(s.topic) is Topic.CODE


@pytest.mark.parametrize(
    "text",
    [
        "Which planet is largest?\nA) Mars\nB) Jupiter\nC) Venus\nD) Earth\nAnswer:",
        "Which planet is largest? (A) Mars (B) Jupiter (C) Venus (D) Earth",
        "Is the sky blue?\nOPTIONS:\n- yes\n- no",
        "Question: 2+2=?\nA. 3\nB. 4\nAnswer:",
    ],
)
def test_mcq_detected(text: str) -> None:
    assert text_signals(None, text).is_mcq


@pytest.mark.parametrize(
    "text",
    [
        "Write a poem about a cat.",
        "I have a plan: a) buy milk, then go home.",
        "Use plan A. If that fails, use plan B.",
    ],
)
def test_mcq_not_detected(text: str) -> None:
    assert not text_signals(None, text).is_mcq


def test_prompt_words_and_absent_text() -> None:
    s = text_signals(None, "  one two\nthree  ")
    assert s.prompt_words == 3
    empty = text_signals(None, None)
    assert empty == TextSignals(0, 0, 0, 0, empty.cot_score, False, 0, False, False, 0)
    assert text_signals(None, "   ").exact_fp == 0
    assert text_signals("", "hi").system_fp == 0


SYSTEMS = [
    None,
    "You are a helpful assistant.",
    "You are an AI assistant. While performing the task think step-by-step and justify your steps.",
    "",
]
USERS = [
    "Solve step by step: what is 17 * 23?",
    "Write a haiku about rain.",
    "Which is bigger?\nA) 2\nB) 3\nC) 4\nAnswer with only the letter.",
    "Translate to French: good night",
    None,
    "Solve step by step: what is 17 * 23?",
    "\u8bf7\u4e00\u6b65\u4e00\u6b65\u5730\u601d\u8003\uff1a1+1=?",
    "",
    "def f(x):\n    return x == 1\n# why does this fail?",
]


def test_batch_equals_per_event_and_dtypes() -> None:
    systems = [SYSTEMS[i % len(SYSTEMS)] for i in range(len(USERS) * 3)]
    users = [USERS[i % len(USERS)] for i in range(len(USERS) * 3)]
    out = text_signals_batch(systems, users)
    assert set(out) == set(TextSignals._fields) == set(SIGNAL_DTYPES)
    for name, arr in out.items():
        assert arr.dtype == SIGNAL_DTYPES[name], name
        assert arr.shape == (len(users),)
    for i, (s, u) in enumerate(zip(systems, users, strict=True)):
        one = text_signals(s, u)
        for name in TextSignals._fields:
            got = out[name][i]
            want = getattr(one, name)
            if name == "cot_score":
                assert got == pytest.approx(want, abs=1e-7)
            else:
                assert int(got) == int(want), (name, i, s, u)


def test_batch_is_independent_of_cache_state_and_order() -> None:
    clear_caches()
    a = text_signals_batch(SYSTEMS * 2 + [None], USERS[:9])
    b = text_signals_batch(list(reversed(SYSTEMS * 2 + [None])), list(reversed(USERS[:9])))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name][::-1])


def test_batch_treats_nan_as_absent() -> None:
    out = text_signals_batch([float("nan"), None], [float("nan"), "hi"])
    assert out["exact_fp"][0] == 0 and out["system_fp"][0] == 0
    assert out["exact_fp"][1] != 0


def test_batch_empty_and_length_mismatch() -> None:
    out = text_signals_batch([], [])
    assert all(len(v) == 0 for v in out.values())
    with pytest.raises(ValueError, match="systems"):
        text_signals_batch([None], ["a", "b"])


def test_batch_repeated_prompts_share_values() -> None:
    users = ["Solve step by step: 1+1"] * 50 + ["Solve step by step: 2+2"] * 50
    out = text_signals_batch([None] * 100, users)
    assert len(set(out["exact_fp"].tolist())) == 2
    assert len(set(out["skeleton_fp"].tolist())) == 1
    assert out["is_cot"].all()


def test_cross_call_caches_keep_no_text() -> None:
    from detector.text import signals

    clear_caches()
    text_signals_batch(["You are a pirate tutor."], ["Solve step by step: 12 * 7"])
    for cache in (signals._SYSTEM_CACHE, signals._USER_CACHE):
        assert cache
        for key in cache:
            assert isinstance(key, bytes) and len(key) == 16
    for info in signals._SYSTEM_CACHE.values():
        assert all(isinstance(v, (int, bool)) for v in info)
    assert all(isinstance(row, int) for row in signals._USER_CACHE.values())
    assert signals._user_table.dtype == np.uint64  # fingerprints and flags only
    clear_caches()
    assert not signals._SYSTEM_CACHE and not signals._USER_CACHE


def test_user_cache_wraps_without_changing_results(monkeypatch) -> None:
    from detector.text import signals

    users = [f"Question {i}: what is {i} + {i}? Think step by step." for i in range(40)]
    clear_caches()
    want = text_signals_batch([None] * len(users), users)
    clear_caches()
    monkeypatch.setattr(signals, "_USER_CACHE_MAX", 16)
    for lo in (0, 10, 25, 0, 30):  # batches that hit, miss and overflow the small cache
        got = text_signals_batch([None] * 10, users[lo : lo + 10])
        for name in want:
            np.testing.assert_array_equal(got[name], want[name][lo : lo + 10])
    assert len(signals._USER_CACHE) <= 16
    got = text_signals_batch([None] * len(users), users)  # a batch larger than the cache
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])
    clear_caches()


def test_shared_user_cache_entries_give_the_same_signals() -> None:
    from detector.text import share_user_cache

    users = [f"Translate to French: sentence number {i}." for i in range(30)]
    clear_caches()
    want = text_signals_batch([None] * 30, users)
    share_user_cache()  # start collecting
    clear_caches()
    text_signals_batch([None] * 20, users[:20])
    keys, rows = share_user_cache()
    assert len(keys) == 16 * len(rows) == 16 * 20 and rows.dtype == np.uint64
    clear_caches()
    share_user_cache([(keys, rows)])  # as another process would receive them
    assert len(share_user_cache()[1]) == 0  # received entries are not passed on again
    got = text_signals_batch([None] * 30, users)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])
    assert len(share_user_cache()[1]) == 10  # only the ten prompts not received
    clear_caches()
