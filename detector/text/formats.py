"""Answer-format signals: multiple-choice layout and short-answer-only instructions.

Both separate evaluation / batch traffic (benchmarks scored with logprobs on the option
letter, "answer with a single word") from output harvesting, which wants long answers.
"""

from __future__ import annotations

import re

from detector.text.cot import SHORT_ANSWER_RE, SHORT_ANSWER_TRIGGERS

__all__ = ["answer_format_short_view", "is_mcq_view"]

# Option labels: "a)", "(a)", "a.", "a:", "[a]" at the start or after whitespace.
_LABEL = re.compile(rb"(?:^|[\s:(\[])([a-e])[).:\]](?=\s)")
# "options: - yes - no", "choose from: (a) ...", "answer choices: a) ..."
_OPTIONS_HEADER = re.compile(
    rb"\b(?:options|choices|choose from|select from|pick from|possible answers|answer choices"
    rb"|choose one|select one)\s*:?\s*(?:\(?[a-e1-4][).:\]]|[-*\[]|\xe2\x80\xa2)"
)
_MCQ_CUE = re.compile(
    rb"\banswer\b|\bcorrect\b|\bwhich\b|\bchoose\b|\bselect\b|\boption|\bchoice|\btrue\b|\?"
)
_PREFILTER = (b"b)", b"b.", b"b:", b"b]", b"option", b"choice", b"choose", b"select from")


def is_mcq_view(view: bytes) -> bool:
    """Return whether a normalised view looks like a multiple-choice question.

    Parameters
    ----------
    view : bytes
        ``Prepared.view``.

    Returns
    -------
    bool
        True when options labelled ``a b c`` (any of ``a)``, ``(a)``, ``a.``, ``a:``)
        appear, or ``a b`` plus a question cue ("answer", "which", "?", ...), or an
        "options:" / "choose from:" header followed by a list.
    """
    if not any(p in view for p in _PREFILTER):
        return False
    labels = set(_LABEL.findall(view))
    if b"a" in labels and b"b" in labels:
        if b"c" in labels or _MCQ_CUE.search(view) is not None:
            return True
    return _OPTIONS_HEADER.search(view) is not None


def answer_format_short_view(view: bytes, words: list[bytes] | set[bytes]) -> bool:
    """Return whether a normalised view asks for a short answer only.

    Parameters
    ----------
    view : bytes
        ``Prepared.view``.
    words : list or set of bytes
        ``Prepared.words``.

    Returns
    -------
    bool
        True for "answer with a single letter", "respond with only the number", "one
        word", "no explanation", "answer yes or no", ...
    """
    if SHORT_ANSWER_TRIGGERS.isdisjoint(words):
        return False
    return SHORT_ANSWER_RE.search(view) is not None
