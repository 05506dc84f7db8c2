"""Text normalisation shared by every text signal.

One canonical form is used for all fingerprints, so two prompts that differ only in
Unicode compatibility forms, letter case or whitespace get the same ``exact_fp``:

1. NFKC (skipped for pure-ASCII text, where it is the identity);
2. ``str.casefold`` (``lower`` for ASCII, identical there);
3. U+0085, U+2028 and U+2029 become spaces; then runs of ASCII whitespace
   (``' \\t\\n\\r\\v\\f'``) collapse to one space, and the ends are stripped.

The result is UTF-8 bytes: hashing and scanning bytes is faster than ``str`` in CPython
and the byte regexes of this package also work on UTF-8 input.

Signals other than ``exact_fp`` look only at a bounded *view* of the text: its first
:data:`HEAD_BYTES` and last :data:`TAIL_BYTES` bytes (cut at word boundaries), so the cost
per prompt is bounded and an instruction appended after a long payload is still seen.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

__all__ = [
    "HEAD_BYTES",
    "TAIL_BYTES",
    "Prepared",
    "normalize",
    "prepare",
    "view_of",
]

#: Bytes kept from the start of the normalised text for the bounded view.
HEAD_BYTES = 768
#: Bytes kept from the end of the normalised text for the bounded view.
TAIL_BYTES = 256


# Every ASCII punctuation byte becomes a space for word tokenisation; digits, letters and
# bytes >= 0x80 (UTF-8 sequences of non-ASCII letters) stay.
_PUNCT = b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
WORD_TABLE = bytes.maketrans(_PUNCT, b" " * len(_PUNCT))


class Prepared(NamedTuple):
    """One text after normalisation (internal; never stored).

    Attributes
    ----------
    lines : bytes
        Normalised text with its original line structure (NFKC, casefolded, stripped,
        whitespace not collapsed); used by the template skeleton.
    norm : bytes
        Fully normalised text (whitespace collapsed); ``exact_fp`` hashes this.
    view : bytes
        Bounded view of ``norm`` (head + tail) that every other signal scans.
    words : list of bytes
        Words of ``view`` with ASCII punctuation removed, in order.
    wordset : set of bytes
        ``set(words)``, for the lexicon look-ups.
    """

    lines: bytes
    norm: bytes
    view: bytes
    words: list[bytes]
    wordset: set[bytes]


def _lines(text: str) -> bytes:
    if text.isascii():
        return text.encode("ascii").lower().strip()
    s = unicodedata.normalize("NFKC", text).casefold()
    for ch in "\x85\u2028\u2029":
        if ch in s:
            s = s.replace(ch, " ")
    return s.encode("utf-8", "surrogatepass").strip()


def normalize(text: str | None) -> bytes:
    """Return the canonical normalised form of ``text`` as UTF-8 bytes.

    Parameters
    ----------
    text : str or None
        Any prompt text; ``None`` is treated as empty.

    Returns
    -------
    bytes
        NFKC + casefold + whitespace-collapsed text (``b""`` for empty input).

    Examples
    --------
    >>> normalize("  Hello\\n\\tWORLD ")
    b'hello world'
    """
    if not text:
        return b""
    return b" ".join(_lines(text).split())


def view_of(norm: bytes) -> bytes:
    """Return the bounded view (head + tail, cut at spaces) of a normalised text.

    Parameters
    ----------
    norm : bytes
        Output of :func:`normalize`.

    Returns
    -------
    bytes
        ``norm`` itself when it is at most ``HEAD_BYTES + TAIL_BYTES`` long, else its
        first and last words up to those budgets joined by one space.
    """
    if len(norm) <= HEAD_BYTES + TAIL_BYTES:
        return norm
    head = norm[:HEAD_BYTES]
    cut = head.rfind(b" ")
    if cut > 0:
        head = head[:cut]
    tail = norm[-TAIL_BYTES:]
    cut = tail.find(b" ")
    if 0 <= cut < len(tail) - 1:
        tail = tail[cut + 1 :]
    return head + b" " + tail


def prepare(text: str | None) -> Prepared:
    """Normalise ``text`` once for all signals.

    Parameters
    ----------
    text : str or None
        Prompt text.

    Returns
    -------
    Prepared
        The normalised forms; all empty for empty or whitespace-only input.
    """
    if not text:
        return Prepared(b"", b"", b"", [], set())
    lines = _lines(text)
    norm = b" ".join(lines.split())
    view = view_of(norm)
    words = view.translate(WORD_TABLE).split()
    return Prepared(lines, norm, view, words, set(words))
