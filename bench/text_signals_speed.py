"""Speed of the text signals on real prompts, beside a trivial baseline.

Run: ``.venv/bin/python bench/text_signals_speed.py [--events N] [--batch B]``

Builds an event stream from real prompts (ShareGPT, Arena-Hard, AlpacaEval, WizardLM,
GSM8K, MATH, OpenOrca; falls back to generated prompts when ``../shared/corpora`` is
missing) and times, per event:

* baseline: ``xxh3_64`` of the raw user prompt (what any fingerprinting costs);
* ``text_signals_batch`` on batches of ``--batch`` events in three traffic mixes:
  ``distinct`` (every user prompt different, worst case), ``typical`` (a few system
  prompts; 30 % of user prompts repeat an earlier one) and ``templated`` (one system prompt;
  1,000 distinct user prompts re-sent many times, as a harvest or batch job does);
* ``text_signals`` called once per event (the non-batch path).

Prints microseconds of CPU time per event (``time.process_time``: on a shared machine
wall time mostly measures waiting for a core) and the ratio to the baseline. A reference
line (``" ".join(text.split())`` on the same prompts) shows how loaded the machine is.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import text_corpora as corpora
import xxhash

from detector.text import clear_caches, text_signals, text_signals_batch

SYSTEMS = [
    None,
    "You are a helpful assistant.",
    "You are an AI assistant. User will you give you a task. Your goal is to complete the "
    "task as faithfully as you can. While performing the task think step-by-step and "
    "justify your steps.",
    "You are a customer support agent for Acme Cloud. Answer politely and concisely; if "
    "you do not know, say so and offer to open a ticket.",
]


def real_prompts() -> list[str]:
    pool = corpora.sharegpt() + corpora.arena_hard() + [t for t, _ in corpora.alpaca_eval()]
    pool += [t for t, _ in corpora.wizardlm()] + corpora.gsm8k() + corpora.math_problems()
    pool += [u for _, u in corpora.openorca()]
    if not pool:  # corpora missing: generated prompts of realistic lengths
        rng = random.Random(0)
        words = [
            "the", "of", "to", "and", "a", "in", "is", "it", "you", "that", "he", "was", "for",
            "on", "are", "with", "as", "I", "his",
        ]  # fmt: skip
        pool = [" ".join(rng.choice(words) for _ in range(rng.randint(10, 300))) + "?"
                for _ in range(5000)]  # fmt: skip
    return [t for t in pool if t.strip()]


def mix(kind: str, pool: list[str], n: int, rng: random.Random) -> tuple[list, list]:
    if kind == "distinct":
        users = [rng.choice(pool) + f" #{i}" for i in range(n)]
        systems = [rng.choice(SYSTEMS) for _ in range(n)]
    elif kind == "typical":
        users = []
        for i in range(n):
            if users and rng.random() < 0.3:
                users.append(rng.choice(users))
            else:
                users.append(rng.choice(pool) + f" #{i}")
        systems = [rng.choice(SYSTEMS) for _ in range(n)]
    else:  # templated
        base = [f"Solve step by step:\n{rng.choice(pool)}" for _ in range(1000)]
        users = [rng.choice(base) for _ in range(n)]
        systems = [SYSTEMS[2]] * n
    return systems, users


def per_event_us(fn, n: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        clear_caches()
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best / n * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=5000)
    args = ap.parse_args(argv)
    rng = random.Random(1)
    pool = real_prompts()
    n, b = args.events, args.batch
    words = sorted(len(t.split()) for t in pool)
    kind = "real" if corpora.available() else "generated (corpora missing)"
    print(f"{len(pool)} {kind} prompts; words: median {words[len(words) // 2]}, "
          f"mean {sum(words) / len(words):.0f}; {n} events, batch {b}")  # fmt: skip

    systems, users = mix("distinct", pool, n, rng)
    xxh = xxhash.xxh3_64_intdigest
    base = per_event_us(lambda: [xxh(u.encode()) for u in users], n)
    print(f"  {'baseline xxh3_64(raw user text)':42s} {base:7.2f} us/event   1.0x")
    ref = per_event_us(lambda: [" ".join(u.split()) for u in users], n)
    label = 'reference " ".join(text.split())'
    print(f"  {label:42s} {ref:7.2f} us/event {ref / base:6.1f}x")

    def run_batch(s: list, u: list) -> None:
        for i in range(0, len(u), b):
            text_signals_batch(s[i : i + b], u[i : i + b])

    for kind in ("distinct", "typical", "templated"):
        s, u = mix(kind, pool, n, rng)
        us = per_event_us(lambda s=s, u=u: run_batch(s, u), n)
        print(f"  {'text_signals_batch, ' + kind:42s} {us:7.2f} us/event {us / base:6.1f}x")
    m = min(n, 5000)
    us = per_event_us(
        lambda: [text_signals(s_, u_) for s_, u_ in zip(systems[:m], users[:m], strict=True)], m
    )
    print(f"  {'text_signals (one call per event), distinct':42s} {us:7.2f} us/event "
          f"{us / base:6.1f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
