"""Chain-of-thought elicitation score: a weighted lexicon combined by a logistic function.

Each *feature* is a phrase pattern over the normalised bounded view of a text (see
:mod:`detector.text.normalize`) with a weight in logit units. The score of a request is

    cot_score = sigmoid(BIAS + sum of the weights of the features present in the
                        system prompt or the user prompt)

so one strong cue ("let's think step by step", "show your work", "explain your
reasoning", ``<think>``) is enough (weights >= 4.5 against ``BIAS = -4``), weak cues
("detailed explanation", "walk me through", "before answering", "final answer") need to
come together, and eval-style short-answer instructions ("answer with only the letter",
"no explanation") and procedural "step-by-step guide / instructions" pull the score
down. ``is_cot = cot_score >= COT_THRESHOLD`` (0.5, i.e. logit >= 0).

Speed: a feature is one or more :class:`Variant` s. A variant has *gates*, groups of
words that must all be present among the text's words (one set intersection per text
finds the candidates), and only then is its regex run. Regexes start with a literal
where possible (CPython's ``re`` only scans fast for a literal prefix); "verb ... object"
phrases search the object first and look for the verb in a short window before it.

:data:`FEATURES` is the single source of truth and is documented in
``docs/text_signals.md``. Feature ids are bit positions in the per-text mask (stable
within a release; the mask itself is never stored).
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

__all__ = [
    "BIAS",
    "COT_THRESHOLD",
    "FEATURES",
    "SHORT_ANSWER",
    "CotFeature",
    "Variant",
    "cot_mask",
    "cot_score_from_mask",
    "explain_mask",
    "feature_present",
]

#: Logit of a text with no cue at all (sigmoid(-4) = 0.018).
BIAS = -4.0
#: ``is_cot`` threshold on ``cot_score`` (logit 0: one strong cue, or two medium ones).
COT_THRESHOLD = 0.5
#: Bytes before an object match in which a ``Variant.before`` verb must occur.
VERB_WINDOW = 48

_AP = rb"(?:'|\xe2\x80\x99)?"  # optional ASCII or typographic apostrophe
_SBS = rb"step[- ]?by[- ]?step"


class Variant(NamedTuple):
    """One way a feature can be present.

    Attributes
    ----------
    gates : tuple of frozenset of bytes
        Word groups (lowercase, punctuation-free); each group must share a word with
        the text before the regex is tried.
    pattern : re.Pattern or None
        Byte regex searched in the view; ``None``: the gates alone decide.
    before : re.Pattern or None
        If set, it must match within :data:`VERB_WINDOW` bytes before a ``pattern``
        match (e.g. "explain" before "your reasoning").
    i18n : bool
        Also try the pattern on every view that is not pure ASCII, gates or not.
    """

    gates: tuple[frozenset[bytes], ...]
    pattern: re.Pattern[bytes] | None
    before: re.Pattern[bytes] | None = None
    i18n: bool = False


class CotFeature(NamedTuple):
    """One lexicon entry: present when any of its variants matches.

    Attributes
    ----------
    name : str
        Stable short name (used in docs and explanations).
    weight : float
        Contribution to the logit when present.
    variants : tuple of Variant
    """

    name: str
    weight: float
    variants: tuple[Variant, ...]


def _g(*groups: str) -> tuple[frozenset[bytes], ...]:
    return tuple(frozenset(g.encode().split()) for g in groups)


def _v(
    gates: tuple[frozenset[bytes], ...],
    pattern: bytes | None,
    before: bytes | None = None,
    i18n: bool = False,
) -> Variant:
    return Variant(
        gates,
        re.compile(pattern) if pattern is not None else None,
        re.compile(before) if before is not None else None,
        i18n,
    )


def _f(name: str, weight: float, *variants: Variant) -> CotFeature:
    return CotFeature(name, weight, variants)


_STEP = "step"
_BY = "by"
_ADVERBS = (
    "step stepwise wise systematically methodically carefully thoroughly logically rigorously "
    "slowly piece bit stages sequentially deeply critically"
)
_PROCESS_ADVERB = (
    rb"(?:" + _SBS + rb"|one step at a time|step[- ]?wise|stepwise|systematically|methodically"
    rb"|carefully|thoroughly|logically|rigorously|slowly|piece by piece|one piece at a time"
    rb"|bit by bit|in stages|sequentially|deeply|critically)"
)
_REASONING_NOUNS = (
    "reasoning rationale justification derivation working workings thinking thought logic "
    "approach steps calculation calculations method solution"
)
_REASONING_NOUN_RE = (
    rb"(?:reasoning|rationale|justification|derivation|workings?|thinking|thought process(?:es)?"
    rb"|logic|approach|steps|calculations?|method|solution process)\b"
)
_EXPLAIN_VERB_RE = (
    rb"\b(?:explain|show|describe|lay(?:ing)? out|writ(?:e|ing) (?:out|down)|demonstrat"
    rb"|elaborat|present(?:s|ing)?\b|detail(?:s|ing)?\b|outline|includ|provide|giv(?:e|es|ing)\b"
    rb"|share|stat(?:e|es|ing)\b|spell out|articulat|document(?:s|ing)?\b|go(?:ing)? over"
    rb"|walk (?:me |us )?through|take (?:me |us )?through|clarify|break down)"
)

SHORT_ANSWER = _f(
    "short_answer",
    -3.0,
    _v(
        _g(
            "letter word number digit integer character label token yes true",
            "answer respond reply output return write give say choose select pick state print "
            "provide",
        ),
        rb"(?:answer|respond|reply|output|return|write|give|say|choose|select|pick|state|print"
        rb"|provide)(?: \S+){0,3}? (?:with|using|in|as) (?:only |just |exactly )?(?:a |an |one "
        rb"|the |single )?(?:single |one |1 )?(?:letter|word|number|digit|integer|character"
        rb"|option letter|label|token|yes or no|yes/no|true or false|true/false)\b",
    ),
    _v(
        _g(
            "only just",
            "answer letter number word option label choice result answers letters numbers "
            "words options labels choices results",
        ),
        rb"(?:only|just) (?:output |return |respond with |reply with |answer with |give |print "
        rb"|say |state |write |provide )?(?:me )?(?:the |a |one |your )?(?:final |correct "
        rb"|right )?(?:answer|letter|number|word|option|label|choice|result)s?\b|answer only\b",
    ),
    _v(
        _g("single one", "word letter number digit character"),
        rb"\b(?:single|one)[- ](?:word|letter|number|digit|character)\b",
    ),
    _v(
        _g(
            "explanation explanations reasoning justification justifications elaboration "
            "commentary text working",
            "no without don dont not never",
        ),
        rb"(?:no|without(?: any)?|don" + _AP + rb"t|do not|never) (?:give |provide |include "
        rb"|add |write |need |needed )?(?:any )?(?:explanations?|reasoning|justifications?"
        rb"|elaboration|commentary|extra text|additional text|other text|working)\b",
    ),
    _v(
        _g("explain elaborate show", "don dont not"),
        rb"do(?:n" + _AP + rb"t| not) (?:explain|elaborate|show (?:your )?work)\b",
    ),
    _v(
        _g("yes true", "no false", "answer respond reply"),
        rb"(?:answer|respond|reply)(?: with)? (?:yes or no|yes/no|true or false|true/false)\b",
    ),
    _v(
        _g("word words", "in with using", "one single two three 1 2 3"),
        rb"(?:in|with|using) (?:one|a single|1|two|2|three|3) words?\b",
    ),
)

FEATURES: tuple[CotFeature, ...] = (
    # --- "step by step" family
    _f("step_by_step", 3.5, _v(_g(_STEP, _BY), _SBS)),
    _f(
        "step_by_step_verb",
        2.0,
        _v(
            _g(_STEP, _BY),
            _SBS,
            before=rb"\b(?:think|reason|solv|work|answer|explain|calculat|comput|deriv|go|walk"
            rb"|proceed|figur|analy[sz]|evaluat|respond|tackl|break|show)",
        ),
    ),
    _f(
        "step_by_step_noun",
        2.0,
        _v(
            _g(
                _STEP,
                _BY,
                "reasoning solution explanation derivation thinking thought analysis breakdown "
                "calculation calculations logic rationale answer working proof",
            ),
            _SBS + rb" (?:reasoning|solution|explanation|derivation|thinking|thought|analysis"
            rb"|breakdown|calculations?|logic|rationale|answer|working|proof)",
        ),
    ),
    _f(
        "step_by_step_procedural",
        -2.5,
        _v(
            _g(
                _STEP,
                "guide instructions instruction tutorial process plan procedure recipe "
                "directions walkthrough manual list checklist roadmap installation setup",
            ),
            _SBS + rb" (?:guide|instructions?|tutorial|process|plan|procedure|recipe|directions"
            rb"|walkthrough|manual|list|checklist|roadmap|installation|setup)",
        ),
        _v(
            _g(_STEP, "guide instructions tutorial"),
            rb"(?:guide|instructions|tutorial) (?:me |on )?" + _SBS,
        ),
    ),
    _f(
        "one_step_at_a_time",
        4.0,
        _v(_g("step piece", "one", "time"), rb"one (?:step|piece) at a time"),
        _v(_g("stepwise wise"), rb"step[- ]?wise\b"),
    ),
    _f(
        "step_by_step_i18n",
        5.0,
        _v(
            _g("paso passo schritt krok etape adim"),
            "paso a paso|étape par étape|etape par etape|schritt für schritt|passo a passo"
            "|passo dopo passo|krok po kroku|adım adım|шаг за шагом|пошагов|一步一步|一步步|逐步"
            "|分步|ステップバイステップ|段階的に|順を追って|단계별로|차근차근|từng bước".encode(),
            i18n=True,
        ),
    ),
    _f(
        "reasoning_i18n",
        4.5,
        _v(
            _g("raisonnement razonamiento ragionamento rechenweg gedankengang denkprozess"),
            "(?:raisonnement|razonamiento|ragionamento|raciocínio|lösungsweg|rechenweg"
            "|gedankengang|denkprozess)|推理过程|思考过程|解题过程|解题步骤|推理步骤|解题思路"
            "|推理過程|思考過程|考え方を説明|추론 과정|풀이 과정".encode(),
            before="(?:ton|votre|tu|su|tuo|vostro|seu|teu|dein|ihr|den|expli|erklär|spieg"
            "|justifi|begründ|请|詳|详|说明|説明|列出|给出|写出|展示|示して|설명)".encode(),
            i18n=True,
        ),
    ),
    # --- explicit reasoning requests
    _f(
        "lets_think",
        5.0,
        _v(
            _g(
                "let lets us let\u2019s",
                "think reason work solve break reflect analyze analyse figure go walk carefully "
                "approach tackle examine consider",
            ),
            rb"let(?:" + _AP + rb"s| us) (?:think|reason|work (?:it|this|through|out)|solve"
            rb"|break (?:it|this|the problem) down|reflect|analy[sz]e|figure|go (?:through|over)"
            rb"|walk through|carefully|approach|tackle|examine|consider)",
        ),
    ),
    _f(
        "cot_term",
        5.0,
        _v(_g("chain", "thought thoughts reasoning"), rb"chain[- ]of[- ](?:thoughts?|reasoning)"),
        _v(
            _g("cot"),
            rb"\bcot\b(?! ?(?:\(|[a-z]\b|\d|theta|alpha|beta|of\b|\^|\\))",
        ),
        _v(
            _g("thought thinking reasoning", "process steps chain trace"),
            rb"(?:thought|thinking|reasoning) (?:process|steps|chain|trace)",
        ),
        _v(_g("reasoning", "line"), rb"line of reasoning"),
        _v(_g("monologue", "inner"), rb"inner monologue"),
        _v(_g("consciousness", "stream"), rb"stream of consciousness"),
    ),
    _f(
        "think_tag",
        5.5,
        _v(
            _g("think thinking reasoning thought thoughts reflection scratchpad"),
            rb"</?(?:think|thinking|reasoning|thought|thoughts|reflection|scratchpad)>",
        ),
    ),
    _f(
        "show_work",
        5.0,
        _v(
            _g(
                "show showing shows",
                "work working workings steps reasoning calculation calculations computation "
                "computations derivation derivations thought thinking logic math",
            ),
            rb"show(?:ing|s)? (?:me |us )?(?:(?:your|all|the|each|every|full|complete|detailed"
            rb"|step-by-step|of) )*(?:work|working|workings|steps(?! (?:to|for|of|in|on) )"
            rb"|reasoning|calculations?|computations?|derivations?|thought process|thinking|logic"
            rb"|math)\b",
        ),
    ),
    _f(
        "externalise_reasoning",
        4.5,
        _v(
            _g(_REASONING_NOUNS, "your"),
            rb"your " + _REASONING_NOUN_RE,
            before=_EXPLAIN_VERB_RE,
        ),
        _v(
            _g(_REASONING_NOUNS, "own"),
            rb"own " + _REASONING_NOUN_RE,
            before=_EXPLAIN_VERB_RE,
        ),
        _v(
            _g(
                "step steps calculation calculations computation computations results stages",
                "each every all intermediate individual",
            ),
            rb"(?:each|every|all(?: of)?(?: the| your)?|the individual|the intermediate"
            rb"|intermediate|all intermediate) (?:single )?(?:steps?|calculations?|computations?"
            rb"|results|stages)\b",
            before=_EXPLAIN_VERB_RE,
        ),
        _v(
            _g("reasoning rationale derivation thought justification workings chain"),
            rb"(?:reasoning|rationale|derivation|thought process|justification|workings"
            rb"|chain of thought)\b",
            before=_EXPLAIN_VERB_RE,
        ),
        _v(
            _g("logic thinking reasoning rationale", "behind for of"),
            rb"the (?:logic|thinking|reasoning|rationale) (?:behind|for|of) (?:your|the|this|that) "
            rb"(?:answer|choice|solution|conclusion|result|response)",
            before=_EXPLAIN_VERB_RE,
        ),
        _v(
            _g(
                "got get reached reach arrived arrive came come derived derive obtained obtain "
                "solved solve calculated calculate worked",
                "how",
                "you",
            ),
            rb"how you (?:got|get|reached?|arrived?|came|come|derived?|obtained?|solved?"
            rb"|calculated?|worked (?:it )?out)\b",
            before=_EXPLAIN_VERB_RE,
        ),
        _v(
            _g(
                "why",
                "each every right correct wrong other answer choice solution response chose "
                "picked think",
            ),
            rb"why (?:each|every|the (?:right|correct|wrong|other)|your (?:answer|choice|solution"
            rb"|response)|you (?:chose|picked|think))\b",
            before=_EXPLAIN_VERB_RE,
        ),
        _v(
            _g("steps", "in"),
            rb"in (?:simple |small |clear |detailed )?steps\b",
            before=_EXPLAIN_VERB_RE,
        ),
    ),
    _f(
        "explain_reasoning",
        4.5,
        _v(
            _g("reasoning rationale justification", "for behind leads"),
            rb"(?:reasoning|rationale|justification) (?:for|behind|that leads to) (?:your|the"
            rb"|this|each) (?:answer|choice|response|decision|conclusion|solution)",
        ),
    ),
    _f(
        "how_you_got",
        4.5,
        _v(
            _g(
                "how",
                "you",
                "arrived arrive got get came come reached reach derived derive worked",
            ),
            rb"how (?:did )?you (?:arrived?|got|get|came|come|reached?|derived?|worked it out)"
            rb"(?: at| to)? (?:your|the|this|that|it)\b",
        ),
    ),
    _f(
        "justify",
        4.5,
        _v(
            _g("justify"),
            rb"justify (?:(?:each|every|your|all|the|this|that|my) )?(?:step|steps|answer|answers"
            rb"|choice|choices|response|reasoning|decision|solution|claim|conclusion)",
        ),
    ),
    _f(
        "explain_answer",
        4.5,
        _v(
            _g(
                "explain explaining justify justifying",
                "answer answers choice choices solution solutions response selection decision",
            ),
            rb"(?:explain|justify)\w* (?:your|the|each|this|my) (?:answer|choice|solution"
            rb"|response|selection|decision)s?\b",
        ),
    ),
    _f(
        "think_carefully",
        4.5,
        _v(
            _g(
                "think thinking reason reasoning deliberate deliberately deliberating reflect "
                "reflecting",
                _ADVERBS + " hard through before first twice out aloud over",
            ),
            rb"(?:think(?:ing)?|reason(?:ing)?|deliberat(?:e|ely|ing)|reflect(?:ing)?) "
            rb"(?:(?:it|this|that|everything|about (?:it|this)|on (?:it|this|the \w+)) )?(?:"
            + _PROCESS_ADVERB[3:-1]
            + rb"|hard|through|before|first|twice|out loud|aloud|it over)\b",
        ),
        _v(
            _g(
                "carefully deeply critically thoroughly methodically systematically",
                "think reason deliberate reflect work",
            ),
            rb"(?:carefully|deeply|critically|thoroughly|methodically|systematically) (?:think"
            rb"|reason|deliberate|reflect|work through)\b",
        ),
    ),
    _f(
        "process_adverb",
        3.5,
        _v(
            _g(_ADVERBS),
            _PROCESS_ADVERB + rb"\b",
            before=rb"\b(?:solv|work|go|analy[sz]|consider|approach|tackl|proceed|examin|evaluat)",
        ),
    ),
    _f(
        "reason_verb",
        4.5,
        _v(
            _g("reason reasoning"),
            rb"reason(?:ing)? (?:(?:it|this) )?(?:through|about (?:it|this|the)|it out|this out"
            rb"|out|step|first|before|from)|please reason\b|reasoning (?:step|first|before)",
        ),
        _v(
            _g("reasoning deduction logic", "use"),
            rb"use (?:\S+ ){0,2}?(?:reasoning|deduction|logic) to (?:arrive|reach|get|find|lead"
            rb"|determine|answer|solve|work)",
        ),
    ),
    _f(
        "decompose",
        4.0,
        _v(
            _g(
                "break breaking split splitting divide dividing decompose decomposing",
                "steps subproblems sub problems subquestions questions parts pieces subtasks",
            ),
            rb"(?:break|breaking|split|splitting|divide|dividing|decompose|decomposing) (?:it|this"
            rb"|the (?:problem|question|task)|this (?:problem|question|task)) (?:down )?into "
            rb"(?:smaller |simpler |manageable )?(?:steps|sub-?problems|sub-?questions|parts"
            rb"|pieces|sub-?tasks)",
        ),
        _v(
            _g("break", "down"),
            rb"break (?:it|this|that|the (?:problem|question|task|solution)|things|everything) "
            rb"down|break down (?:the|this|your) (?:problem|question|task|reasoning|solution)",
        ),
    ),
    _f("walk_through", 3.0, _v(_g("walk", "through"), rb"walk (?:me |us )?through\b")),
    # --- weaker cues that add up
    _f(
        "before_answering",
        2.5,
        _v(
            _g("before prior"),
            rb"(?:before|prior to) (?:answering|you answer|giving (?:your|the|an|a) (?:final )?"
            rb"answer|responding|you respond|replying|providing (?:your|the|an|a) (?:final )?"
            rb"answer|concluding|the final answer|reaching a conclusion|deciding|you decide"
            rb"|rushing|jumping|you commit|committing|settling)",
        ),
    ),
    _f("final_answer", 1.5, _v(_g("final boxed"), rb"final answer|\\boxed")),
    _f(
        "detailed_explanation",
        2.5,
        _v(
            _g(
                "explanation explanations solution solutions derivation analysis breakdown "
                "walkthrough rationale justification",
                "detailed thorough depth comprehensive step careful full complete clear rigorous",
            ),
            rb"(?:detailed|thorough|in-depth|comprehensive|step-by-step|careful|full|complete"
            rb"|clear|rigorous) (?:explanation|solution|derivation|analysis|breakdown|walkthrough"
            rb"|rationale|justification)s?\b",
        ),
        _v(
            _g("explain explaining", "detail thoroughly go"),
            rb"explain(?:ing)? (?:in detail|thoroughly|as you go)\b",
        ),
    ),
    _f(
        "explanation_of_steps",
        4.5,
        _v(
            _g(
                "explanation explanations",
                "each every all your",
                "step steps calculation calculations derivation reasoning",
            ),
            rb"explanations? (?:of|for) (?:each|every|all(?: the)?|your) (?:single )?(?:steps?"
            rb"|calculations?|derivation|reasoning)",
        ),
    ),
    _f(
        "first_then_finally",
        2.0,
        _v(
            _g("finally lastly", "first firstly start begin", "then"),
            rb"(?:first(?:ly)?|start by|begin by)\b.{0,200}?\bthen\b.{0,200}?\b(?:finally"
            rb"|lastly)\b",
        ),
    ),
    _f(
        "verify",
        2.0,
        _v(
            _g(
                "check checking verify",
                "answer work calculation calculations steps reasoning solution result math logic",
            ),
            rb"(?:double[- ]check|verify|check|checking) (?:your|the|each|every|all) (?:answer"
            rb"|work|calculations?|steps|reasoning|solution|result|math|logic)",
        ),
    ),
    _f(
        "long_answer",
        2.0,
        _v(
            _g("detailed long lengthy elaborate thorough comprehensive", "answer response reply"),
            rb"(?:detailed|long|lengthy|elaborate|thorough|comprehensive)(?: and (?:detailed|long"
            rb"|lengthy|thorough))? (?:answer|response|reply)",
        ),
    ),
    _f("explain_word", 1.0, _v(_g("explain explanation elaborate justify"), None)),
    _f("reasoning_word", 1.0, _v(_g("reasoning rationale"), None)),
    _f("eli5", 1.0, _v(_g("year years", "five 5"), rb"\b(?:five|5)[- ]years?[- ]old")),
    # --- eval / batch style: asks for the answer only
    SHORT_ANSWER,
)

_WEIGHTS = tuple(f.weight for f in FEATURES)
#: Bit of the short-answer feature in the mask (also the ``answer_format_short`` signal).
SHORT_ANSWER_BIT = 1 << FEATURES.index(SHORT_ANSWER)


def _index(features: tuple[CotFeature, ...]) -> tuple[dict, frozenset, tuple]:
    # Variants are indexed by the words of their first gate (written rarest-first).
    by_word: dict[bytes, set[tuple[int, int]]] = {}
    i18n = []
    for i, f in enumerate(features):
        for j, v in enumerate(f.variants):
            for w in v.gates[0]:
                by_word.setdefault(w, set()).add((i, j))
            if v.i18n:
                i18n.append((i, j))
    frozen = {w: tuple(sorted(s)) for w, s in by_word.items()}
    return frozen, frozenset(frozen), tuple(i18n)


_BY_WORD, _INDEX_WORDS, _I18N = _index(FEATURES)


def _variant_matches(v: Variant, view: bytes) -> bool:
    if v.pattern is None:
        return True
    if v.before is None:
        return v.pattern.search(view) is not None
    for m in v.pattern.finditer(view):
        start = m.start()
        if v.before.search(view, max(0, start - VERB_WINDOW), start) is not None:
            return True
    return False


def cot_mask(view: bytes, wordset: set[bytes] | frozenset[bytes]) -> int:
    """Return the bit mask of lexicon features present in one normalised text.

    Parameters
    ----------
    view : bytes
        ``Prepared.view`` (normalised bounded view).
    wordset : set of bytes
        ``Prepared.wordset``.

    Returns
    -------
    int
        Bit ``i`` is set when ``FEATURES[i]`` is present.
    """
    hits = _INDEX_WORDS & wordset
    non_ascii = not view.isascii()
    if not hits and not non_ascii:
        return 0
    candidates: set[tuple[int, int]] = set()
    for w in hits:
        candidates.update(_BY_WORD[w])
    if non_ascii:
        candidates.update(_I18N)
    mask = 0
    for i, j in sorted(candidates):
        if mask >> i & 1:
            continue
        v = FEATURES[i].variants[j]
        if not (v.i18n and non_ascii) and any(g.isdisjoint(wordset) for g in v.gates[1:]):
            continue
        if _variant_matches(v, view):
            mask |= 1 << i
    return mask


def feature_present(
    feature: CotFeature, view: bytes, wordset: set[bytes] | frozenset[bytes]
) -> bool:
    """Return whether one feature is present (used for ``answer_format_short``).

    Parameters
    ----------
    feature : CotFeature
        A lexicon entry, e.g. :data:`SHORT_ANSWER`.
    view : bytes
        ``Prepared.view``.
    wordset : set of bytes
        ``Prepared.wordset``.

    Returns
    -------
    bool
    """
    non_ascii = not view.isascii()
    for v in feature.variants:
        gated = all(not g.isdisjoint(wordset) for g in v.gates)
        if (gated or (v.i18n and non_ascii)) and _variant_matches(v, view):
            return True
    return False


_score_cache: dict[int, float] = {}


def cot_score_from_mask(mask: int) -> float:
    """Return ``sigmoid(BIAS + sum of weights of the features in mask)``.

    Parameters
    ----------
    mask : int
        Union (bitwise or) of :func:`cot_mask` over the system and user prompts.

    Returns
    -------
    float
        Score in (0, 1).
    """
    score = _score_cache.get(mask)
    if score is None:
        logit = BIAS
        m, i = mask, 0
        while m:
            if m & 1:
                logit += _WEIGHTS[i]
            m >>= 1
            i += 1
        score = 1.0 / (1.0 + math.exp(-logit))
        if len(_score_cache) < 65536:
            _score_cache[mask] = score
    return score


def explain_mask(mask: int) -> list[tuple[str, float]]:
    """Return ``(feature name, weight)`` for every feature in ``mask`` (for humans).

    Parameters
    ----------
    mask : int
        Output of :func:`cot_mask`.

    Returns
    -------
    list of (str, float)
    """
    return [(f.name, f.weight) for i, f in enumerate(FEATURES) if mask >> i & 1]
