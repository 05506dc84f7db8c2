"""Measure the chain-of-thought detector (``cot_score`` / ``is_cot``) on real corpora.

Run: ``.venv/bin/python bench/cot_precision.py [--show-fp] [--show-fn] [--seed N]``

Positives
    * OpenOrca DPO sample: real (system, user) pairs whose system prompt is the Orca
      "think step-by-step and justify your steps" prompt.
    * Constructed: a real prompt (GSM8K, MATH, AlpacaEval, ShareGPT, Arena-Hard,
      MT-bench, WizardLM) with a real-world CoT instruction prepended, appended (after a
      blank line or inline) or sent as the system prompt. Instructions come from
      ``bench/cot_phrasings.py``: ``TUNE`` (the lexicon was written against them) and
      ``HELD_OUT`` (written before the lexicon, never used to tune it).
Negatives
    * Real user prompts: ShareGPT, Arena-Hard v0.1 + v2.0, hh-rlhf, AlpacaEval,
      MT-bench (both turns), WizardLM test set (exact duplicates removed).
    * FLAN-style task prompts from OpenOrca sent *without* their system prompt, and raw
      GSM8K / MATH questions (benchmark text with no instruction).
    * Constructed eval-style prompts: a real question + a short-answer instruction.

Some real user prompts genuinely ask for step-by-step reasoning; those flagged by the
detector were read by hand and are listed (by fingerprint only) in ``GENUINE_COT`` so
the report shows both the raw false-positive rate and the rate after removing them.

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

import numpy as np
import text_corpora as corpora
from cot_phrasings import DEV, FRESH, HELD_OUT, SHORT_ANSWER, TUNE

from detector.text import COT_THRESHOLD, cot_mask, exact_fp, explain_mask, prepare
from detector.text import text_signals_batch as batch

# Real negatives flagged by the detector that, read by hand, do ask the model to show its
# reasoning, work or justification, or to think / solve step by step (exact_fp of the
# prompt and a note; the text is not stored here). Not counted as genuine: procedural
# "step-by-step guide / instructions", explanations of a concept or of code, prompts that
# merely mention chain-of-thought, narrative uses.
GENUINE_COT: dict[int, str] = {
    5161662570457642593: "sharegpt: 'explain your reasoning' (asymptotes)",
    16318071234459672430: "sharegpt: 'justification for your choice'",
    1649451212731285639: "sharegpt: MCQ 'try to explain your choice'",
    8398348544238700474: "sharegpt: MCQ 'try to explain your choice'",
    14180786662140160908: "sharegpt: MCQ 'try to explain your choice'",
    3241936921112373319: "sharegpt: MCQ 'try to explain your choice'",
    10539891428909632762: "sharegpt: 'show the step-wise procedure' (std deviation)",
    7771672544752231637: "sharegpt: homework 'justify your answer'",
    16285912631333993477: "sharegpt: 'justify each answer'",
    5073180097189593308: "sharegpt: 'explain your reasoning afterwards'",
    1635541310966591460: "sharegpt: homework 'explain the reason for the features'",
    1725150885406791909: "sharegpt: 'think about this step by step'",
    17630205111963716854: "arena: 'step by step solution'",
    5563463077259174020: "arena: 'explain your answer'",
    3864066984258711290: "arena: 'take a deep breath, think step by step'",
    5419064137189957625: "arena: 'show your work ... step by step'",
    11817160700489449213: "arena: 'Let's think step by step.'",
    5707806784870841280: "arena: 'use logic and reasoning to solve'",
    17372686695379001762: "arena: 'before answering, engage in the following process'",
    1461682777108246707: "arena: 'aplica la tecnica CoT'",
    12330237814869564777: "arena: 'Use chain of thought!'",
    1802042370719292773: "arena: 'take a deep breath and think step-by-step'",
    6678054978156058457: "arena: math 'justify your answer'",
    6216844735382981316: "arena: 'chain of thought process'",
    7158714528546362641: "arena: 'think through all the possible options'",
    17285334102466146879: "arena: 'reasoning of all possibilities step by step'",
    11912266429521004183: "arena: 'explain every step of your solution'",
    1726833147491202744: "arena: 'step-by-step ... chain of thought'",
    7323863473630997251: "arena: zh 'list detailed reasoning steps'",
    13917080027333989200: "arena: 'work it out step by step'",
    17636057370264622334: "arena: 'chain of thought ... think out loud'",
    14772748926145240234: "arena: ja 'think step by step, structurally'",
    11231838603795048703: "alpaca-eval (vicuna): 'reasoning step-by-step'",
    5503962905105300853: "alpaca-eval (vicuna): 'reasoning step-by-step'",
    10749519074053124286: "alpaca-eval (vicuna): 'reasoning step-by-step'",
    6098908731539262229: "alpaca-eval (vicuna): 'reasoning step-by-step'",
    17511657728872755808: "alpaca-eval (vicuna): 'reasoning step-by-step'",
    7733920274856840043: "alpaca-eval (vicuna): 'reasoning step-by-step'",
    11185324627818353323: "alpaca-eval (vicuna): 'reasoning step-by-step'",
    7689430703856075168: "alpaca-eval (vicuna): 'reasoning step-by-step'",
    1056266315724499653: "alpaca-eval (vicuna): 'reasoning step-by-step'",
    6738323922606399936: "alpaca-eval (vicuna): 'reasoning step-by-step'",
    5555671001719795109: "mt-bench: 'explain your reasoning steps'",
    13852773781024324289: "mt-bench: 'justify your answer'",
    18345167889310296420: "mt-bench: 'explain your thought process step-by-step'",
    8024734473980554425: "wizardlm: 'explain your reasoning'",
    8876407498759668319: "wizardlm: 'explain your reasoning'",
    397311167303180287: "wizardlm: 'explain your reasoning'",
    15852385334984442115: "wizardlm: 'explain your reasoning'",
    4702307107744675636: "wizardlm: 'explain your reasoning'",
}

PLACEMENTS = ("prepend_blank", "prepend_inline", "append_blank", "append_inline", "system")


def _place(instr: str, payload: str, how: str) -> tuple[str | None, str]:
    if how == "prepend_blank":
        return None, f"{instr}\n\n{payload}"
    if how == "prepend_inline":
        return None, f"{instr} {payload}"
    if how == "append_blank":
        return None, f"{payload}\n\n{instr}"
    if how == "append_inline":
        return None, f"{payload} {instr}"
    return instr, payload


def _payload_pool() -> list[str]:
    pool = corpora.gsm8k() + corpora.math_problems()[:1500]
    pool += [t for t, _ in corpora.alpaca_eval()] + corpora.sharegpt()
    pool += corpora.arena_hard() + corpora.mt_bench_all_turns()
    pool += [t for t, _ in corpora.wizardlm()]
    return [t for t in pool if t.strip()]


def construct(
    phrasings: tuple[str, ...], pool: list[str], n: int, rng: random.Random
) -> tuple[list[str | None], list[str], list[int]]:
    systems: list[str | None] = []
    users: list[str] = []
    which: list[int] = []
    for i in range(n):
        k = i % len(phrasings)
        s, u = _place(phrasings[k], rng.choice(pool), rng.choice(PLACEMENTS))
        systems.append(s)
        users.append(u)
        which.append(k)
    return systems, users, which


def _flag(systems: list[str | None], users: list[str]) -> np.ndarray:
    return batch(systems, users)["is_cot"]


def _features(system: str | None, user: str) -> str:
    mask = 0
    for t in (system, user):
        if t:
            p = prepare(t)
            mask |= cot_mask(p.view, p.wordset)
    return ", ".join(f"{n}{w:+g}" for n, w in explain_mask(mask))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--show-fp", action="store_true", help="print flagged negatives")
    ap.add_argument("--show-fn", action="store_true", help="print missed positives")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--n", type=int, default=3000, help="constructed positives per split")
    args = ap.parse_args(argv)
    if not corpora.available():
        print(f"skip: corpora not found at {corpora.CORPORA}")
        return 0
    rng = random.Random(args.seed)
    print(f"is_cot = cot_score >= {COT_THRESHOLD}\n")

    # ---------------------------------------------------------------- negatives
    seen: set[int] = set()
    neg: dict[str, list[str]] = defaultdict(list)
    for src, items in corpora.real_user_prompts().items():
        for t in items:
            fp = exact_fp(t)
            if fp and fp not in seen:
                seen.add(fp)
                neg[src].append(t)
    orca = corpora.openorca()
    neg["openorca-user-only"] = [u for _, u in orca]
    neg["gsm8k-raw"] = corpora.gsm8k()
    neg["math-raw"] = corpora.math_problems()
    pool = _payload_pool()
    short_s, short_u, _ = construct(SHORT_ANSWER, pool, 1000, rng)

    print("== negatives: false-positive rate (flagged / n)")
    tot_fp = tot_n = tot_genuine = 0
    flagged_neg: list[tuple[str, str]] = []
    real_sources = set(corpora.real_user_prompts())
    for src, items in neg.items():
        flags = _flag([None] * len(items), items)
        fps = [t for t, f in zip(items, flags.tolist(), strict=True) if f]
        genuine = sum(1 for t in fps if exact_fp(t) in GENUINE_COT)
        note = f"  ({genuine} read as genuine CoT requests)" if genuine else ""
        print(f"  {src:20s} {len(fps):4d} / {len(items):5d} = {len(fps) / len(items):.4f}{note}")
        if src in real_sources:
            tot_fp += len(fps)
            tot_n += len(items)
            tot_genuine += genuine
            flagged_neg += [(src, t) for t in fps]
    flags = _flag(short_s, short_u)
    print(f"  {'short-answer (constr)':20s} {int(flags.sum()):4d} / {len(flags):5d}")
    fpr = tot_fp / tot_n
    fpr_adj = (tot_fp - tot_genuine) / (tot_n - tot_genuine)
    print(f"  real user prompts: FPR {fpr:.4f} raw, {fpr_adj:.4f} without the genuine ones")

    # ---------------------------------------------------------------- positives
    print("\n== positives: recall")
    o_flags = _flag([s for s, _ in orca], [u for _, u in orca])
    print(f"  openorca (system+user)   {o_flags.mean():.4f}  (n={len(orca)})")
    recalls = {}
    missed: dict[str, Counter] = {}
    for name, phr in (("TUNE", TUNE), ("DEV", DEV), ("HELD_OUT", HELD_OUT), ("FRESH", FRESH)):
        s, u, which = construct(phr, pool, args.n, rng)
        f = _flag(s, u)
        recalls[name] = (f.mean(), len(f))
        by_k = defaultdict(list)
        for k, v in zip(which, f.tolist(), strict=True):
            by_k[k].append(v)
        missed[name] = Counter({phr[k]: 1 - sum(v) / len(v) for k, v in by_k.items()})
        print(f"  constructed {name:9s}    {f.mean():.4f}  (n={len(f)}, {len(phr)} phrasings)")
        bad = [(p, m) for p, m in missed[name].most_common() if m > 0.05]
        for p, m in bad:
            print(f"      missed {m:5.1%}: {p[:90]!r}")

    # ---------------------------------------------------------------- precision
    tp = int(o_flags.sum()) + sum(int(r * n) for r, n in recalls.values())
    n_pos = len(orca) + sum(n for _, n in recalls.values())
    print("\n== precision on the pooled set")
    print(f"  positives {n_pos} (openorca + constructed), negatives {tot_n} real user prompts")
    prec = tp / (tp + tot_fp)
    prec_adj = (tp + tot_genuine) / (tp + tot_fp)
    print(f"  precision {prec:.4f} raw, {prec_adj:.4f} counting genuine CoT requests as TP")
    r_fresh = recalls["FRESH"][0]
    print(f"  at a base rate, with FRESH recall {r_fresh:.3f} and FPR {fpr_adj:.4f}:")
    for rate in (0.01, 0.05, 0.2):
        p = rate * r_fresh / (rate * r_fresh + (1 - rate) * fpr_adj)
        print(f"    precision if {rate:4.0%} of requests elicit CoT: {p:.3f}")

    if args.show_fp:
        print("\n== flagged real user prompts (spot check)")
        for src, t in flagged_neg:
            mark = "GENUINE" if exact_fp(t) in GENUINE_COT else "?"
            print(f"- [{src}] {mark} fp={exact_fp(t)} [{_features(None, t)}]")
            print(f"    {t[:300]!r}")
    if args.show_fn:
        print("\n== missed constructed positives (one per phrasing)")
        for name, phr in (("TUNE", TUNE), ("DEV", DEV), ("HELD_OUT", HELD_OUT), ("FRESH", FRESH)):
            for p in phr:
                s, u = _place(p, "What is 17 * 23?", "append_blank")
                sig = batch([s], [u])
                if not sig["is_cot"][0]:
                    print(f"  {name} {sig['cot_score'][0]:.3f} {p[:70]!r} [{_features(s, u)}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
