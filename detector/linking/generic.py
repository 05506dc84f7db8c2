"""Stock prompts shared by unrelated accounts by construction: never link evidence.

SDK and framework defaults ("You are a helpful assistant."), the system prompts model
vendors publish, and the stock chain-of-thought suffixes of papers and evaluation
harnesses ("Let's think step by step.") reach many unrelated accounts. Their
fingerprints - computed here with the same functions the aggregates use - are never
evidence of a common operator, however few accounts hold them in one window (a small
population, or a streaming window, can make a stock prompt look rare).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from detector.linking.profiles import TokenTable
from detector.text.fingerprints import exact_fp, skeleton_fp

__all__ = [
    "GENERIC_SYSTEM_PROMPTS",
    "GENERIC_TEMPLATES",
    "generic_fingerprints",
    "generic_tokens",
]

GENERIC_SYSTEM_PROMPTS: tuple[str, ...] = (
    "You are a helpful assistant.",
    "You are a helpful assistant",
    "You are a helpful AI assistant.",
    "You are an AI assistant.",
    "You are an AI assistant that helps people find information.",
    "You are ChatGPT, a large language model trained by OpenAI.",
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    "You are a helpful and harmless assistant. You should think step-by-step.",
    "You are a helpful, respectful and honest assistant.",
    "A chat between a curious user and an artificial intelligence assistant. The "
    "assistant gives helpful, detailed, and polite answers to the user's questions.",
)
# Templates as a user would send them; "{x}" is the fill-in.
GENERIC_TEMPLATES: tuple[str, ...] = (
    "{x}\nLet's think step by step.",
    "{x}\nThink step by step.",
    "{x}\nLet's work this out in a step by step way to be sure we have the right answer.",
    "{x}\nTake a deep breath and work on this problem step-by-step.",
    "{x}\nPlease reason step by step, and put your final answer within \\boxed{{}}.",
    "Question: {x}\nAnswer:",
    "Q: {x}\nA:",
    "Question: {x}\nAnswer: Let's think step by step.",
)
_FILL = "What is the sum of the first ten odd numbers?"


@cache
def generic_fingerprints() -> dict[str, frozenset[int]]:
    """Fingerprints of the stock prompts, by token family.

    Returns
    -------
    dict
        ``{"system": exact fingerprints of GENERIC_SYSTEM_PROMPTS, "skeleton": skeleton
        fingerprints of GENERIC_TEMPLATES}``.
    """
    return {
        "system": frozenset(exact_fp(t) for t in GENERIC_SYSTEM_PROMPTS),
        "skeleton": frozenset(skeleton_fp(t.format(x=_FILL)) for t in GENERIC_TEMPLATES),
    }


def generic_tokens(table: TokenTable) -> np.ndarray:
    """Mask of the columns of a ``skeleton`` or ``system`` table that are stock prompts.

    Parameters
    ----------
    table : TokenTable
        A token family table.

    Returns
    -------
    numpy.ndarray
        bool per column (all False for other families).
    """
    known = generic_fingerprints().get(table.name)
    if not known or table.values.size == 0:
        return np.zeros(table.values.size, dtype=bool)
    out = np.zeros(table.values.size, dtype=bool)
    for i, v in enumerate(table.values.tolist()):
        try:
            out[i] = int(v) in known
        except (TypeError, ValueError):
            continue
    return out
