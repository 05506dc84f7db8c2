"""Chain-of-thought elicitation score: a weighted lexicon combined by a logistic function.

Each *feature* is a phrase pattern (a byte regex over the normalised bounded view, see
:mod:`detector.text.normalize`) with a weight in logit units. The score of a request is

    cot_score = sigmoid(BIAS + sum of the weights of the features present in the
                        system prompt or the user prompt)

so one strong cue ("let's think step by step", "show your work", "explain your
reasoning", ``<think>``) is enough (weights >= 4.5 against ``BIAS = -4``), weak cues
("detailed explanation", "walk me through", "before answering", "final answer") need to
come together, and eval-style short-answer instructions ("answer with only the letter",
"no explanation") and procedural "step-by-step guide / instructions" pull the score
down. ``is_cot = cot_score >= COT_THRESHOLD`` (0.5, i.e. logit >= 0).

Speed: each feature lists *trigger words*; its regex runs only when one of them is among
the words of the text (a set intersection), so most prompts run no regex at all.

The table is data, not code: :data:`FEATURES` is the single source of truth and is
documented in ``docs/text_signals.md``. Feature ids are bit positions in the per-text
mask (stable within a release; the mask itself is never stored).
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

__all__ = [
    "BIAS",
    "COT_THRESHOLD",
    "FEATURES",
    "CotFeature",
    "cot_mask",
    "cot_score_from_mask",
    "explain_mask",
]

#: Logit of a text with no cue at all (sigmoid(-4) = 0.018).
BIAS = -4.0
#: ``is_cot`` threshold on ``cot_score`` (logit 0: one strong cue, or two medium ones).
COT_THRESHOLD = 0.5

_AP = rb"(?:'|\xe2\x80\x99)?"  # optional ASCII or typographic apostrophe
_SBS = rb"step[- ]?by[- ]?step"


class CotFeature(NamedTuple):
    """One lexicon entry.

    Attributes
    ----------
    name : str
        Stable short name (used in docs and explanations).
    weight : float
        Contribution to the logit when present.
    triggers : frozenset of bytes
        Words (lowercase, punctuation-free) of which at least one must occur for the
        pattern to be tried. Features named ``*_i18n`` are also tried on every text that
        is not pure ASCII.
    pattern : re.Pattern or None
        Byte regex searched in the normalised view; ``None`` means the trigger word alone
        is the feature.
    """

    name: str
    weight: float
    triggers: frozenset[bytes]
    pattern: re.Pattern[bytes] | None


def _f(name: str, weight: float, triggers: str, pattern: bytes | None) -> CotFeature:
    return CotFeature(
        name,
        weight,
        frozenset(triggers.encode().split()),
        re.compile(pattern) if pattern is not None else None,
    )


_SHORT_ANSWER = (
    rb"\b(?:answer|respond|reply|output|return|write|give|say|choose|select|pick|state|print"
    rb"|provide)(?: \S+){0,3}? (?:with|using|in|as) (?:only |just |exactly )?(?:a |an |one "
    rb"|the |single )?(?:single |one |1 )?(?:letter|word|number|digit|integer|character"
    rb"|option letter|label|token|yes or no|yes/no|true or false|true/false)\b"
    rb"|\b(?:only|just) (?:output |return |respond with |reply with |answer with |give "
    rb"|print |say |state |write |provide )?(?:me )?(?:the |a |one |your )?(?:final "
    rb"|correct |right )?(?:answer|letter|number|word|option|label|choice|result)s?\b"
    rb"|\banswer only\b"
    rb"|\b(?:single|one)[- ](?:word|letter|number|digit|character)\b"
    rb"|\b(?:no|without(?: any)?|don" + _AP + rb"t|do not|never) (?:give |provide |include "
    rb"|add |write |need |needed )?(?:any )?(?:explanations?|reasoning|justifications?"
    rb"|elaboration|commentary|extra text|additional text|other text|working)\b"
    rb"|\bdo(?:n" + _AP + rb"t| not) (?:explain|elaborate|show (?:your )?work)\b"
    rb"|\b(?:answer|respond|reply)(?: with)? (?:yes or no|yes/no|true or false|true/false)\b"
    rb"|\b(?:in|with|using) (?:one|a single|1|two|2|three|3) words?\b"
)
#: Short-answer instruction regex (also the ``answer_format_short`` signal).
SHORT_ANSWER_RE = re.compile(_SHORT_ANSWER)
SHORT_ANSWER_TRIGGERS = frozenset(
    b"only just single one letter word words number yes true explanation explanations "
    b"explain reasoning justification elaborate elaboration commentary text working".split()
)

_EXPLAIN_VERBS = (
    rb"(?:explain|show|describe|lay(?:ing)? out|write (?:out|down)|writing (?:out|down)|demonstrat"
    rb"|elaborate(?: on)?|present|detail|outline|include|provide|give|share|state|spell out"
    rb"|articulat|document|go(?:ing)? over|walk (?:me |us )?through|take (?:me |us )?through"
    rb"|clarify|break down)\w*"
)
# What a request to externalise reasoning asks for: "your reasoning", "each step", "the
# derivation", "how you got the answer", "why each option is wrong", ...
_REASONING_OBJECT = (
    rb"(?:(?:your|own) (?:reasoning|rationale|justification|derivation|workings?|thinking"
    rb"|thought process(?:es)?|logic|approach|steps|calculations?|method|solution process)"
    rb"|(?:each|every|all(?: of)?(?: the| your)?|the individual|the intermediate|intermediate"
    rb"|all intermediate) (?:single )?(?:steps?|calculations?|computations?|results|stages)"
    rb"|(?:the |a |an )?(?:\S+ ){0,2}?(?:reasoning|rationale|derivation|thought process"
    rb"|justification|workings?|chain of thought)"
    rb"|the (?:logic|thinking|reasoning|rationale) (?:behind|for|of) (?:your|the|this|that) "
    rb"(?:answer|choice|solution|conclusion|result|response)"
    rb"|how you (?:got|get|reached?|arrived?(?: at)?|came|come|derived?|obtained?"
    rb"|solved?|calculated?|worked (?:it )?out)"
    rb"|why (?:each|every|the (?:right|correct|wrong|other)|your (?:answer|choice|solution"
    rb"|response)|you (?:chose|picked|think))"
    rb"|in (?:simple |small |clear |detailed )?steps)"
)
_PROCESS_ADVERB = (
    rb"(?:" + _SBS + rb"|one step at a time|step[- ]?wise|stepwise|systematically|methodically"
    rb"|carefully|thoroughly|logically|rigorously|slowly|piece by piece|one piece at a time"
    rb"|bit by bit|in stages|sequentially|deeply|critically)"
)

FEATURES: tuple[CotFeature, ...] = (
    # --- "step by step" family
    _f("step_by_step", 3.5, "step", _SBS),
    _f(
        "step_by_step_verb",
        2.0,
        "step",
        rb"\b(?:think|thinking|reason|reasoning|solve|solving|work|working|answer|answering"
        rb"|explain|explaining|calculate|calculating|compute|derive|go|walk|proceed|figure"
        rb"|analy[sz]e|evaluate|respond|tackle|break|show)\b[^.?!\n]{0,40}?\b" + _SBS,
    ),
    _f(
        "step_by_step_noun",
        2.0,
        "step",
        _SBS + rb" (?:reasoning|solution|explanation|derivation|thinking|thought|analysis"
        rb"|breakdown|calculations?|logic|rationale|answer|working|proof)",
    ),
    _f(
        "step_by_step_procedural",
        -2.5,
        "step guide instructions tutorial",
        _SBS + rb" (?:guide|instructions?|tutorial|process|plan|procedure|recipe|directions"
        rb"|walkthrough|manual|list|checklist|roadmap|installation|setup)"
        rb"|\b(?:guide|instructions|tutorial) (?:me |on )?" + _SBS,
    ),
    _f("one_step_at_a_time", 4.0, "step stepwise wise piece", rb"one (?:step|piece) at a time"
       rb"|\bstep[- ]?wise\b"),
    _f(
        "step_by_step_i18n",
        5.0,
        "paso passo schritt krok etape adim",
        "paso a paso|étape par étape|etape par etape|schritt für schritt|passo a passo"
        "|passo dopo passo|krok po kroku|adım adım|шаг за шагом|пошагов|一步一步|一步步|逐步"
        "|分步|ステップバイステップ|段階的に|順を追って|단계별로|차근차근|từng bước".encode(),
    ),
    _f(
        "reasoning_i18n",
        4.5,
        "raisonnement razonamiento ragionamento l\u00f6sungsweg rechenweg gedankengang denkprozess",
        "(?:ton|votre|tu|su|tuo|vostro|seu|teu|dein\\w*|ihr\\w*|le|el|il|o|den) "
        "(?:raisonnement|razonamiento|ragionamento|raciocínio|lösungsweg|rechenweg"
        "|gedankengang|denkprozess)|(?:expli|erklär|spieg|justifi|begründ)\\w* .{0,30}?"
        "(?:raisonnement|razonamiento|ragionamento|raciocínio|lösungsweg|rechenweg"
        "|gedankengang)|推理过程|思考过程|解题过程|解题步骤|推理步骤|解题思路|推理過程"
        "|思考過程|考え方を説明|추론 과정|풀이 과정".encode(),
    ),
    # --- explicit reasoning requests
    _f(
        "lets_think",
        5.0,
        "let lets us let\u2019s",
        rb"\b(?:let" + _AP + rb"s|let us) (?:think|reason|work (?:it|this|through|out)"
        rb"|solve|break (?:it|this|the problem) down|reflect|analy[sz]e|figure|go (?:through|over)"
        rb"|walk through|carefully|approach|tackle|examine|consider)",
    ),
    _f(
        "cot_term",
        5.0,
        "chain cot thought thinking reasoning monologue stream",
        rb"chain[- ]of[- ]thoughts?|\bcot\b(?! ?(?:\(|[a-z]\b|\d|theta|alpha|beta|of\b|\^|\\))"
        rb"|thought process|thinking process|reasoning process"
        rb"|reasoning steps|reasoning chain|chain of reasoning|line of reasoning"
        rb"|inner monologue|reasoning trace|stream of consciousness",
    ),
    _f(
        "think_tag",
        5.5,
        "think thinking reasoning thought thoughts reflection scratchpad",
        rb"</?(?:think|thinking|reasoning|thought|thoughts|reflection|scratchpad)>",
    ),
    _f(
        "show_work",
        5.0,
        "show showing",
        rb"\bshow(?:ing|s)? (?:me |us )?(?:(?:your|all|the|each|every|full|complete|detailed"
        rb"|step-by-step|of) )*(?:work|working|workings|steps(?! (?:to|for|of|in|on) )"
        rb"|reasoning|calculations?|computations?|derivations?|thought process|thinking|logic"
        rb"|math)\b",
    ),
    _f(
        "externalise_reasoning",
        4.5,
        "explain explaining explains show showing shows describe lay laying write writing "
        "demonstrate elaborate present detail outline include provide give share state spell "
        "articulate document go going walk take clarify break",
        rb"\b" + _EXPLAIN_VERBS + rb" (?:\S+ ){0,3}?" + _REASONING_OBJECT + rb"\b",
    ),
    _f(
        "explain_reasoning",
        4.5,
        "reasoning rationale justification derivation",
        rb"\b(?:reasoning|rationale|justification) (?:for|behind|that leads to) (?:your|the|this"
        rb"|each) (?:answer|choice|response|decision|conclusion|solution)",
    ),
    _f(
        "how_you_got",
        4.5,
        "how",
        rb"\bhow (?:did )?you (?:arrived?|got|get|came|come|reached?|derived?|worked it out)"
        rb"(?: at| to)? (?:your|the|this|that|it)\b",
    ),
    _f(
        "justify",
        4.5,
        "justify",
        rb"\bjustify (?:(?:each|every|your|all|the|this|that|my) )?(?:step|steps|answer|answers"
        rb"|choice|choices|response|reasoning|decision|solution|claim|conclusion)",
    ),
    _f(
        "think_carefully",
        4.5,
        "think thinking reason reasoning deliberate reflect carefully deeply critically "
        "thoroughly methodically systematically",
        rb"\b(?:think(?:ing)?|reason(?:ing)?|deliberat\w*|reflect(?:ing)?) (?:(?:it|this|that"
        rb"|everything|about (?:it|this)|on (?:it|this|the \w+)) )?(?:" + _PROCESS_ADVERB[3:-1]
        + rb"|hard|through|before|first|twice|out loud|aloud|it over)\b"
        rb"|\b(?:carefully|deeply|critically|thoroughly|methodically|systematically) (?:think"
        rb"|reason|deliberate|reflect|work through)\b",
    ),
    _f(
        "process_adverb",
        3.5,
        "solve solving work working go going analyze analyse analyzing consider considering "
        "approach tackle proceed examine evaluate",
        rb"\b(?:solv|work|go|analy[sz]|consider|approach|tackl|proceed|examin|evaluat)\w* "
        rb"(?:\S+ ){0,3}?" + _PROCESS_ADVERB + rb"\b",
    ),
    _f(
        "reason_verb",
        4.5,
        "reason reasoning deduction logic logical",
        rb"\breason(?:ing)? (?:(?:it|this) )?(?:through|about (?:it|this|the)|it out|this out|out"
        rb"|step|first|before|from)|\bplease reason\b|\breasoning (?:step|first|before)"
        rb"|\buse (?:\S+ ){0,2}?(?:reasoning|deduction|logic) to (?:arrive|reach|get|find|lead"
        rb"|determine|answer|solve|work)",
    ),
    _f(
        "decompose",
        4.0,
        "break breaking split splitting divide dividing decompose decomposing",
        rb"\b(?:break|breaking|split|splitting|divide|dividing|decompose|decomposing) (?:it|this"
        rb"|the (?:problem|question|task)|this (?:problem|question|task)) (?:down )?into "
        rb"(?:smaller |simpler |manageable )?(?:steps|sub-?problems|sub-?questions|parts|pieces"
        rb"|sub-?tasks)|\bbreak (?:it|this|that|the (?:problem|question|task|solution)|things"
        rb"|everything) down|\bbreak down (?:the|this|your) (?:problem|question|task|reasoning"
        rb"|solution)",
    ),
    _f("walk_through", 3.0, "walk", rb"\bwalk (?:me |us )?through\b"),
    # --- weaker cues that add up
    _f(
        "before_answering",
        2.5,
        "before prior",
        rb"\b(?:before|prior to) (?:answering|you answer|giving (?:your|the|an|a) (?:final )?"
        rb"answer|responding|you respond|replying|providing (?:your|the|an|a) (?:final )?answer"
        rb"|concluding|the final answer|reaching a conclusion|deciding|you decide|rushing|jumping"
        rb"|you commit|committing|settling)",
    ),
    _f("final_answer", 1.5, "final boxed", rb"final answer|\\boxed"),
    _f(
        "explain_answer",
        4.5,
        "explain explaining justify justifying",
        rb"\b(?:explain|justify)\w* (?:your|the|each|this|my) (?:answer|choice"
        rb"|solution|response|selection|decision)s?\b",
    ),
    _f(
        "detailed_explanation",
        2.5,
        "explanation explanations solution solutions derivation analysis breakdown "
        "walkthrough explain",
        rb"\b(?:detailed|thorough|in-depth|comprehensive|step-by-step|careful|full|complete"
        rb"|clear|rigorous) (?:explanation|solution|derivation|analysis|breakdown|walkthrough"
        rb"|rationale|justification)s?\b|\bexplain (?:in detail|thoroughly|as you go)\b"
        rb"|\bexplaining as you go\b",
    ),
    _f(
        "explanation_of_steps",
        4.5,
        "explanation explanations",
        rb"\bexplanations? (?:of|for) (?:each|every|all(?: the)?|the|your) (?:single )?(?:steps?"
        rb"|calculations?|derivation|reasoning)",
    ),
    _f(
        "first_then_finally",
        2.0,
        "first firstly start begin",
        rb"\b(?:first(?:ly)?|start by|begin by)\b.{0,200}?\bthen\b.{0,200}?\b(?:finally"
        rb"|lastly)\b",
    ),
    _f(
        "verify",
        2.0,
        "check checking verify",
        rb"\b(?:double[- ]check|verify|check|checking) (?:your|the|each|every|all) (?:answer|work"
        rb"|calculations?|steps|reasoning|solution|result|math|logic)",
    ),
    _f(
        "long_answer",
        2.0,
        "answer response reply",
        rb"\b(?:detailed|long|lengthy|elaborate|thorough|comprehensive)(?: and (?:detailed|long"
        rb"|lengthy|thorough))? (?:answer|response|reply)",
    ),
    _f("explain_word", 1.0, "explain explanation elaborate justify", None),
    _f("reasoning_word", 1.0, "reasoning rationale", None),
    _f("eli5", 1.0, "five year", rb"(?:five|5)[- ]years?[- ]old"),
    # --- eval / batch style: asks for the answer only
    CotFeature("short_answer", -3.0, SHORT_ANSWER_TRIGGERS, SHORT_ANSWER_RE),
)

_WEIGHTS = tuple(f.weight for f in FEATURES)
_BY_TRIGGER: dict[bytes, tuple[int, ...]] = {}
for _i, _feat in enumerate(FEATURES):
    for _w in _feat.triggers:
        _BY_TRIGGER[_w] = (*_BY_TRIGGER.get(_w, ()), _i)
_TRIGGERS = frozenset(_BY_TRIGGER)
_NON_ASCII = tuple(i for i, f in enumerate(FEATURES) if f.name.endswith("_i18n"))
del _i, _feat, _w


def cot_mask(view: bytes, words: list[bytes] | frozenset[bytes] | set[bytes]) -> int:
    """Return the bit mask of lexicon features present in one normalised text.

    Parameters
    ----------
    view : bytes
        ``Prepared.view`` (normalised bounded view).
    words : list or set of bytes
        ``Prepared.words`` (or a set of them).

    Returns
    -------
    int
        Bit ``i`` is set when ``FEATURES[i]`` is present.
    """
    hits = _TRIGGERS.intersection(words)
    candidates: set[int] = set()
    for w in hits:
        candidates.update(_BY_TRIGGER[w])
    if not view.isascii():
        candidates.update(_NON_ASCII)
    mask = 0
    for i in candidates:
        pat = FEATURES[i].pattern
        if pat is None or pat.search(view) is not None:
            mask |= 1 << i
    return mask


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
