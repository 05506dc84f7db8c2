"""Topic accuracy on labelled real prompts, and format-flag rates on real user prompts.

Run: ``.venv/bin/python bench/topic_accuracy.py``

Labels come from the corpora themselves: Arena-Hard v2 subcategory (coding, math,
creative_writing), MT-bench category, GSM8K / MATH (math), Code Alpaca and GPTeacher
codegen (code), GPTeacher roleplay (roleplay). Also prints the topic mix of ShareGPT and
the share of real user prompts flagged ``is_mcq`` / ``answer_format_short``.
Skips (exit 0) when ``../shared/corpora`` is missing.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import text_corpora as corpora

from detector.text import Topic, text_signals_batch

ARENA = {"coding": Topic.CODE, "math": Topic.MATH, "creative_writing": Topic.WRITING}
MTB = {
    "writing": Topic.WRITING,
    "roleplay": Topic.ROLEPLAY,
    "math": Topic.MATH,
    "coding": Topic.CODE,
    "extraction": Topic.TEXT_TASK,
}


def _topics(texts: list[str]) -> list[Topic]:
    return [Topic(t) for t in text_signals_batch([None] * len(texts), texts)["topic"].tolist()]


def _report(name: str, texts: list[str], labels: list[Topic]) -> tuple[int, int]:
    got = _topics(texts)
    ok = sum(g is y for g, y in zip(got, labels, strict=True))
    wrong = Counter(g.name for g, y in zip(got, labels, strict=True) if g is not y)
    worst = dict(wrong.most_common(3))
    print(f"  {name:28s} {ok / len(texts):6.3f}  (n={len(texts)}; wrong as {worst})")
    return ok, len(texts)


def main() -> int:
    if not corpora.available():
        print(f"skip: corpora not found at {corpora.CORPORA}")
        return 0
    print("== topic accuracy on labelled prompts")
    tot_ok = tot_n = 0
    sets = []
    arena = [(t, ARENA[c]) for t, c in corpora.arena_hard_labelled()]
    for cat in ARENA.values():
        sets.append((f"arena-hard v2 {cat.name}", [t for t, c in arena if c is cat], cat))
    mtb = [(t, MTB[c]) for t, c in corpora.mt_bench() if c in MTB]
    for cat in MTB.values():
        sets.append((f"mt-bench {cat.name}", [t for t, c in mtb if c is cat], cat))
    sets.append(("gsm8k MATH", corpora.gsm8k(), Topic.MATH))
    sets.append(("MATH MATH", corpora.math_problems(), Topic.MATH))
    sets.append(("code-alpaca CODE", corpora.code_alpaca(), Topic.CODE))
    sets.append(("gpteacher codegen CODE", corpora.gpteacher("codegen"), Topic.CODE))
    sets.append(("gpteacher roleplay ROLEPLAY", corpora.gpteacher("roleplay"), Topic.ROLEPLAY))
    for name, texts, cat in sets:
        ok, n = _report(name, texts, [cat] * len(texts))
        tot_ok += ok
        tot_n += n
    print(f"  {'all (micro average)':28s} {tot_ok / tot_n:6.3f}  (n={tot_n})")

    print("\n== topic mix of ShareGPT first turns (unlabelled)")
    mix = Counter(t.name for t in _topics(corpora.sharegpt()))
    total = sum(mix.values())
    print("  " + ", ".join(f"{k} {v / total:.2f}" for k, v in mix.most_common()))

    print("\n== format flags on real user prompts (share flagged)")
    for src, texts in corpora.real_user_prompts().items():
        sig = text_signals_batch([None] * len(texts), texts)
        print(
            f"  {src:12s} is_mcq {sig['is_mcq'].mean():.4f}   "
            f"answer_format_short {sig['answer_format_short'].mean():.4f}   (n={len(texts)})"
        )
    orca = [u for _, u in corpora.openorca()]
    sig = text_signals_batch([None] * len(orca), orca)
    short = sig["answer_format_short"].mean()
    print(
        f"  {'openorca':12s} is_mcq {sig['is_mcq'].mean():.4f}   "
        f"answer_format_short {short:.4f}   (FLAN tasks, n={len(orca)})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
