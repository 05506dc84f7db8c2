"""Coarse topic of a prompt from a weighted keyword lexicon.

The topic feeds per-account topic concentration (share of the top topic, entropy):
harvesting campaigns sweep one domain (math word problems, code) at a time while
ordinary users wander. Ids are a stable enum: never renumber, only append.
"""

from __future__ import annotations

import re
from enum import IntEnum

__all__ = ["MIN_TOPIC_SCORE", "Topic", "topic_of", "topic_scores"]


class Topic(IntEnum):
    """Stable topic ids (``uint8`` in batch output)."""

    OTHER = 0
    MATH = 1
    CODE = 2
    WRITING = 3  # creative and content writing: stories, poems, essays, posts
    TRANSLATION = 4
    FACTUAL_QA = 5  # knowledge questions: who / what / when / why, definitions
    ROLEPLAY = 6  # act as, pretend, persona, in character
    BUSINESS = 7  # business, marketing, customer support, accounts, jobs
    TEXT_TASK = 8  # summarise, classify, extract, rewrite, sentiment, NLI (FLAN-style)


#: A topic needs at least this score to win; below it the prompt is OTHER (or
#: FACTUAL_QA when it is a short question).
MIN_TOPIC_SCORE = 2.0

_W: dict[Topic, str] = {
    Topic.MATH: """
        math:2 maths:2 mathematics:2 mathematical:2 equation:2 equations:2 solve:1 integral:2
        integrals:2 derivative:2 derivatives:2 calculus:2 algebra:2 geometry:2 trigonometry:2
        probability:1.5 statistics:1 triangle:1.5 circle:1 polynomial:2 theorem:1.5 prove:1.5
        proof:1.5 formula:1.5 find:0.5 matrix:1 matrices:1.5 vector:1 fraction:2 fractions:2
        percent:1 percentage:1 integer:1.5 integers:2 prime:1 primes:1.5 sqrt:2 divisible:2
        remainder:2 sum:1 calculate:1.5 compute:1 radius:2 area:1 perimeter:2 volume:1 angle:1.5
        angles:1.5 sin:1.5 cos:2 factorial:2 digits:1 divided:1.5 multiplied:1.5 plus:1
        minus:1.5 average:1 median:1 ratio:1.5 total:0.5 dollars:0.5 cost:0.3 each:0.3 per:0.3
        expression:1 simplify:1 evaluate:1 x:1 y:0.5 frac:3 cdot:3 infinity:1.5 modulo:2 gcd:3
        lcm:3 arithmetic:2 numerator:2 denominator:2 exponent:2 logarithm:2 quadratic:3 linear:1
        parabola:3 coefficient:2 coefficients:2 real:0.3 numbers:0.5 number:0.3 greatest:0.5
        smallest:0.5 many:0.3 much:0.3 miles:0.5 hour:0.3 hours:0.3 minutes:0.3 half:0.5
        twice:0.5 apples:0.5 km:0.3
    """,
    Topic.CODE: """
        code:2 coding:2 python:2 javascript:2 java:2 typescript:2 golang:2 sql:2 html:2 css:2
        php:2 kotlin:2 bash:2 powershell:2 regex:2 json:1 yaml:1.5 xml:1 api:1.5 apis:1.5
        function:2 functions:2 method:1 variable:1 variables:1 array:1.5 list:0.5 sort:1
        binary:1 tree:0.5 print:1 arrays:1.5 loop:1 compile:2 compiler:2 runtime:1 debug:2
        debugging:2 bug:1.5 bugs:1 error:0.5 exception:1.5 traceback:3 script:1 program:1
        programming:2 algorithm:1 implement:1 implementation:0.5 repository:1.5 git:2 github:2
        docker:2 kubernetes:2 linux:1 npm:2 pandas:1.5 numpy:2 django:2 flask:1.5 react:1.5
        js:1.5 dataframe:2 database:1 query:1 backend:1.5 frontend:1.5 server:0.5 endpoint:1.5
        async:2 await:2 const:2 def:2 return:0.5 import:1 println:2 printf:2 std:2 int:1.5
        void:2 null:1 boolean:1.5 lambda:1 recursion:1 recursive:1 excel:1 vba:2 matlab:2
        arduino:2 selenium:2 sdk:1.5 cli:1.5 terminal:1 syntax:1.5 refactor:2 pytest:2
        tensorflow:2 pytorch:2 keras:2 sklearn:2 class:1 string:1 struct:2 nginx:2 ubuntu:1.5
        windows:0.3 unity:1 godot:2 rust:1 cpp:2 csharp:2 webpage:1 website:0.5 app:0.5
        software:0.5 http:0.5 url:0.5 docstring:2 kwargs:3 args:1.5 node:1 nodejs:2 npx:2
        jquery:2 vue:2 angular:1.5 aws:1.5 elif:3 stdout:2 stdin:2 utf:1 regexp:2 bytes:1
        pointer:1.5 malloc:3 thread:1 threads:1 mysql:2 postgres:2 postgresql:2 mongodb:2
        redis:2 graphql:2 oauth:2 jwt:2
    """,
    Topic.WRITING: """
        story:2 stories:2 poem:2.5 poems:2.5 poetry:2 essay:2 essays:2 lyrics:2.5 song:1.5
        novel:1.5 fiction:2 fantasy:1 haiku:3 limerick:3 sonnet:3 rap:1.5 verse:1.5 verses:1.5
        chapter:1 plot:1 screenplay:2 creative:1.5 write:1 blog:1.5 article:1 post:0.5 tweet:1
        caption:1.5 slogan:1.5 tagline:1.5 speech:1 letter:0.5 narrative:1.5 joke:1.5 jokes:1.5
        funny:1 humorous:1 rhyme:2 rhyming:2 rhymes:2 tale:2 fable:2 dialogue:0.5 headline:1
        copywriting:2 outline:0.5 paragraph:0.5 script:0.5 protagonist:2 villain:1.5 scene:1
        scenario:1 characters:0.5 titles:0.5 title:0.3 eulogy:2 toast:1 wedding:0.5 birthday:0.5
        greeting:0.5 prose:2 storyline:2 worldbuilding:2
    """,
    Topic.TRANSLATION: """
        translate:4 translation:3 translated:3 translating:3 translator:3 translations:3
        english:0.5 french:1 spanish:1 german:1 chinese:1 japanese:1 korean:1 russian:1
        italian:1 portuguese:1 arabic:1 hindi:1 dutch:1 turkish:1 vietnamese:1 polish:1
        swedish:1 greek:0.5 latin:0.5 mandarin:1 cantonese:1 language:0.3
    """,
    Topic.FACTUAL_QA: """
        who:1 when:1 where:1 history:1 historical:1 capital:1 population:1 invented:1.5
        discovered:1.5 founded:1.5 born:1.5 died:1 war:1 president:1 define:1.5 definition:1.5
        meaning:1 fact:1 facts:1 famous:1 largest:1 tallest:1.5 difference:1 biology:1
        chemistry:1 physics:1 planet:1 century:1 ancient:1 empire:1 king:1 queen:1 country:0.5
        city:0.5 science:0.5 scientific:0.5 why:0.5 what:0.3 explain:0.3 causes:1 cause:0.5
        effects:0.5 theory:0.5 evolution:1 species:1 disease:1 symptoms:1 medical:0.5 law:0.5
        religion:1 philosophy:1 economy:0.5 geography:1
    """,
    Topic.ROLEPLAY: """
        pretend:3 roleplay:4 role:1.5 persona:2 character:1 imagine:1.5 rpg:3 npc:2 dungeon:2
        adventure:1 game:0.5 act:0.5
    """,
    Topic.BUSINESS: """
        business:2 marketing:2 sales:1.5 customer:1.5 customers:1.5 client:1 clients:1
        company:1.5 startup:2 revenue:2 profit:1.5 pricing:1.5 price:1 product:1 products:1
        brand:1.5 branding:2 seo:2 campaign:1 strategy:1 market:1 account:1 order:0.5 orders:1
        refund:3 invoice:2 billing:2 subscription:2 payment:1.5 shipping:1.5 delivery:1
        support:1 password:1 login:1 resume:2 job:1 interview:1 hiring:1.5 employee:1.5
        employees:1.5 manager:1 meeting:1 email:0.5 linkedin:2 investor:2 investors:2
        funding:1.5 budget:1.5 finance:1 b2b:2 saas:2 ecommerce:2 shopify:2 roi:2 kpi:2 okr:2
        stakeholders:1.5 proposal:1 contract:1 negotiation:1.5 hr:1.5 charged:2 purchase:1
        purchased:1 warranty:2 store:0.5 sell:1 selling:1 agency:1 consulting:1 entrepreneur:2
        pitch:1.5 audience:0.5 leads:1 crm:2 ads:1 advertising:1.5
    """,
    Topic.TEXT_TASK: """
        summarize:3 summarise:3 summary:2 summarization:3 tl:2 classify:3 classification:2
        categorize:2 sentiment:3 extract:2 extraction:2 paraphrase:3 rephrase:3 rewrite:2
        proofread:3 grammar:2 grammatical:2 correct:0.5 spelling:1.5 keywords:2 tone:1
        simplify:1 shorten:2 condense:2 bullet:1 premise:2.5 hypothesis:1.5 entail:3
        entailment:3 entails:3 sentence:1 sentences:1 passage:1.5 text:0.5 review:0.5 label:1
        entities:2 paragraph:0.5 article:0.3 tweet:0.5 options:0.5 following:0.5
    """,
}

# Each keyword's weights for all topics packed into one int (12 bits per topic, in
# half-points), so a text's keyword scores are one C-level ``sum`` over its hits.
_BITS = 12
_PACKED: dict[bytes, int] = {}
for _topic, _spec in _W.items():
    for _item in _spec.split():
        _word, _weight = _item.rsplit(":", 1)
        _key = _word.encode()
        _PACKED[_key] = _PACKED.get(_key, 0) + (round(float(_weight) * 2) << (_BITS * _topic))
_TOPIC_WORDS = frozenset(_PACKED)
_FIELD = (1 << _BITS) - 1
del _topic, _spec, _item, _word, _weight, _key

# Everything but code / math punctuation is deleted to get a short "symbol string",
# where code and math layout shows cheaply ("();", "=>", "```", "$...\\", "^").
_KEEP_SYMBOLS = bytes(range(48, 58)) + bytes(range(65, 91)) + bytes(range(97, 123))
_KEEP_SYMBOLS += b" " + bytes(range(128, 256)) + b",.?!'\"-"  # prose punctuation too
_DIGITS = bytes(range(48, 58))
_CODE_PAIRS = re.compile(rb"\(\);|=>|==|!=|</|::|\{\}|\[\]|\+=")
_WRITE_OBJECTS = frozenset(
    b"story poem song essay letter speech blog article haiku limerick lyrics".split()
)
_FOLLOWING_OBJECTS = frozenset(
    b"text passage sentence paragraph article review tweet dialogue conversation".split()
)
_CODE_OBJECTS = frozenset(b"function program script method class query regex".split())
_CODE_VERB = re.compile(
    rb"(?:write|create|implement|code|generate|build) (?:a |an |the )?"
    rb"(?:\w+ ){0,2}(?:function|program|script|method|class|query|regex)"
)
_MY_OBJECTS = frozenset(b"account order subscription card package bill invoice".split())
_QUESTION_START = (
    b"what ", b"who ", b"when ", b"where ", b"why ", b"which ", b"how ", b"is ", b"are ",
    b"was ", b"were ", b"do ", b"does ", b"did ", b"can ", b"could ", b"define ",
)  # fmt: skip
_GENERIC_ASSISTANT = (
    b"you are a helpful",
    b"you are an ai",
    b"you are an assistant",
    b"you are chatgpt",
)


def topic_scores(view: bytes, wordset: set[bytes] | frozenset[bytes]) -> list[float]:
    """Return the lexicon score of every topic (index = :class:`Topic` value).

    Parameters
    ----------
    view : bytes
        ``Prepared.view``.
    wordset : set of bytes
        ``Prepared.wordset``.

    Returns
    -------
    list of float
        One score per topic: keyword weights (each distinct keyword counts once) plus
        layout cues (code symbols, LaTeX, digits) and a few two-word cues ("act as",
        "write a story", "the following text", "my account").
    """
    packed = sum(map(_PACKED.__getitem__, _TOPIC_WORDS & wordset))
    scores = [(packed >> (_BITS * t) & _FIELD) * 0.5 for t in range(len(Topic))]
    sym = view.translate(None, _KEEP_SYMBOLS)
    if sym:
        if b"```" in sym:
            scores[Topic.CODE] += 3.0
        if _CODE_PAIRS.search(sym) is not None:
            scores[Topic.CODE] += 2.0
        if sym.count(b";") >= 3 or sym.count(b"{") >= 2:
            scores[Topic.CODE] += 1.0
        if b"$" in sym and b"\\" in sym:
            scores[Topic.MATH] += 2.5
        if b"^" in sym:
            scores[Topic.MATH] += 1.0
        if b"=" in sym or b"+" in sym:
            scores[Topic.MATH] += 0.5
        if b"$" in sym and b"=" in sym:
            scores[Topic.MATH] += 1.5
    digits = len(view) - len(view.translate(None, _DIGITS))
    if digits >= 3:
        scores[Topic.MATH] += 1.0 if digits < 8 else 1.5
    if b"how" in wordset and (b"many" in wordset or b"much" in wordset):
        scores[Topic.MATH] += 1.5
    if b"act" in wordset and b"act as " in view:
        scores[Topic.ROLEPLAY] += 3.0
    if b"role" in wordset and (b"play" in wordset or b"the role of" in view):
        scores[Topic.ROLEPLAY] += 3.0
    if b"imagine" in wordset and b"imagine you" in view:
        scores[Topic.ROLEPLAY] += 3.0
    if b"you are " in view and not any(g in view for g in _GENERIC_ASSISTANT):
        scores[Topic.ROLEPLAY] += 2.0
    if b"write" in wordset and not _WRITE_OBJECTS.isdisjoint(wordset):
        scores[Topic.WRITING] += 1.5
    if not _CODE_OBJECTS.isdisjoint(wordset) and _CODE_VERB.search(view) is not None:
        scores[Topic.CODE] += 2.0
    if b"following" in wordset and not _FOLLOWING_OBJECTS.isdisjoint(wordset):
        scores[Topic.TEXT_TASK] += 1.5
    if b"my" in wordset and not _MY_OBJECTS.isdisjoint(wordset):
        scores[Topic.BUSINESS] += 2.0
    return scores


def topic_of(view: bytes, wordset: set[bytes] | frozenset[bytes]) -> int:
    """Return the :class:`Topic` id of a normalised view.

    Parameters
    ----------
    view : bytes
        ``Prepared.view``.
    wordset : set of bytes
        ``Prepared.wordset``.

    Returns
    -------
    int
        The best-scoring topic when its score is at least :data:`MIN_TOPIC_SCORE`
        (ties go to the lower id); else ``FACTUAL_QA`` for a short question (starts with
        a question word or ends with "?", at most 40 distinct words) and ``OTHER``
        otherwise.
    """
    if not view:
        return int(Topic.OTHER)
    scores = topic_scores(view, wordset)
    best = max(range(1, len(scores)), key=scores.__getitem__)
    if scores[best] >= MIN_TOPIC_SCORE:
        return best
    if len(wordset) <= 40 and (view.endswith(b"?") or view.startswith(_QUESTION_START)):
        return int(Topic.FACTUAL_QA)
    return int(Topic.OTHER)
