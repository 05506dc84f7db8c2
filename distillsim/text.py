"""Texts: real prompts from the bundled corpora, and combinatorial wording generators.

Reasoning requests, product system prompts and prompt skeletons are *generated* from
small grammars (thousands of combinations), so each account or campaign gets its own
wording rather than one of a handful of fixed strings.
"""

from __future__ import annotations

import numpy as np

from distillsim.legacy.corpora import PromptPack

__all__ = [
    "DOMAIN_POOLS",
    "GENERAL_POOLS",
    "cot_phrase",
    "pick",
    "pick_prompt",
    "product_system_prompt",
    "skeleton",
]

GENERAL_POOLS = ("sharegpt", "arena_hard", "alpaca_eval", "hh_rlhf", "mt_bench", "openorca")
DOMAIN_POOLS: dict[str, tuple[str, ...]] = {
    "math": ("gsm8k_train", "gsm8k_test", "math"),
    "code": ("gpteacher_code", "wizardlm_evol"),
    "roleplay": ("gpteacher_roleplay",),
    "tool": ("gpteacher_tool",),
    "general": GENERAL_POOLS,
    "instruct": ("alpaca_eval", "openorca", "wizardlm_evol", "gpteacher_code", "arena_hard"),
}


def pick(rng: np.random.Generator, seq: tuple[str, ...] | list[str]) -> str:
    """One element of ``seq``, uniformly."""
    return seq[int(rng.integers(len(seq)))]


def pick_prompt(rng: np.random.Generator, pack: PromptPack, pools: tuple[str, ...]) -> str:
    """A real prompt from a random pool of ``pools``."""
    pool = pack.by_name(pick(rng, pools))
    return pool.texts[int(rng.integers(len(pool)))]


# --- reasoning-request grammar ----------------------------------------------------------

_OPEN = (
    "",
    "Please",
    "Kindly",
    "I want you to",
    "I'd like you to",
    "Could you",
    "Make sure to",
    "Be sure to",
    "You must",
    "Always",
    "Remember to",
    "It is important that you",
)
_VERB = (
    "think",
    "reason",
    "work",
    "walk me",
    "go",
    "proceed",
    "think this through",
    "reason your way",
    "work your way",
    "talk",
)
_ADV = (
    "step by step",
    "one step at a time",
    "carefully and methodically",
    "through every intermediate step",
    "in small logical steps",
    "slowly and explicitly",
    "systematically",
    "from first principles",
    "piece by piece",
    "thoroughly",
)
_SHOW = (
    "",
    "showing all of your work",
    "writing out your full chain of thought",
    "laying out each deduction",
    "explaining every step of your reasoning",
    "making your reasoning explicit",
    "including all intermediate calculations",
    "documenting your thought process in detail",
    "justifying each step",
    "exposing your complete reasoning",
)
_END = (
    "before giving the final answer.",
    "and only then state your conclusion.",
    "then put the final answer on its own line.",
    "and finish with 'Final answer:' followed by the result.",
    "then summarise the result in one sentence.",
    "and box the final answer.",
    "before you commit to an answer.",
    "and end with a clear conclusion.",
    ".",
)


def cot_phrase(rng: np.random.Generator) -> str:
    """A reasoning-eliciting instruction drawn from a ~100k-combination grammar."""
    o, v, a, s, e = (pick(rng, x) for x in (_OPEN, _VERB, _ADV, _SHOW, _END))
    verb = f"{v} through it" if v in ("walk me", "talk") else v
    text = " ".join(p for p in (o, verb, a) if p)
    if s:
        text += ", " + s
    text = text + ("" if e == "." else " ") + e
    return text[0].upper() + text[1:]


# --- product system prompts -------------------------------------------------------------

_PRODUCTS = (
    "an online bookstore",
    "a travel booking site",
    "a telecom provider",
    "a personal finance app",
    "a recipe platform",
    "a fitness tracker",
    "a home insurance company",
    "a language-learning app",
    "a grocery delivery service",
    "a project management tool",
    "a real-estate marketplace",
    "a university help desk",
    "a car rental company",
    "a pet supplies store",
    "a smart-home device maker",
)
_ROLE = (
    "the customer support assistant for",
    "a friendly helper for",
    "the in-app assistant of",
    "the virtual agent of",
    "a concise support bot for",
)
_RULES = (
    "Answer in at most three sentences.",
    "Keep answers short and polite.",
    "Never discuss competitors.",
    "If you do not know, offer to connect the user with a human agent.",
    "Reply in the user's language.",
    "Do not give legal or medical advice.",
    "Use plain language, no markdown.",
    "Ask a clarifying question when the request is ambiguous.",
)


def product_system_prompt(rng: np.random.Generator, name: str) -> str:
    """A product assistant system prompt (company ``name``), with 2-4 random rules."""
    rules = list(rng.choice(_RULES, size=int(rng.integers(2, 5)), replace=False))
    return f"You are {pick(rng, _ROLE)} {name}, {pick(rng, _PRODUCTS)}. " + " ".join(rules)


# --- prompt skeletons (numbered Q/A frames) --------------------------------------------

_QLABEL = ("Question", "Problem", "Task", "Q", "Item", "Exercise", "Prompt", "Query")
_ALABEL = ("Answer", "Solution", "Response", "A", "Reply", "Output")
_NUMFMT = ("{label} {k}:", "{label} #{k}:", "{label} ({k})", "[{label} {k}]", "{k}. {label}:")


def skeleton(rng: np.random.Generator) -> tuple[str, str, str]:
    """A numbered question/answer frame: ``(question header, answer header, reasoning)``.

    Headers contain ``{k}`` (the item number) where the frame numbers items.
    """
    fmt = pick(rng, _NUMFMT)
    q = fmt.replace("{label}", pick(rng, _QLABEL))
    a = pick(rng, _ALABEL) + ("" if rng.random() < 0.5 else " {k}") + ":"
    return q, a, cot_phrase(rng)


def fill_skeleton(frame: tuple[str, str, str], k: int, item: str) -> str:
    """Fill a skeleton with item number ``k`` and the question text."""
    q, a, why = frame
    return f"{q.replace('{k}', str(k))}\n{item}\n\n{why}\n\n{a.replace('{k}', str(k))}"
