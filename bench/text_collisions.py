"""Measure skeleton_fp and nd_key collision rates on real prompts.

Run: ``.venv/bin/python bench/text_collisions.py [--show N]``

* skeleton_fp within template families: real-world templates (FLAN, Orca, Kojima,
  DeepSeek-R1, Alpaca, lm-eval MCQ, Vicuna, AIPRM, ...) filled with real payloads
  (GSM8K, MATH, AlpacaEval, ShareGPT); reported as the share of a family's prompts that
  fall on its most common skeleton (1.0 = every instance collides).
* skeleton_fp and nd_key among unrelated real prompts (ShareGPT, Arena-Hard, hh-rlhf,
  AlpacaEval, MT-bench, WizardLM; exact duplicates removed): share of prompts whose key
  is shared with at least one other distinct prompt, and the pairwise collision rate.
* nd_key on generated near-duplicates of real prompts (word substitutions, deletions,
  punctuation / case / whitespace edits): share of variants whose key equals the
  original's, by prompt length.

Skips (exit 0) when ``../shared/corpora`` is missing.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import text_corpora as corpora

from detector.text import text_signals_batch

COUNTRIES = [
    "France", "Spain", "Germany", "Italy", "Japan", "China", "India", "Brazil", "Canada",
    "Mexico", "Egypt", "Kenya", "Peru", "Chile", "Norway", "Sweden", "Finland", "Poland",
    "Greece", "Turkey", "Iran", "Iraq", "Vietnam", "Thailand", "Nigeria", "Ghana", "Morocco",
    "Argentina", "Colombia", "Australia", "Portugal", "Austria", "Hungary", "Ireland", "Denmark",
]  # fmt: skip
TOPICS = [
    "photosynthesis", "inflation", "black holes", "machine learning", "the French Revolution",
    "climate change", "blockchain", "quantum computing", "democracy", "the water cycle",
    "supply and demand", "evolution", "vaccines", "the stock market", "plate tectonics",
    "recursion", "gravity", "the immune system", "renewable energy", "compound interest",
    "the Roman Empire", "neural networks", "volcanoes", "the internet", "jazz music",
    "public key cryptography", "the Cold War", "DNA replication", "game theory", "tides",
]  # fmt: skip


def _first_sentence(text: str) -> str | None:
    s = text.strip().split("\n")[0]
    for end in (". ", "? ", "! "):
        if end in s:
            s = s.split(end)[0] + end.strip()
    words = s.split()
    return s if 4 <= len(words) <= 18 else None


def template_families(rng: random.Random, per_family: int = 200) -> dict[str, list[str]]:
    """Real-world templates filled with real payloads, by family name."""
    gsm = corpora.gsm8k()
    math = corpora.math_problems()
    alp = [t for t, _ in corpora.alpaca_eval()]
    sg = corpora.sharegpt()
    short = [s for s in map(_first_sentence, alp + sg) if s]

    def pick(pool: list[str]) -> str:
        return rng.choice(pool)

    def mcq() -> str:
        q = pick(gsm)
        opts = [str(rng.randint(1, 500)) for _ in range(4)]
        return (
            "The following are multiple choice questions (with answers) about high school "
            f"mathematics.\n\n{q}\nA. {opts[0]}\nB. {opts[1]}\nC. {opts[2]}\nD. {opts[3]}\n"
            "Answer:"
        )

    alpaca_tpl = (
        "Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\n{x}\n\n### Response:"
    )
    vicuna_tpl = (
        "A chat between a curious user and an artificial intelligence assistant. The "
        "assistant gives helpful, detailed, and polite answers to the user's questions. "
        "USER: {x} ASSISTANT:"
    )
    fams: dict[str, tuple[str, object]] = {
        # fixed prefix
        "prefix/solve-step-by-step": ("Solve the following math problem step by step:\n{x}", gsm),
        "prefix/translate-fr": ("Translate the following sentence to French: {x}", short),
        "prefix/translate-de": ("Translate to German:\n\n{x}", short),
        "prefix/summarize": ("Summarize the following text in three sentences:\n\n{x}", sg),
        "prefix/answer-question": ("Answer the following question: {x}", alp),
        "prefix/flan-cot": (
            "Please answer the following question by reasoning step-by-step. {x}",
            gsm,
        ),
        "prefix/rewrite-formal": ("Rewrite the following paragraph in a formal tone:\n{x}", sg),
        "prefix/persona": (
            "You are an expert mathematician. Solve this problem and show your work. {x}",
            math,
        ),
        "prefix/numbered": ("Question {n}: {x}", alp),
        # fixed suffix
        "suffix/kojima": ("{x}\nLet's think step by step.", gsm),
        "suffix/r1-boxed": (
            "{x}\n\nPlease reason step by step, and put your final answer within \\boxed{{}}.",
            math,
        ),
        "suffix/tldr": ("{x}\n\nTL;DR:", sg),
        "suffix/explain-inline": ("{x} Explain your reasoning.", alp),
        "suffix/final-number": ("{x}\n\nAnswer with only the final number.", gsm),
        "suffix/aiprm-english": ("{x}\n\nPlease write in English language.", sg),
        # fixed prefix and suffix
        "both/qa": ("Question: {x}\nAnswer:", alp),
        "both/alpaca": (alpaca_tpl, alp),
        "both/q-a-kojima": ("Q: {x}\nA: Let's think step by step.", gsm),
        "both/context-question": (
            "Context: {x}\nQuestion: What is the main idea of the passage?\nAnswer:",
            sg,
        ),
        "both/vicuna": (vicuna_tpl, alp),
        "both/mmlu-mcq": ("", mcq),
        # fill-ins inside one sentence
        "infix/account-number": ("Question number {n} about my account", None),
        "infix/quiz-n-topic": ("Generate {n} multiple-choice quiz questions about {t}.", None),
        "infix/capital-of": ("What is the capital of {c}?", None),
        "infix/eli5-topic": ("Explain the concept of {t} to a five-year-old.", None),
        "infix/essay-n-topic": ("Write a {n}-word essay about {t}.", None),
    }
    out: dict[str, list[str]] = {}
    for name, (tpl, pool) in fams.items():
        items = []
        for _ in range(per_family):
            if callable(pool):
                items.append(pool())
                continue
            x = pick(pool) if pool else ""
            items.append(
                tpl.replace("{x}", x)
                .replace("{n}", str(rng.randint(1, 999)))
                .replace("{t}", rng.choice(TOPICS))
                .replace("{c}", rng.choice(COUNTRIES))
                .replace("{{}}", "{}")
            )
        out[name] = items
    return out


def near_duplicate(text: str, rng: random.Random, kind: str) -> str:
    """A near-duplicate of ``text``: ``sub1``, ``sub2``, ``del1``, ``punct`` or ``case``."""
    words = text.split(" ")
    if kind in ("sub1", "sub2"):
        for _ in range(1 if kind == "sub1" else 2):
            i = rng.randrange(len(words))
            words[i] = rng.choice(["really", "very", "new", "other", "some", "big", "data"])
        return " ".join(words)
    if kind == "del1":
        if len(words) > 1:
            del words[rng.randrange(len(words))]
        return " ".join(words)
    if kind == "punct":
        return text.replace(",", "").replace("?", " ?").rstrip(".!?") + "!!"
    if kind == "case":
        return "  " + text.upper().replace(" ", "  \n ") + " "
    raise ValueError(kind)


def dedupe(prompts: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    seen: set[int] = set()
    texts, sources = [], []
    for src, items in prompts.items():
        fps = text_signals_batch([None] * len(items), items)["exact_fp"]
        for t, fp in zip(items, fps.tolist(), strict=True):
            if fp and fp not in seen:
                seen.add(fp)
                texts.append(t)
                sources.append(src)
    return texts, sources


def collisions(keys: list[int]) -> tuple[float, float, Counter]:
    """(share of items whose key is shared, pairwise collision rate, counter)."""
    c = Counter(keys)
    n = len(keys)
    shared = sum(v for v in c.values() if v > 1) / n
    pairs = sum(v * (v - 1) / 2 for v in c.values()) / (n * (n - 1) / 2)
    return shared, pairs, c


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--show", type=int, default=0, help="print the N largest collision groups")
    args = ap.parse_args(argv)
    if not corpora.available():
        print(f"skip: corpora not found at {corpora.CORPORA}")
        return 0
    rng = random.Random(20240611)

    print("== skeleton_fp within template families (share on the top skeleton)")
    fams = template_families(rng)
    by_kind = defaultdict(list)
    for name, items in fams.items():
        sk = text_signals_batch([None] * len(items), items)["skeleton_fp"].tolist()
        top = Counter(sk).most_common(1)[0][1] / len(items)
        by_kind[name.split("/")[0]].append(top)
        print(f"  {name:28s} {top:6.3f}  ({len(set(sk))} skeletons / {len(items)})")
    allv = [v for vs in by_kind.values() for v in vs]
    for kind, vs in by_kind.items():
        print(f"  mean {kind:23s} {sum(vs) / len(vs):6.3f}")
    print(f"  mean all families          {sum(allv) / len(allv):6.3f}")

    texts, sources = dedupe(corpora.real_user_prompts())
    sig = text_signals_batch([None] * len(texts), texts)
    print(f"\n== unrelated real prompts: {len(texts)} distinct")
    for name in ("skeleton_fp", "nd_key"):
        keys = sig[name].tolist()
        shared, pairs, c = collisions(keys)
        print(f"  {name:12s} shared by >=2 prompts: {shared:.4f}   pairwise: {pairs:.2e}")
        per = defaultdict(list)
        for k, s in zip(keys, sources, strict=True):
            per[s].append(c[k] > 1)
        print("    by source: " + ", ".join(f"{s} {sum(v) / len(v):.3f}" for s, v in per.items()))
        if args.show:
            groups = defaultdict(list)
            for key, t in zip(keys, texts, strict=True):
                if c[key] > 1:
                    groups[key].append(t)
            for _, ts in sorted(groups.items(), key=lambda kv: -len(kv[1]))[: args.show]:
                print(f"    [{len(ts)}] " + " | ".join(repr(t[:70]) for t in ts[:3]))

    print("\n== nd_key on near-duplicates of real prompts (share colliding with original)")
    base = [t for t in texts if len(t.split()) >= 5]
    rng.shuffle(base)
    base = base[:3000]
    buckets = (("5-19 words", 5, 20), ("20-99 words", 20, 100), (">=100 words", 100, 10**9))
    orig = sig_keys = text_signals_batch([None] * len(base), base)["nd_key"]
    for kind in ("sub1", "sub2", "del1", "punct", "case"):
        variants = [near_duplicate(t, rng, kind) for t in base]
        vk = text_signals_batch([None] * len(variants), variants)["nd_key"]
        same = (vk == orig).tolist()
        parts = []
        for label, lo, hi in buckets:
            sel = [s for s, t in zip(same, base, strict=True) if lo <= len(t.split()) < hi]
            if sel:
                parts.append(f"{label}: {sum(sel) / len(sel):.3f}")
        print(f"  {kind:6s} all: {sum(same) / len(same):.3f}   " + "   ".join(parts))
    del sig_keys
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
