"""Text signals computed from prompt text without keeping the text.

Raw prompt text never leaves this package: callers get fingerprints (unsigned 64-bit
ints), a chain-of-thought elicitation score, a topic id and a few flags, and feed them
to mergeable aggregates (HyperLogLogs of fingerprints, topic histograms, ...).

Public API
----------
text_signals(system, user) -> TextSignals
    One event.
text_signals_batch(systems, users) -> dict[str, numpy.ndarray]
    Many events; caches by exact text and vectorises the near-duplicate keys.
exact_fp, skeleton_fp, nd_key, normalize
    The individual fingerprints of one text.
Topic
    Stable topic ids.

See ``docs/text_signals.md`` for definitions, dtypes and measured quality.
"""

from detector.text.cot import COT_THRESHOLD, cot_mask, cot_score_from_mask, explain_mask
from detector.text.fingerprints import exact_fp, nd_key, nd_keys, skeleton_fp
from detector.text.normalize import normalize, prepare
from detector.text.signals import (
    SIGNAL_DTYPES,
    TextSignals,
    clear_caches,
    share_user_cache,
    text_signals,
    text_signals_batch,
)
from detector.text.topics import Topic

__all__ = [
    "COT_THRESHOLD",
    "SIGNAL_DTYPES",
    "TextSignals",
    "Topic",
    "clear_caches",
    "cot_mask",
    "cot_score",
    "cot_score_from_mask",
    "exact_fp",
    "explain_mask",
    "nd_key",
    "nd_keys",
    "normalize",
    "prepare",
    "share_user_cache",
    "skeleton_fp",
    "text_signals",
    "text_signals_batch",
]


def cot_score(system: str | None, user: str | None = None) -> float:
    """Return the chain-of-thought elicitation score of a system + user prompt pair.

    Parameters
    ----------
    system : str or None
        System prompt (or any single text when ``user`` is omitted).
    user : str or None, optional
        User prompt.

    Returns
    -------
    float
        Score in [0, 1]; ``is_cot`` is ``score >= COT_THRESHOLD``.
    """
    return text_signals(system, user).cot_score
