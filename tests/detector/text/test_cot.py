"""cot_score / is_cot: positives, negatives and tricky cases."""

from __future__ import annotations

import pytest

from detector.text import COT_THRESHOLD, cot_score, explain_mask, prepare, text_signals
from detector.text.cot import FEATURES, cot_mask

QUESTION = "A train travels 120 km in 1.5 hours. What is its average speed?"

COT_INSTRUCTIONS = [
    "Let's think step by step.",
    "Solve this step by step.",
    "Show your work.",
    "Explain your reasoning.",
    "Think carefully before answering.",
    "Walk me through your reasoning.",
    "Justify each step.",
    "Use chain-of-thought reasoning.",
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "Write your reasoning inside <think></think> tags, then answer.",
    "Explain how you arrived at your answer.",
    "Break the problem down and show all intermediate calculations.",
    "First, list the known quantities. Then, set up the equation. Finally, solve it and "
    "explain each step.",
    "Let\u2019s work through this one step at a time.",
    "Piensa paso a paso.",
    "请一步一步地思考。",
    "Réfléchis étape par étape.",
]

NOT_COT = [
    QUESTION,
    "Write a poem about the sea.",
    "What is the next step in onboarding a new employee?",
    "I need a step-by-step guide to install Docker on Ubuntu.",
    "Give me step by step instructions to bake sourdough bread.",
    "My stepmother took the first step towards reconciliation.",
    "What do you think about the new iPhone?",
    "I disagree with the reasoning in this article, summarise it.",
    "If cot theta is 10/11, find cos theta.",
    "Explain the concept of photosynthesis in detail.",
    "Can you show me how to get rid of these stains?",
    "The reason I ask is that my code fails on line 3.",
    "Walk the dog, then feed the cat, and finally water the plants.",
]

SHORT_ANSWER = [
    f"{QUESTION} Answer with only the number.",
    f"{QUESTION}\nRespond with a single word.",
    f"{QUESTION}\nA) 60\nB) 80\nC) 90\nD) 120\nAnswer with only the letter.",
    f"{QUESTION} No explanation needed, just the final answer.",
]


@pytest.mark.parametrize("instr", COT_INSTRUCTIONS)
@pytest.mark.parametrize("how", ["append", "prepend", "system"])
def test_cot_instructions_are_detected(instr: str, how: str) -> None:
    if how == "append":
        s = text_signals(None, f"{QUESTION}\n\n{instr}")
    elif how == "prepend":
        s = text_signals(None, f"{instr} {QUESTION}")
    else:
        s = text_signals(instr, QUESTION)
    assert s.is_cot, (instr, how, s.cot_score)
    assert s.cot_score >= COT_THRESHOLD


@pytest.mark.parametrize("text", NOT_COT)
def test_non_cot_prompts_score_low(text: str) -> None:
    p = prepare(text)
    mask = cot_mask(p.view, p.wordset)
    assert cot_score(text) < COT_THRESHOLD, (text, explain_mask(mask))


def test_orca_system_prompt_is_cot() -> None:
    orca = (
        "You are an AI assistant. User will you give you a task. Your goal is to complete "
        "the task as faithfully as you can. While performing the task think step-by-step "
        "and justify your steps."
    )
    assert text_signals(orca, "Translate to German: good morning").is_cot
    assert text_signals("You are a helpful assistant.", QUESTION).is_cot is False


def test_eval_style_lets_think_step_by_step_still_counts() -> None:
    """Eval harnesses use "Let's think step by step" too; eval vs harvest is decided
    downstream (MCQ layout, logprobs, short answers, volume), not here."""
    mcq = f"{QUESTION}\nA) 60\nB) 80\nC) 90\nD) 120\nAnswer: Let's think step by step."
    s = text_signals(None, mcq)
    assert s.is_cot and s.is_mcq


@pytest.mark.parametrize("text", SHORT_ANSWER)
def test_short_answer_instructions(text: str) -> None:
    s = text_signals(None, text)
    assert s.answer_format_short
    assert not s.is_cot


def test_short_answer_lowers_the_score() -> None:
    base = cot_score(f"{QUESTION} Walk me through it.")
    short = cot_score(f"{QUESTION} Walk me through it, but answer with only the number.")
    assert short < base


def test_system_and_user_cues_combine() -> None:
    # two medium cues, one in each prompt, reach the threshold together
    alone_s = text_signals("Before answering, consider the question.", QUESTION)
    alone_u = text_signals(None, f"{QUESTION} Walk me through it.")
    both = text_signals(
        "Before answering, consider the question.", f"{QUESTION} Walk me through it."
    )
    assert not alone_s.is_cot and not alone_u.is_cot
    assert both.is_cot


def test_feature_table_is_well_formed() -> None:
    names = [f.name for f in FEATURES]
    assert len(names) == len(set(names))
    assert len(FEATURES) <= 63  # masks are stored in uint64 arrays
    for f in FEATURES:
        assert f.variants
        for v in f.variants:
            assert v.gates and all(v.gates)


def test_gates_never_hide_a_pattern_match() -> None:
    """Gates are a speed filter only: a variant whose regex matches must pass its gates."""
    from detector.text.cot import _variant_matches

    texts = COT_INSTRUCTIONS + NOT_COT + SHORT_ANSWER
    texts += [f"{QUESTION}\n{t}" for t in COT_INSTRUCTIONS]
    texts += [
        "Please lay out your thought process, then provide the answer.",
        "Please provide a step by step explanation of how answers are generated.",
        "Let me know your thoughts and why you think it deserves a visit.",
        "What is the phone number of the store?",
        "A gift for my 45 year old aunt.",
    ]
    for text in texts:
        p = prepare(text)
        for f in FEATURES:
            for v in f.variants:
                if v.pattern is None or (v.i18n and not p.view.isascii()):
                    continue
                gated = all(not g.isdisjoint(p.wordset) for g in v.gates)
                if not gated:
                    assert not _variant_matches(v, p.view), (f.name, text)
