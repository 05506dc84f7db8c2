"""Per-event and batch text signals (the public API of :mod:`detector.text`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import xxhash

from detector.text.cot import COT_THRESHOLD, SHORT_ANSWER_BIT, cot_mask, cot_score_from_mask
from detector.text.fingerprints import exact_fp_bytes, nd_keys, skeleton_fp_lines
from detector.text.formats import is_mcq_view
from detector.text.normalize import prepare
from detector.text.topics import Topic, topic_of

__all__ = [
    "SIGNAL_DTYPES",
    "TextSignals",
    "clear_caches",
    "text_signals",
    "text_signals_batch",
]


class TextSignals(NamedTuple):
    """Text signals of one event; no text is kept.

    Attributes
    ----------
    exact_fp : int
        Fingerprint of the normalised user prompt, unsigned 64-bit; 0 when absent.
    skeleton_fp : int
        Template skeleton of the user prompt, unsigned 64-bit; 0 when absent.
    nd_key : int
        Near-duplicate (MinHash) key of the user prompt, unsigned 64-bit; 0 when absent.
    system_fp : int
        Fingerprint of the normalised system prompt, unsigned 64-bit; 0 when absent.
    cot_score : float
        Chain-of-thought elicitation score in [0, 1] over system + user text.
    is_cot : bool
        ``cot_score >= COT_THRESHOLD`` (0.5).
    topic : int
        :class:`detector.text.topics.Topic` id of the user prompt (the system prompt's
        topic when the user prompt's is OTHER).
    is_mcq : bool
        The user prompt is laid out as a multiple-choice question.
    answer_format_short : bool
        The system or user prompt asks for a short answer only.
    prompt_words : int
        Whitespace-separated words in the user prompt (CJK text counts few words).
    """

    exact_fp: int
    skeleton_fp: int
    nd_key: int
    system_fp: int
    cot_score: float
    is_cot: bool
    topic: int
    is_mcq: bool
    answer_format_short: bool
    prompt_words: int


#: dtype of each array returned by :func:`text_signals_batch`.
SIGNAL_DTYPES: dict[str, np.dtype] = {
    "exact_fp": np.dtype(np.uint64),
    "skeleton_fp": np.dtype(np.uint64),
    "nd_key": np.dtype(np.uint64),
    "system_fp": np.dtype(np.uint64),
    "cot_score": np.dtype(np.float32),
    "is_cot": np.dtype(np.bool_),
    "topic": np.dtype(np.uint8),
    "is_mcq": np.dtype(np.bool_),
    "answer_format_short": np.dtype(np.bool_),
    "prompt_words": np.dtype(np.uint32),
}


class _Info(NamedTuple):
    exact: int
    skeleton: int
    mask: int
    topic: int
    mcq: bool
    n_words: int
    words: list[bytes]


_EMPTY = _Info(0, 0, 0, int(Topic.OTHER), False, 0, [])


def _analyse(text: str | None) -> _Info:
    if not text:
        return _EMPTY
    p = prepare(text)
    if not p.norm:
        return _EMPTY
    return _Info(
        exact_fp_bytes(p.norm),
        skeleton_fp_lines(p.lines),
        cot_mask(p.view, p.wordset),
        topic_of(p.view, p.wordset),
        is_mcq_view(p.view, p.wordset),
        p.norm.count(b" ") + 1,
        p.words,
    )


# System prompts repeat across batches (one per SaaS product / template), so their
# signals are kept across calls. The cache is keyed by xxh3_128 of the raw text, so no
# prompt text outlives a call; values hold only fingerprints and flags.
_SYSTEM_CACHE: dict[bytes, _Info] = {}
_SYSTEM_CACHE_MAX = 4096
_H128 = xxhash.xxh3_128_digest


def _system_info(text: str | None) -> _Info:
    if not text:
        return _EMPTY
    key = _H128(text.encode("utf-8", "surrogatepass"))
    info = _SYSTEM_CACHE.get(key)
    if info is None:
        info = _analyse(text)._replace(words=[])
        if len(_SYSTEM_CACHE) >= _SYSTEM_CACHE_MAX:
            _SYSTEM_CACHE.clear()
        _SYSTEM_CACHE[key] = info
    return info


def clear_caches() -> None:
    """Drop the cross-call system-prompt cache (results never depend on it)."""
    _SYSTEM_CACHE.clear()


def text_signals(system: str | None, user: str | None) -> TextSignals:
    """Compute the text signals of one event.

    Parameters
    ----------
    system : str or None
        System prompt text (``None`` or empty when absent).
    user : str or None
        Last user message text.

    Returns
    -------
    TextSignals
        Fingerprints as Python ints in ``[0, 2**64)``, the CoT score, topic and flags.
        Identical to the corresponding row of :func:`text_signals_batch`.
    """
    s = _system_info(system)
    u = _analyse(user)
    mask = s.mask | u.mask
    score = float(np.float32(cot_score_from_mask(mask)))
    topic = u.topic if u.topic != Topic.OTHER else s.topic
    return TextSignals(
        exact_fp=u.exact,
        skeleton_fp=u.skeleton,
        nd_key=int(nd_keys([u.words])[0]) if u.words else 0,
        system_fp=s.exact,
        cot_score=score,
        is_cot=score >= COT_THRESHOLD,
        topic=topic,
        is_mcq=u.mcq,
        answer_format_short=bool(mask & SHORT_ANSWER_BIT),
        prompt_words=u.n_words,
    )


def _distinct(texts: Sequence[str | None], analyse) -> tuple[list[_Info], np.ndarray]:
    index: dict[str | None, int] = {}
    infos: list[_Info] = []
    codes = np.empty(len(texts), dtype=np.int64)
    get = index.get
    for i, t in enumerate(texts):
        j = get(t)
        if j is None:
            j = index[t] = len(infos)
            infos.append(analyse(t))
        codes[i] = j
    return infos, codes


def text_signals_batch(
    systems: Sequence[str | None], users: Sequence[str | None]
) -> dict[str, np.ndarray]:
    """Compute the text signals of many events at once.

    Each distinct user prompt is analysed once per call and each distinct system prompt
    once per process (bounded cache); near-duplicate keys are computed for all distinct
    user prompts in one vectorised pass.

    Parameters
    ----------
    systems : sequence of str or None
        System prompt of each event.
    users : sequence of str or None
        User prompt of each event (same length as ``systems``).

    Returns
    -------
    dict of str to numpy.ndarray
        One array per :class:`TextSignals` field, with the dtypes in
        :data:`SIGNAL_DTYPES` (``uint64`` fingerprints, ``float32`` score, ``uint8``
        topic, ``uint32`` word count, ``bool`` flags).
    """
    n = len(users)
    if len(systems) != n:
        raise ValueError(f"systems has {len(systems)} items, users has {n}")
    s_infos, s_codes = _distinct(systems, _system_info)
    u_infos, u_codes = _distinct(users, _analyse)

    def col(infos: list[_Info], field: int, dtype: np.dtype) -> np.ndarray:
        return np.fromiter((x[field] for x in infos), dtype=dtype, count=len(infos))

    u64 = np.dtype(np.uint64)
    u_nd = nd_keys([x.words for x in u_infos])
    u_mask = col(u_infos, 2, u64)
    s_mask = col(s_infos, 2, u64)
    mask = s_mask[s_codes] | u_mask[u_codes]
    uniq, inv = np.unique(mask, return_inverse=True)
    scores = np.array([cot_score_from_mask(int(m)) for m in uniq], dtype=np.float32)[inv]
    u_topic = col(u_infos, 3, np.dtype(np.uint8))[u_codes]
    s_topic = col(s_infos, 3, np.dtype(np.uint8))[s_codes]
    return {
        "exact_fp": col(u_infos, 0, u64)[u_codes],
        "skeleton_fp": col(u_infos, 1, u64)[u_codes],
        "nd_key": u_nd[u_codes],
        "system_fp": col(s_infos, 0, u64)[s_codes],
        "cot_score": scores,
        "is_cot": scores >= COT_THRESHOLD,
        "topic": np.where(u_topic == Topic.OTHER, s_topic, u_topic).astype(np.uint8),
        "is_mcq": col(u_infos, 4, np.dtype(np.bool_))[u_codes],
        "answer_format_short": (mask & np.uint64(SHORT_ANSWER_BIT)) != 0,
        "prompt_words": col(u_infos, 5, np.dtype(np.uint32))[u_codes],
    }
