"""Loaders for the real prompt corpora in ``../shared/corpora`` (bench scripts only).

Each loader returns a list of prompt strings (or ``(system, user)`` pairs); all return
``[]`` when the file is missing so the bench scripts can skip gracefully.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = Path(os.environ.get("DISTILLWATCH_CORPORA", ROOT.parent / "shared" / "corpora"))


def available() -> bool:
    """Return whether the shared corpora directory exists."""
    return (CORPORA / "INDEX.md").is_file()


def _jsonl(rel: str) -> list[dict]:
    path = CORPORA / rel
    if not path.is_file():
        return []
    opener = gzip.open if rel.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _json(rel: str) -> list:
    path = CORPORA / rel
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def sharegpt() -> list[str]:
    """Real first user turns to ChatGPT (human turns only, non-empty)."""
    rows = _json("sharegpt-sample/sg_90k_part1_html_cleaned_lang_first_sampled.json")
    out = []
    for r in rows:
        turn = r["conversations"][0]
        if turn["from"] == "human" and turn["value"].strip():
            out.append(turn["value"])
    return out


def arena_hard() -> list[str]:
    """Chatbot Arena user prompts (arena-hard v0.1 and v2.0)."""
    rows = _jsonl("arena-hard/arena-hard-v0.1/question.jsonl")
    rows += _jsonl("arena-hard/arena-hard-v2.0/question.jsonl")
    return [r["prompt"] for r in rows if r.get("prompt")]


def arena_hard_labelled() -> list[tuple[str, str]]:
    """(prompt, subcategory) from arena-hard v2.0: coding, math, creative_writing."""
    rows = _jsonl("arena-hard/arena-hard-v2.0/question.jsonl")
    return [(r["prompt"], r["subcategory"]) for r in rows]


def hh_first_turns() -> list[str]:
    """First human turn of each hh-rlhf harmless-base test transcript."""
    out = []
    for r in _jsonl("hh-rlhf/harmless-base/test.jsonl.gz"):
        text = r["chosen"]
        start = text.find("Human:")
        if start < 0:
            continue
        end = text.find("\n\nAssistant:", start)
        turn = text[start + 6 : end if end > 0 else None].strip()
        if turn:
            out.append(turn)
    return out


def alpaca_eval() -> list[tuple[str, str]]:
    """(instruction, dataset) from AlpacaEval."""
    return [(r["instruction"], r["dataset"]) for r in _json("alpaca-eval/model_outputs.json")]


def mt_bench() -> list[tuple[str, str]]:
    """(first turn, category) of MT-bench."""
    return [(r["turns"][0], r["category"]) for r in _jsonl("mt-bench/question.jsonl")]


def mt_bench_all_turns() -> list[str]:
    """Both user turns of every MT-bench question."""
    return [t for r in _jsonl("mt-bench/question.jsonl") for t in r["turns"]]


def wizardlm() -> list[tuple[str, str]]:
    """(instruction, skill) of the WizardLM test set."""
    return [
        (r["Instruction"], r["Skill"]) for r in _jsonl("wizardlm-testset/WizardLM_testset.jsonl")
    ]


def openorca() -> list[tuple[str, str]]:
    """(system, user) pairs of the OpenOrca DPO sample."""
    out = []
    for r in _jsonl("openorca-dpo-sample/validation.jsonl"):
        msgs = r["input"]["messages"]
        system = next((m["content"] for m in msgs if m["role"] == "system"), "")
        user = next((m["content"] for m in msgs if m["role"] == "user"), "")
        out.append((system, user))
    return out


def gsm8k() -> list[str]:
    """GSM8K test questions."""
    return [r["question"] for r in _jsonl("gsm8k/test.jsonl")]


def gsm8k_train() -> list[str]:
    """GSM8K train questions."""
    return [r["question"] for r in _jsonl("gsm8k/train.jsonl")]


def math_problems() -> list[str]:
    """MATH test problems."""
    return [r["problem"] for r in _jsonl("math/test.jsonl")]


def code_alpaca() -> list[str]:
    """Code Alpaca instructions (with input appended when present)."""
    out = []
    for r in _json("code-alpaca/code_alpaca_2k.json"):
        text = r["instruction"]
        if r.get("input"):
            text += "\n" + r["input"]
        out.append(text)
    return out


def gpteacher(kind: str) -> list[str]:
    """GPTeacher instructions; ``kind`` is ``codegen``, ``roleplay`` or ``toolformer``."""
    name = {
        "codegen": "gpteacher/codegen-instruct.json",
        "roleplay": "gpteacher/roleplay-simple-deduped-roleplay-instruct.json",
        "toolformer": "gpteacher/toolformer-similarity-0.6-dataset.json",
    }[kind]
    out = []
    for r in _json(name):
        text = r["instruction"]
        if r.get("input"):
            text += "\n" + r["input"]
        out.append(text)
    return out


def real_user_prompts() -> dict[str, list[str]]:
    """The real (human or benchmark-author) user prompts used as negatives, by source."""
    return {
        "sharegpt": sharegpt(),
        "arena-hard": arena_hard(),
        "hh-rlhf": hh_first_turns(),
        "alpaca-eval": [t for t, _ in alpaca_eval()],
        "mt-bench": mt_bench_all_turns(),
        "wizardlm": [t for t, _ in wizardlm()],
    }
