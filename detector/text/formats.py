"""Answer-format signals: multiple-choice layout and short-answer-only instructions.

Both separate evaluation / batch traffic (benchmarks scored with logprobs on the option
letter, "answer with a single word") from output harvesting, which wants long answers.
"""

from __future__ import annotations

import re

from detector.text.cot import SHORT_ANSWER, feature_present

__all__ = ["answer_format_short_view", "is_mcq_view"]

# Option labels: "a)", "(a)", "a.", "a:", "[a]" at the start or after whitespace.
_LABEL = re.compile(rb"(?:^|[\s:(\[])([a-e])[).:\]](?=\s)")
# "options: - yes - no", "choose from: (a) ...", "answer choices: a) ..."
_OPTIONS_HEADER = re.compile(
    rb"(?:options|choices|choose from|select from|pick from|possible answers|answer choices"
    rb"|choose one|select one)\s*:?\s*(?:\(?[a-e1-4][).:\]]|[-*\[]|\xe2\x80\xa2)"
)
_HEADER_WORDS = frozenset(b"options choices choose select pick possible".split())
_CUE_WORDS = frozenset(b"answer correct which choose select option options choice choices".split())


def is_mcq_view(view: bytes, wordset: set[bytes] | frozenset[bytes]) -> bool:
    """Return whether a normalised view looks like a multiple-choice question.

    Parameters
    ----------
    view : bytes
        ``Prepared.view``.
    wordset : set of bytes
        ``Prepared.wordset`` (option letters appear there as one-letter words).

    Returns
    -------
    bool
        True when options labelled ``a b c`` (any of ``a)``, ``(a)``, ``a.``, ``a:``,
        ``[a]``) appear, or ``a b`` plus a question cue ("answer", "which", "?", ...), or
        an "options:" / "choose from:" header followed by a list.
    """
    if b"b" in wordset and b"a" in wordset:
        labels = set(_LABEL.findall(view))
        cue = b"c" in labels or not _CUE_WORDS.isdisjoint(wordset) or b"?" in view
        if b"a" in labels and b"b" in labels and cue:
            return True
    if not _HEADER_WORDS.isdisjoint(wordset):
        return _OPTIONS_HEADER.search(view) is not None
    return False


def answer_format_short_view(view: bytes, wordset: set[bytes] | frozenset[bytes]) -> bool:
    """Return whether a normalised view asks for a short answer only.

    Parameters
    ----------
    view : bytes
        ``Prepared.view``.
    wordset : set of bytes
        ``Prepared.wordset``.

    Returns
    -------
    bool
        True for "answer with a single letter", "respond with only the number", "one
        word", "no explanation", "answer yes or no", ... (the ``short_answer`` feature of
        :mod:`detector.text.cot`).
    """
    return feature_present(SHORT_ANSWER, view, wordset)
