"""Fingerprints of prompt text: exact, template skeleton and near-duplicate keys.

All fingerprints are unsigned 64-bit integers (Python ``int`` in ``[1, 2**64)``, or
``numpy.uint64`` in batch output). ``0`` is reserved for "no text" (absent, empty or
whitespace-only); a real hash that happens to be 0 is mapped to 1. Every hash is
seeded constants + xxHash / splitmix64, never Python's randomised ``hash()``, so the
values are identical across processes, machines and releases of this module (changing
any constant here is a breaking change for stored HyperLogLogs and links).

``exact_fp``
    ``xxh3_64`` of :func:`detector.text.normalize.normalize` (the whole text).
``skeleton_fp``
    Template skeleton: the fixed part of a templated prompt (see :func:`skeleton_fp`).
``nd_key``
    Near-duplicate key: a 2-row MinHash band over word 3-shingles of the bounded view
    (see :func:`nd_keys`). Two texts with word-shingle Jaccard similarity ``J`` share a
    key with probability about ``J**2``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import numpy as np
import xxhash

from detector.text.normalize import WORD_TABLE, prepare

__all__ = [
    "ND_MAX_WORDS",
    "ND_ROWS",
    "ND_SHINGLE",
    "exact_fp",
    "exact_fp_bytes",
    "nd_key",
    "nd_keys",
    "skeleton_fp",
    "skeleton_fp_lines",
]

_XXH = xxhash.xxh3_64_intdigest
_U64 = np.uint64
_MAXU64 = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


def exact_fp_bytes(norm: bytes) -> int:
    """Return the exact fingerprint of already-normalised bytes (0 for empty)."""
    if not norm:
        return 0
    return _XXH(norm) or 1


def exact_fp(text: str | None) -> int:
    """Return the exact fingerprint of ``text``.

    Parameters
    ----------
    text : str or None
        Prompt text.

    Returns
    -------
    int
        ``xxh3_64`` (seed 0) of the NFKC + casefold + whitespace-collapsed UTF-8 text, in
        ``[1, 2**64)``; ``0`` when the text is absent or blank.
    """
    return exact_fp_bytes(prepare(text).norm)


# --------------------------------------------------------------------------- skeleton

#: Bytes examined at each end of the text to find the head and tail segments.
SK_SPAN = 400
#: A head/tail segment longer than this (in words) is not a template part.
SK_SEG_MAX_WORDS = 40
#: Words kept from each end in the fallback skeleton.
SK_FALLBACK_WORDS = 8

# A segment ends at a newline, or at ':' '.' '?' '!' followed by whitespace.
_BREAK = re.compile(rb"\n|[:.?!;](?=\s)")
_LAST_BREAK = re.compile(rb"(?s:.*)(?:\n|[:.?!;](?=\s))")
_SPACE = re.compile(rb"\s*")
# Bytes taken from each end of the text for the fallback skeleton's first / last words.
_FALLBACK_SPAN = 160

# Fill-in material that varies between instances of one template, each with a cheap
# substring test that must pass before its regex runs (only on short segments).
_MASKS: tuple[tuple[bytes, re.Pattern[bytes]], ...] = (
    (b"```", re.compile(rb"```.*?(?:```|\Z)", re.DOTALL)),  # fenced code
    (b"://", re.compile(rb"\S+://\S+")),  # URLs
    (b"www.", re.compile(rb"www\.\S+")),
    (b"@", re.compile(rb"[\w.+-]{1,64}@[\w-]{1,63}\.[\w.-]{1,63}")),  # e-mail addresses
    (b"`", re.compile(rb"`[^`\n]{1,200}`")),  # inline code
    (b'"', re.compile(rb'"[^"\n]{1,300}"')),  # "quoted"
    (b"\xe2\x80\x9c", re.compile(rb"\xe2\x80\x9c[^\n]{1,300}?\xe2\x80\x9d")),  # “quoted”
    (b"'", re.compile(rb"(?<![\w'])'[^'\n]{1,200}'(?![\w'])")),  # 'quoted'
    (b"$", re.compile(rb"\$[^$\n]{1,300}\$")),  # $latex$
)
_NUMBER = re.compile(rb"\d+(?:[.,:/-]\d+)*")  # numbers, dates, times

# Words that make a short head/tail segment look like the instruction part of a
# template rather than user content.
_MARKERS = frozenset(
    b"""
    q question questions query answer answers answering respond response reply output
    input instruction instructions task problem problems exercise solve solution calculate
    compute translate translation summarize summarise summary tl dr tldr classify
    classification categorize category label sentiment review text sentence sentences
    passage article paragraph document context premise hypothesis claim statement options
    option choices choose select following below above given provided read determine
    identify extract generate rewrite paraphrase rephrase correct true false step steps
    think reason reasoning explain explanation justify final format json let lets please
    user assistant system human ai act pretend role roleplay persona expert helpful write
    describe complete continue fill blank example examples multiple choice
    """.split()
)
# A reasoning request ("think step by step", "show your reasoning", "reason carefully"):
# the part harvesting templates share, so a segment holding one is preferred as the
# fixed part, and is the only instruction looked for past a numbering / answer label.
_REASONING_NOUNS = frozenset(b"reasoning rationale justify justification".split())
_REASONING_VERBS = frozenset(b"think reason work walk".split())
_REASONING_HOW = frozenset(b"step steps carefully through aloud".split())
_REASONING_BONUS = 0.1


def _asks_reasoning(words: list[bytes]) -> bool:
    """Whether masked words hold a reasoning request (not just the word "think")."""
    ws = set(words)
    if not _REASONING_NOUNS.isdisjoint(ws):
        return True
    if b"step" in ws and b"by" in ws:
        return True
    return not _REASONING_VERBS.isdisjoint(ws) and not _REASONING_HOW.isdisjoint(ws)


# Words of a numbering or slot label ("Q3:", "Question 12.", "Answer:", "Item (b)"):
# a segment made only of these (and masked numbers) frames the fill-in, it is not the
# template's instruction.
_LABELS = frozenset(
    b"""
    q a question questions answer answers problem item task exercise no nr number part
    input output response solution example prompt query instance sample case
    """.split()
)
_LABEL_MAX_WORDS = 4
_LABEL_MAX_BYTES = 40
_ROMAN = re.compile(rb"[ivx]{1,4}")
# Enumerators at the start of a line: "(a)", "a)", "b.", "(iv)", "iv.", "#3", "3)", "3.".
_ENUM = re.compile(
    rb"(?m)^[ \t]*(?:\(\s*(?:[a-z]|[ivx]{1,4}|\d{1,4})\s*\)|(?:[a-z]|[ivx]{1,4})[.)](?=\s|$)"
    rb"|#\s?\d{1,4}|\d{1,4}[.)](?=\s|$))"
)
#: Segments examined at each end when label segments are skipped.
SK_MAX_SEGMENTS = 8


def _mask_words(seg: bytes) -> list[bytes]:
    for needle, pat in _MASKS:
        if needle in seg:
            seg = pat.sub(b" 0 ", seg)
    seg = _ENUM.sub(b" 0 ", seg)
    return _NUMBER.sub(b" 0 ", seg).translate(WORD_TABLE).split()


def _instruction_score(words: list[bytes]) -> float:
    """Share of template marker words in a segment (0 if none or too long).

    A segment holding a reasoning request gets :data:`_REASONING_BONUS` more.
    """
    if not words or len(words) > SK_SEG_MAX_WORDS:
        return 0.0
    hits = len(_MARKERS.intersection(words))
    if not hits:
        return 0.0
    bonus = _REASONING_BONUS if _asks_reasoning(words) else 0.0
    return hits / (len(words) + 2) + bonus


def _plain_words(seg: bytes) -> list[bytes]:
    """Words of a segment, punctuation removed (nothing masked): enough to score it."""
    return seg.translate(WORD_TABLE).split()


def _label_words(seg: bytes) -> list[bytes] | None:
    """Masked words of a numbering / slot label segment ("q 0", "answer 0"), else None.

    A label is at most :data:`_LABEL_MAX_WORDS` words (:data:`_LABEL_MAX_BYTES` bytes),
    each a label word, a masked number or enumerator, a single letter or a roman
    numeral, with at least one label word.
    """
    if len(seg) > _LABEL_MAX_BYTES:
        return None
    words = _mask_words(seg)
    if not words or len(words) > _LABEL_MAX_WORDS or _LABELS.isdisjoint(words):
        return None
    ok = all(
        w == b"0" or w in _LABELS or len(w) == 1 or _ROMAN.fullmatch(w) is not None for w in words
    )
    return words if ok else None


def _head_segments(span: bytes) -> Iterator[tuple[bytes, bytes, bool, int]]:
    """Non-blank segments of ``span`` from the start, lazily.

    Yields the segment, the break that ends it (``b""`` at the end), whether a newline
    follows it before the next segment, and the byte position where the next one starts.
    """
    pos, n = 0, len(span)
    while pos < n:
        m = _BREAK.search(span, pos)
        if m is None:
            yield span[pos:], b"", True, n
            return
        nxt = _SPACE.match(span, m.end()).end()  # type: ignore[union-attr]
        brk = span[m.start() : m.start() + 1]
        eol = brk == b"\n" or b"\n" in span[m.end() : nxt]
        if span[pos : m.start()].strip():
            yield span[pos : m.start()], brk, eol, nxt
        pos = nxt


def _tail_segments(span: bytes) -> Iterator[tuple[bytes, int]]:
    """Non-blank segments of ``span`` from the end, lazily, with their start position."""
    end = len(span)
    while end > 0:
        m = _LAST_BREAK.match(span, 0, end)
        start = _SPACE.match(span, m.end() if m is not None else 0, end).end()  # type: ignore[union-attr]
        if span[start:end].strip():
            yield span[start:end], start
        if m is None:
            return
        end = m.end() - 1  # the break itself


def skeleton_fp_lines(lines: bytes) -> int:
    """Return the skeleton fingerprint of normalised text with its line structure.

    Parameters
    ----------
    lines : bytes
        ``Prepared.lines``: NFKC + casefolded + stripped text, newlines kept.

    Returns
    -------
    int
        ``xxh3_64`` of :func:`skeleton_material`, ``0`` for empty text.
    """
    if not lines:
        return 0
    return _XXH(skeleton_material(lines)) or 1


def skeleton_material(lines: bytes) -> bytes:
    """Return the bytes the skeleton fingerprint hashes (for tests and debugging).

    Parameters
    ----------
    lines : bytes
        ``Prepared.lines``: NFKC + casefolded + stripped text, newlines kept.

    Returns
    -------
    bytes
        A tag (``H`` head segment, ``T`` tail segment, ``L`` label frame, ``F``
        fallback) and the masked words that identify the template; ``b""`` for empty
        text.

    Notes
    -----
    The text is cut into segments at newlines and at ``: . ? ! ;`` followed by
    whitespace (the first / last :data:`SK_SPAN` bytes are examined). Numbers,
    enumerators at the start of a line (``1.``, ``(a)``, ``iv)``, ``#3``), quoted
    strings, URLs, e-mails, code and ``$math$`` are masked.

    *Label* segments - at most :data:`_LABEL_MAX_WORDS` words that are all numbering or
    slot labels (``Q3:``, ``Question 12.``, ``Item (b)``, ``Answer:``) - are skipped at
    both ends; the rest of the line after a leading ``label:`` is the fill-in slot. The
    *head* is the first segment left, the *tail* the last one (neither inside the
    slot); one found past a label must ask for reasoning (or, the head, end with a
    colon), else it is taken for the item. A segment of at most
    :data:`SK_SEG_MAX_WORDS` words is scored by its share of template marker words
    ("question", "answer", "translate", "step", "following", ...), +0.5 when the head
    ends with a colon ("instruction: {fill-in}") and +0.1 when it asks for reasoning
    ("think step by step", "show your reasoning"). The skipped labels are a third
    candidate, the *frame* (``Question: {x}\\nAnswer:``), scored by its first and last
    label. The best of head, tail and frame (ties in that order) is the skeleton, so
    the numbering, the item filled in and whitespace do not change the skeleton of a
    numbered question/answer frame. When none scores (most free-form prompts) it is the
    first and last :data:`SK_FALLBACK_WORDS` masked words, which still makes prompts
    whose fill-ins are numbers, quotes, URLs or code collide.
    """
    if not lines:
        return b""
    head = lines[:SK_SPAN]
    if _BREAK.search(head) is not None:
        labels: list[bytes] = []
        l_score = 0.0  # the label frame: its first head / last tail label scored
        h_seg = b""
        h_colon = False
        h_end = 0  # where the head candidate (or the slot after a label) ends
        slot = False
        segs = _head_segments(head)
        for k, (seg, brk, _eol, nxt) in enumerate(segs):
            if k >= SK_MAX_SEGMENTS:
                break
            words = _label_words(seg)
            if words is not None:
                if not labels:
                    l_score = _instruction_score(words)
                labels.extend(words)
                h_end = nxt
                if brk == b":":
                    # "label: {fill-in}": the slot runs to the end of its line
                    slot = True
                    for _seg, _brk, eol, nxt2 in segs:
                        h_end = nxt2
                        if eol:
                            break
                    break
                continue
            h_seg, h_colon, h_end = seg, brk == b":", nxt
            if labels and not h_colon and not _asks_reasoning(_plain_words(seg)):
                h_seg = b""  # after a label: an instruction ends in ':' or asks to reason
            break
        offset = max(len(lines) - SK_SPAN, 0)
        t_seg = b""
        t_labels: list[bytes] = []
        for k, (seg, start) in enumerate(_tail_segments(lines[offset:])):
            if k >= SK_MAX_SEGMENTS or offset + start < h_end:
                break  # reached the head candidate or the slot
            words = _label_words(seg)
            if words is not None:
                if not t_labels:
                    l_score = max(l_score, _instruction_score(words))
                t_labels[:0] = words
                continue
            if not t_labels or _asks_reasoning(_plain_words(seg)):
                t_seg = seg  # before a label: only a reasoning request
            break
        h_score = 0.0 if slot or not h_seg else _instruction_score(_plain_words(h_seg))
        if h_score and h_colon:
            h_score += 0.5  # "instruction: {fill-in}"
        t_score = _instruction_score(_plain_words(t_seg)) if t_seg else 0.0
        if h_score and h_score >= max(t_score, l_score):
            return b"H\x00" + b" ".join(_mask_words(h_seg))
        if t_score and t_score >= l_score:
            return b"T\x00" + b" ".join(_mask_words(t_seg))
        if labels or t_labels:
            return b"L\x00" + b" ".join(labels) + b"\x00" + b" ".join(t_labels)
    k = SK_FALLBACK_WORDS
    if len(lines) <= 2 * _FALLBACK_SPAN:
        words = _mask_words(lines)
        first, last_w = words[:k], words[-k:] if len(words) > k else []
    else:
        first = _mask_words(lines[:_FALLBACK_SPAN])[:k]
        last_w = _mask_words(lines[-_FALLBACK_SPAN:])[-k:]
    return b"F\x00" + b" ".join(first) + b"\x00" + b" ".join(last_w)


def skeleton_fp(text: str | None) -> int:
    """Return the template-skeleton fingerprint of ``text``.

    Prompts built from one template with different fill-ins ("Solve step by step:
    {question}", "{question}\\nLet's think step by step.", "Question number {n} about my
    account") share a skeleton; unrelated free-form prompts almost never do. See
    :func:`skeleton_fp_lines` for the rule and ``docs/text_signals.md`` for measured
    collision rates.

    Parameters
    ----------
    text : str or None
        Prompt text.

    Returns
    -------
    int
        Unsigned 64-bit fingerprint in ``[1, 2**64)``; ``0`` for absent/blank text.
    """
    return skeleton_fp_lines(prepare(text).lines)


# --------------------------------------------------------------------------- nd_key

#: Words per shingle.
ND_SHINGLE = 3
#: MinHash rows hashed into one key (collision probability ~ J ** ND_ROWS).
ND_ROWS = 2
#: At most this many words of the view are shingled.
ND_MAX_WORDS = 160

# Polynomial rolling hash mod 2**64 over bytes (odd base, so it has an inverse), then a
# splitmix64 finaliser per shingle. Tables of powers are grown on demand.
_BASE = 0x100000001B3 * 2 + 1
_BASE_INV = pow(_BASE, -1, 1 << 64)
_SEEDS = (0x243F6A8885A308D3, 0x13198A2E03707344, 0xA4093822299F31D0, 0x082EFA98EC4E6C89)
_pow_cache: dict[str, np.ndarray] = {}
_CHUNK_BYTES = 1 << 18


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    have = _pow_cache.get("pos")
    if have is None or len(have) < n:
        size = max(n, _CHUNK_BYTES + 4096)
        pos = np.empty(size, dtype=_U64)
        inv = np.empty(size, dtype=_U64)
        pos[0] = inv[0] = 1
        with np.errstate(over="ignore"):
            pos[1:] = np.cumprod(np.full(size - 1, _BASE, dtype=_U64), dtype=_U64)
            inv[1:] = np.cumprod(np.full(size - 1, _BASE_INV, dtype=_U64), dtype=_U64)
        _pow_cache["pos"], _pow_cache["inv"] = pos, inv
    return _pow_cache["pos"], _pow_cache["inv"]


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, in place on a fresh uint64 array."""
    x ^= x >> _U64(30)
    x *= _U64(0xBF58476D1CE4E5B9)
    x ^= x >> _U64(27)
    x *= _U64(0x94D049BB133111EB)
    x ^= x >> _U64(31)
    return x


def _nd_chunk(parts: list[bytes], counts: np.ndarray) -> np.ndarray:
    buf = b" " + b" ".join(parts)
    a = np.frombuffer(buf, dtype=np.uint8)
    n_bytes = len(a)
    pos, inv = _powers(n_bytes + 1)
    sp = np.flatnonzero(a == 32)  # one space before every word
    n_words = len(sp)
    wstart = sp + 1
    wend = np.empty(n_words, dtype=np.int64)
    wend[:-1] = sp[1:]
    wend[-1] = n_bytes
    prefix = np.zeros(n_bytes + 1, dtype=_U64)
    np.cumsum(a.astype(_U64) * inv[:n_bytes], out=prefix[1:])

    firsts = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=firsts[1:])
    k = ND_SHINGLE
    start = wstart.copy()
    end = np.empty(n_words, dtype=np.int64)
    end[: n_words - k + 1] = wend[k - 1 :]
    end[n_words - k + 1 :] = wend[-1]
    # position of each word inside its text; a shingle is valid if it ends inside the text
    tid = np.repeat(np.arange(len(counts)), counts)
    offset = np.arange(n_words) - firsts[tid]
    valid = offset <= counts[tid] - k
    short = np.flatnonzero(counts < k)
    if len(short):  # texts with fewer than k words: one shingle = the whole text
        f = firsts[short]
        end[f] = wend[f + counts[short] - 1]
        valid[f] = True
    with np.errstate(over="ignore"):
        base = (prefix[end] - prefix[start]) * pos[start]
        keys = np.zeros(len(counts), dtype=_U64)
        for row in range(ND_ROWS):
            h = _mix(base ^ _U64(_SEEDS[row]))
            h[~valid] = _MAXU64
            keys = (keys * _U64(0x9E3779B97F4A7C15)) ^ np.minimum.reduceat(h, firsts)
        keys = _mix(keys)
    keys[keys == 0] = 1
    return keys


def nd_keys(word_lists: Sequence[Sequence[bytes]]) -> np.ndarray:
    """Return near-duplicate keys for many texts at once (vectorised).

    Parameters
    ----------
    word_lists : sequence of sequences of bytes
        ``Prepared.words`` of each text (punctuation-free words of the bounded view).

    Returns
    -------
    numpy.ndarray
        ``uint64`` keys, ``0`` where a text has no words.

    Notes
    -----
    Each text's first :data:`ND_MAX_WORDS` words are cut into overlapping
    :data:`ND_SHINGLE`-word shingles (a text with fewer words is one shingle). Each
    shingle is hashed with a polynomial rolling hash over its bytes (computed for the
    whole batch with one ``cumsum``) and a splitmix64 finaliser; :data:`ND_ROWS`
    independently seeded minima (MinHash) are folded into one key. Two texts whose
    shingle sets have Jaccard similarity ``J`` share a key with probability ``J**2``.
    """
    out = np.zeros(len(word_lists), dtype=_U64)
    idx: list[int] = []
    parts: list[bytes] = []
    counts: list[int] = []
    size = 0

    def flush() -> None:
        nonlocal size
        if idx:
            out[idx] = _nd_chunk(parts, np.asarray(counts, dtype=np.int64))
        idx.clear()
        parts.clear()
        counts.clear()
        size = 0

    for i, words in enumerate(word_lists):
        if not words:
            continue
        if len(words) > ND_MAX_WORDS:
            words = words[:ND_MAX_WORDS]
        part = b" ".join(words)
        if size + len(part) + 1 > _CHUNK_BYTES:
            flush()
        idx.append(i)
        parts.append(part)
        counts.append(len(words))
        size += len(part) + 1
    flush()
    return out


def nd_key(text: str | None) -> int:
    """Return the near-duplicate key of one text (see :func:`nd_keys`).

    Parameters
    ----------
    text : str or None
        Prompt text.

    Returns
    -------
    int
        Unsigned 64-bit key in ``[1, 2**64)``; ``0`` for text without words.
    """
    return int(nd_keys([prepare(text).words])[0])
