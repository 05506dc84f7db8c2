"""exact_fp, skeleton_fp and nd_key: invariances, collisions and stability."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter

import numpy as np

from detector.text import exact_fp, nd_key, nd_keys, normalize, prepare, skeleton_fp
from detector.text.fingerprints import skeleton_material

U64 = 1 << 64

# Small fixture pools (real-looking prompts written for the tests; no corpus needed).
QUESTIONS = [
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
    "clips in May. How many clips did Natalia sell altogether in April and May?",
    "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of "
    "babysitting. How much did she earn?",
    "Betty is saving money for a new wallet which costs $100. Betty has only half of the "
    "money she needs. How much more money does Betty need to buy the wallet?",
    "James writes a 3-page letter to 2 different friends twice a week. How many pages "
    "does he write a year?",
    "What is the boiling point of water at the top of Mount Everest, and why is it "
    "different from sea level?",
    "Explain the difference between a process and a thread in an operating system.",
    "Write a haiku about autumn leaves falling on a quiet pond",
    "Who painted the ceiling of the Sistine Chapel and how long did it take?",
]
SENTENCES = [
    "The weather is lovely today.",
    "I would like a cup of coffee, please.",
    "Where is the nearest train station?",
    "My brother plays the guitar every evening.",
    "This book changed the way I think about history.",
    "We are going to the beach tomorrow morning.",
]
UNRELATED = (
    QUESTIONS
    + SENTENCES
    + [
        "can you help me write a cover letter for a junior data analyst job at a bank",
        "I want you to act as a travel guide. I will write you my location and you will "
        "suggest a place to visit near it.",
        "how do I center a div horizontally and vertically with flexbox",
        "Give me three ideas for a birthday party for a 7 year old who loves dinosaurs.",
        "What are the pros and cons of nuclear energy compared with solar power?",
        "Summarise the plot of Hamlet in two paragraphs for a high-school student.",
        "Is it safe to eat raw cookie dough? My kids keep asking.",
        "Draft a polite email to my landlord asking to fix the heating before winter.",
        "Why does my sourdough bread come out so dense?",
        "Compare PostgreSQL and MongoDB for an e-commerce backend.",
    ]
)


def test_exact_fp_is_unsigned_64_bit_and_zero_for_blank() -> None:
    for text in UNRELATED:
        fp = exact_fp(text)
        assert isinstance(fp, int)
        assert 0 < fp < U64
    assert exact_fp(None) == 0
    assert exact_fp("") == 0
    assert exact_fp(" \n\t ") == 0


def test_exact_fp_invariant_to_case_whitespace_and_unicode_forms() -> None:
    a = "Translate to French: Hello World"
    variants = [
        "translate to french: hello world",
        "  TRANSLATE   to\tFrench:\n\nHello World  ",
        "Translate to French: Ｈｅｌｌｏ World",  # fullwidth letters (NFKC)
        "Translate\u00a0to French: Hello\u2028World",  # NBSP, line separator
    ]
    for v in variants:
        assert exact_fp(v) == exact_fp(a), v
    assert exact_fp("Translate to French: Hello World!") != exact_fp(a)
    assert normalize("  Straße\nGROSS ") == b"strasse gross"


def test_exact_fp_distinct_for_distinct_prompts() -> None:
    fps = {exact_fp(t) for t in UNRELATED}
    assert len(fps) == len(UNRELATED)


def _families(rng: random.Random) -> dict[str, list[str]]:
    def n() -> str:
        return str(rng.randint(1, 5000))

    return {
        "prefix": [f"Solve step by step: {q}" for q in QUESTIONS],
        "prefix-translate": [f"Translate to French: {s}" for s in SENTENCES],
        "suffix-kojima": [f"{q}\nLet's think step by step." for q in QUESTIONS],
        "suffix-r1": [
            f"{q}\n\nPlease reason step by step, and put your final answer within \\boxed{{}}."
            for q in QUESTIONS
        ],
        "both-qa": [f"Question: {q}\nAnswer:" for q in QUESTIONS],
        "numbered": [f"Question number {n()} about my account" for _ in range(20)],
        "quoted": [f'Rewrite "{s}" in a formal tone.' for s in SENTENCES],
        "mcq": [f"{q}\nA) {n()}\nB) {n()}\nC) {n()}\nD) {n()}\nAnswer:" for q in QUESTIONS],
    }


def test_skeleton_collides_within_template_families() -> None:
    for name, items in _families(random.Random(3)).items():
        skeletons = Counter(skeleton_fp(t) for t in items)
        top_share = skeletons.most_common(1)[0][1] / len(items)
        assert top_share == 1.0, (name, skeletons)


def test_skeleton_differs_across_families_and_unrelated_prompts() -> None:
    fams = _families(random.Random(4))
    tops = {
        name: Counter(map(skeleton_fp, items)).most_common(1)[0][0] for name, items in fams.items()
    }
    assert len(set(tops.values())) == len(tops)
    sk = [skeleton_fp(t) for t in UNRELATED]
    assert len(set(sk)) == len(sk)
    assert not set(sk) & set(tops.values())


def test_skeleton_material_shows_the_template_part() -> None:
    lines = prepare("Translate to French: The weather is lovely today.").lines
    assert skeleton_material(lines) == b"H\x00translate to french"
    lines = prepare("What is 2+2?\nLet's think step by step.").lines
    assert skeleton_material(lines) == b"T\x00let s think step by step"
    assert skeleton_fp(None) == 0


def _substitute(text: str, rng: random.Random, k: int) -> str:
    words = text.split()
    for _ in range(k):
        words[rng.randrange(len(words))] = rng.choice(["really", "other", "new", "big"])
    return " ".join(words)


def test_nd_key_invariant_to_case_punctuation_whitespace() -> None:
    for q in QUESTIONS:
        variants = [q.upper(), "  " + q.replace(" ", "\n ") + "  ", q.replace(",", " ,")]
        for v in variants:
            assert nd_key(v) == nd_key(q)


def test_nd_key_collision_rates_on_generated_variants() -> None:
    rng = random.Random(11)
    base = [" ".join(QUESTIONS[i % len(QUESTIONS)].split()[: 25 + i % 10]) for i in range(80)]
    base = [f"{b} (case {i})" for i, b in enumerate(base)]
    orig = nd_keys([prepare(t).words for t in base])
    one = nd_keys([prepare(_substitute(t, rng, 1)).words for t in base])
    rate = float((one == orig).mean())
    # ~27-word prompts, 1 word changed: word-3-shingle Jaccard ~0.8, key collision ~J**2.
    assert 0.4 <= rate <= 0.95, rate
    # unrelated prompts: no collisions
    keys = [nd_key(t) for t in UNRELATED]
    assert len(set(keys)) == len(keys)


def test_nd_keys_batch_matches_single_and_handles_empty() -> None:
    texts = [*UNRELATED, "", "word", "two words", None]
    words = [prepare(t).words for t in texts]
    batch = nd_keys(words)
    assert batch.dtype == np.uint64
    assert [int(x) for x in batch] == [nd_key(t) for t in texts]
    assert batch[-4] == 0 and batch[-1] == 0
    assert batch[-3] != 0 and batch[-2] != 0


def test_fingerprints_are_deterministic_across_processes() -> None:
    """No Python ``hash()`` anywhere: other hash seeds give the same values."""
    text = "Solve step by step: Natalia sold clips to 48 of her friends."
    code = (
        "from detector.text import exact_fp, skeleton_fp, nd_key; "
        f"t = {text!r}; print(exact_fp(t), skeleton_fp(t), nd_key(t))"
    )
    outs = set()
    for seed in ("1", "12345"):
        res = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        )
        outs.add(res.stdout.strip())
    assert outs == {f"{exact_fp(text)} {skeleton_fp(text)} {nd_key(text)}"}


def _swarm_frames(rng: random.Random) -> dict[str, list[str]]:
    """One numbered question/answer frame per family; items and numbering vary."""
    ask = "Work through your reasoning step by step before you commit to an answer."
    letters = "abcdefgh"
    romans = ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii"]
    out: dict[str, list[str]] = {
        "q-slot-a": [],
        "numbered-list": [],
        "lettered": [],
        "roman": [],
        "instruction-first": [],
        "labels-only": [],
    }
    for k, q in enumerate(QUESTIONS):
        n = rng.randint(1, 400)
        other = QUESTIONS[(k + 3) % len(QUESTIONS)]
        out["q-slot-a"].append(f"Q{n}: {q}\n{ask}\nA{n}:")
        out["numbered-list"].append(f"{n}. {q}\n{n + 1}. {other}\n\n{ask}")
        out["lettered"].append(f"({letters[k]})  {q}\n{ask}")
        out["roman"].append(f"{romans[k]}) {q}\n   {ask}")
        out["instruction-first"].append(f"Problem #{n}\n{ask}:\n{q}")
        out["labels-only"].append(f"Item {n}.\nQuestion: {q}\nAnswer {n}:")
    return out


def test_skeleton_ignores_numbering_items_and_whitespace_in_numbered_frames() -> None:
    fams = _swarm_frames(random.Random(5))
    tops = {}
    for name, items in fams.items():
        skeletons = Counter(skeleton_fp(t) for t in items)
        assert len(skeletons) == 1, (name, [skeleton_material(prepare(t).lines) for t in items])
        tops[name] = skeletons.most_common(1)[0][0]
    # the frame's reasoning request is the skeleton, whatever the numbering style
    material = skeleton_material(prepare(fams["q-slot-a"][0]).lines)
    assert material.startswith(b"T\x00work through your reasoning step by step")
    assert skeleton_material(prepare(fams["labels-only"][0]).lines) == (
        b"L\x00item 0 question\x00answer 0"
    )
    # frames stay apart from the existing families and from free-form prompts
    others = {
        Counter(map(skeleton_fp, v)).most_common(1)[0][0]
        for v in _families(rng=random.Random(6)).values()
    }
    assert not set(tops.values()) & others
    assert not set(tops.values()) & {skeleton_fp(t) for t in UNRELATED}
