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
    "share_user_cache",
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
    nd: int


_EMPTY = _Info(0, 0, 0, int(Topic.OTHER), False, 0, 0)


def _analyse(text: str | None) -> tuple[_Info, list[bytes]]:
    """All signals of one text but the near-duplicate key (0), and the words for it."""
    if not text:
        return _EMPTY, []
    p = prepare(text)
    if not p.norm:
        return _EMPTY, []
    info = _Info(
        exact_fp_bytes(p.norm),
        skeleton_fp_lines(p.lines),
        cot_mask(p.view, p.wordset),
        topic_of(p.view, p.wordset),
        is_mcq_view(p.view, p.wordset),
        p.norm.count(b" ") + 1,
        0,
    )
    return info, p.words


# Prompts repeat across calls (one system prompt per SaaS product or template; harvest
# and eval traffic re-sends the same user prompts), so results are kept across calls.
# The caches are keyed by xxh3_128 of the raw text, so no prompt text outlives a call;
# values hold only fingerprints and flags. Results never depend on the cache state.
_H128 = xxhash.xxh3_128_digest
_SYSTEM_CACHE: dict[bytes, _Info] = {}
_SYSTEM_CACHE_MAX = 4096
# User prompts are far more numerous: an audit of a million events meets ~10^5 distinct
# ones, most of them again and again. Their signals live in one uint64 row per prompt
# (the _Info fields in order) of a table that grows up to _USER_CACHE_MAX rows (~56 B a
# row plus ~90 B of index entry), and _USER_CACHE maps the text key to its row.
_USER_CACHE: dict[bytes, int] = {}
_USER_CACHE_MAX = 1 << 18
_N_FIELDS = len(_Info._fields)
_user_table = np.zeros((0, _N_FIELDS), dtype=np.uint64)
_EMPTY_ROW = np.array(_EMPTY, dtype=np.uint64)


def _key(text: str) -> bytes:
    return _H128(text.encode("utf-8", "surrogatepass"))


def _system_info(text: str | None) -> _Info:
    if not text or not isinstance(text, str):  # None, "", NaN from a DataFrame
        return _EMPTY
    key = _key(text)
    info = _SYSTEM_CACHE.get(key)
    if info is None:
        info = _analyse(text)[0]
        if len(_SYSTEM_CACHE) >= _SYSTEM_CACHE_MAX:
            _SYSTEM_CACHE.clear()
        _SYSTEM_CACHE[key] = info
    return info


def _user_rows(texts: Sequence[str | None]) -> np.ndarray:
    """Signals of distinct user texts as a ``(len(texts), 7)`` uint64 table (the
    :class:`_Info` fields in order): cache hits, then one vectorised nd pass for misses."""
    out = np.broadcast_to(_EMPTY_ROW, (len(texts), _N_FIELDS)).copy()
    hit_pos: list[int] = []
    hit_rows: list[int] = []
    miss_pos: list[int] = []
    miss_keys: list[bytes] = []
    miss_infos: list[_Info] = []
    miss_words: list[list[bytes]] = []
    get = _USER_CACHE.get
    for i, t in enumerate(texts):
        if not t or not isinstance(t, str):  # None, "", NaN from a DataFrame
            continue
        key = _key(t)
        row = get(key)
        if row is not None:
            hit_pos.append(i)
            hit_rows.append(row)
            continue
        info, words = _analyse(t)
        miss_pos.append(i)
        miss_keys.append(key)
        miss_infos.append(info)
        miss_words.append(words)
    if hit_pos:
        out[hit_pos] = _user_table[hit_rows]
    if miss_pos:
        new = np.array(miss_infos, dtype=np.uint64).reshape(len(miss_pos), _N_FIELDS)
        new[:, _N_FIELDS - 1] = nd_keys(miss_words)
        out[miss_pos] = new
        _store(new, miss_keys)
        if _fresh is not None:
            _fresh.append((miss_keys, new))
    return out


def _store(new: np.ndarray, keys: list[bytes]) -> None:
    """Add rows for keys not yet cached (clearing the cache first when it is full)."""
    global _user_table
    n, k = len(_USER_CACHE), len(keys)
    if n + k > _USER_CACHE_MAX:
        _USER_CACHE.clear()
        n = 0
        new, keys = new[-_USER_CACHE_MAX:], keys[-_USER_CACHE_MAX:]
        k = len(keys)
    if n + k > len(_user_table):
        size = min(max(n + k, 2 * len(_user_table), 1024), _USER_CACHE_MAX)
        grown = np.zeros((size, _N_FIELDS), dtype=np.uint64)
        grown[:n] = _user_table[:n]
        _user_table = grown
    _user_table[n : n + k] = new
    _USER_CACHE.update(zip(keys, range(n, n + k), strict=True))


# New user rows since the last share_user_cache() call (None: not collected). Worker
# processes of the offline audit pass them on, so that a prompt analysed by one worker is
# not analysed again by the others (hashes and fingerprints only, never text).
_fresh: list[tuple[list[bytes], np.ndarray]] | None = None


def share_user_cache(
    known: Sequence[tuple[bytes, np.ndarray]] = (),
) -> tuple[bytes, np.ndarray]:
    """Exchange cached user-prompt signals with other processes.

    Parameters
    ----------
    known : sequence of (bytes, numpy.ndarray)
        Entries from other processes, as returned by this function there: joined 16-byte
        keys and their uint64 rows. Added to this process's cache (results never depend
        on the cache, so any entry may be missing or repeated).

    Returns
    -------
    (bytes, numpy.ndarray)
        The entries this process computed since its previous call (collection starts
        with the first call).
    """
    global _fresh
    for keys, rows in known:
        n = len(rows)
        if not n or n > _USER_CACHE_MAX:
            continue
        split = [keys[i * 16 : (i + 1) * 16] for i in range(n)]
        new = [i for i, key in enumerate(split) if key not in _USER_CACHE]
        if new:
            _store(np.asarray(rows, dtype=np.uint64)[new], [split[i] for i in new])
    out = _fresh or []
    _fresh = []
    if not out:
        return b"", np.zeros((0, _N_FIELDS), dtype=np.uint64)
    return b"".join(k for keys, _ in out for k in keys), np.concatenate([r for _, r in out])


def _row_info(row: np.ndarray) -> _Info:
    exact, skeleton, mask, topic, mcq, n_words, nd = row.tolist()
    return _Info(exact, skeleton, mask, topic, bool(mcq), n_words, nd)


def clear_caches() -> None:
    """Drop the cross-call caches (results never depend on them)."""
    global _user_table
    _SYSTEM_CACHE.clear()
    _USER_CACHE.clear()
    _user_table = np.zeros((0, _N_FIELDS), dtype=np.uint64)


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
    u = _row_info(_user_rows([user])[0])
    mask = s.mask | u.mask
    score = float(np.float32(cot_score_from_mask(mask)))
    topic = u.topic if u.topic != Topic.OTHER else s.topic
    return TextSignals(
        exact_fp=u.exact,
        skeleton_fp=u.skeleton,
        nd_key=u.nd,
        system_fp=s.exact,
        cot_score=score,
        is_cot=score >= COT_THRESHOLD,
        topic=topic,
        is_mcq=u.mcq,
        answer_format_short=bool(mask & SHORT_ANSWER_BIT),
        prompt_words=u.n_words,
    )


def _codes(texts: Sequence[str | None]) -> tuple[list[str | None], np.ndarray]:
    """Distinct texts in first-seen order and each item's index into them."""
    index: dict[str | None, int] = {}
    distinct: list[str | None] = []
    codes = np.empty(len(texts), dtype=np.int64)
    get = index.get
    for i, t in enumerate(texts):
        j = get(t)
        if j is None:
            j = index[t] = len(distinct)
            distinct.append(t)
        codes[i] = j
    return distinct, codes


def text_signals_batch(
    systems: Sequence[str | None], users: Sequence[str | None]
) -> dict[str, np.ndarray]:
    """Compute the text signals of many events at once.

    Each distinct prompt is analysed once per call, and at most once per process while
    it stays in the bounded cross-call caches (keyed by ``xxh3_128`` of the text; no
    text is kept). Near-duplicate keys of all new user prompts are computed in one
    vectorised pass.

    Parameters
    ----------
    systems : sequence of str or None
        System prompt of each event (anything that is not a non-empty ``str``, e.g.
        ``None`` or a pandas ``NaN``, counts as absent).
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
    s_texts, s_codes = _codes(systems)
    u_texts, u_codes = _codes(users)
    s_infos = [_system_info(t) for t in s_texts]
    u = _user_rows(u_texts)[u_codes]

    def col(infos: list[_Info], field: int, dtype: np.dtype) -> np.ndarray:
        return np.fromiter((x[field] for x in infos), dtype=dtype, count=len(infos))

    u64 = np.dtype(np.uint64)
    s_mask = col(s_infos, 2, u64)
    mask = s_mask[s_codes] | u[:, 2]
    uniq, inv = np.unique(mask, return_inverse=True)
    scores = np.array([cot_score_from_mask(int(m)) for m in uniq], dtype=np.float32)[inv]
    u_topic = u[:, 3].astype(np.uint8)
    s_topic = col(s_infos, 3, np.dtype(np.uint8))[s_codes]
    return {
        "exact_fp": u[:, 0].copy(),
        "skeleton_fp": u[:, 1].copy(),
        "nd_key": u[:, 6].copy(),
        "system_fp": col(s_infos, 0, u64)[s_codes],
        "cot_score": scores,
        "is_cot": scores >= COT_THRESHOLD,
        "topic": np.where(u_topic == Topic.OTHER, s_topic, u_topic).astype(np.uint8),
        "is_mcq": u[:, 4].astype(np.bool_),
        "answer_format_short": (mask & np.uint64(SHORT_ANSWER_BIT)) != 0,
        "prompt_words": u[:, 5].astype(np.uint32),
    }
