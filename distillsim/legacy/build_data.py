"""Rebuild the simulator's bundled data pack from the shared corpora.

Run from the repository root (the corpora live next to it, in ``../shared/corpora``)::

    .venv/bin/python -m distillsim.legacy.build_data [--corpora ../shared/corpora]

It writes two files into ``distillsim/legacy/data/``:

``prompts.json.gz``
    Prompt pools sampled and truncated from permissively licensed corpora only
    (MIT, Apache-2.0; see ``sample_logs/README.md`` for the per-source credits).
    The CC BY-NC corpora next to them (stanford-alpaca, code-alpaca,
    wizardlm-testset) are never read.
``traces.json``
    Small derived summaries of the public serving traces (quantile tables of
    token lengths and inter-arrival gaps, per-client CV quantiles, diurnal
    profiles); no raw trace rows are copied.

The build is deterministic (fixed sampling seed, sorted inputs, gzip mtime 0), so
re-running it on the same corpora gives the same bytes.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["build", "main"]

DATA_DIR = Path(__file__).resolve().parent / "data"
_SEED = 20261101
# Characters kept per prompt; longer prompts are cut at a word boundary.
_MAX_CHARS = 1000
_CHARS_PER_TOKEN = 4.0
QUANTILE_GRID = np.linspace(0.0, 1.0, 201)

# pool name -> how many rows to keep at most (sampled without replacement)
_POOL_CAPS = {
    "sharegpt": 2400,
    "arena_hard": 1250,
    "alpaca_eval": 805,
    "hh_rlhf": 1200,
    "mt_bench": 80,
    "gsm8k_test": 1319,
    "gsm8k_train": 3500,
    "math": 2500,
    "gpteacher_code": 1400,
    "gpteacher_roleplay": 400,
    "gpteacher_tool": 300,
    "openorca": 284,
    "wizardlm_evol": 61,
}


def _truncate(text: str, limit: int = _MAX_CHARS) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip() + " ..."


def _tokens(text: str) -> int:
    return max(1, round(len(text) / _CHARS_PER_TOKEN))


def _sample(rows: list[Any], cap: int, rng: np.random.Generator) -> list[Any]:
    if len(rows) <= cap:
        return rows
    keep = np.sort(rng.choice(len(rows), size=cap, replace=False))
    return [rows[i] for i in keep]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


_GSM_FINAL = re.compile(r"####\s*(.+)\s*$")


def _boxed(solution: str) -> str:
    start = solution.rfind("\\boxed{")
    if start < 0:
        return ""
    i, depth, out = start + len("\\boxed{"), 1, []
    while i < len(solution) and depth:
        ch = solution[i]
        depth += ch == "{"
        depth -= ch == "}"
        if depth:
            out.append(ch)
        i += 1
    return "".join(out)


def _pools(root: Path, rng: np.random.Generator) -> dict[str, dict[str, list[Any]]]:
    pools: dict[str, dict[str, list[Any]]] = {}

    rows = json.loads(
        (root / "sharegpt-sample/sg_90k_part1_html_cleaned_lang_first_sampled.json").read_text(
            encoding="utf-8"
        )
    )
    texts = sorted(
        {
            c["value"].strip()
            for r in rows
            for c in r["conversations"][:1]
            if c["from"] == "human" and len(c["value"].strip()) >= 8
        }
    )
    texts = _sample(texts, _POOL_CAPS["sharegpt"], rng)
    pools["sharegpt"] = {"text": [_truncate(t) for t in texts]}

    arena: list[str] = []
    for sub in ("arena-hard-v0.1", "arena-hard-v2.0"):
        arena += [r["prompt"] for r in _read_jsonl(root / f"arena-hard/{sub}/question.jsonl")]
    arena = _sample(sorted(set(arena)), _POOL_CAPS["arena_hard"], rng)
    pools["arena_hard"] = {"text": [_truncate(t) for t in arena]}

    rows = json.loads((root / "alpaca-eval/model_outputs.json").read_text(encoding="utf-8"))
    pools["alpaca_eval"] = {
        "text": [_truncate(r["instruction"]) for r in rows],
        "resp_tokens": [_tokens(r["output"]) for r in rows],
        "source": [r["dataset"] for r in rows],
    }

    convs: list[list[str]] = []
    for r in _read_jsonl(root / "hh-rlhf/harmless-base/test.jsonl.gz"):
        turns = re.findall(r"\n\nHuman: (.*?)(?=\n\nAssistant:|$)", r["chosen"], flags=re.S)
        turns = [_truncate(t, 500) for t in turns if t.strip()]
        if turns:
            convs.append(turns[:4])
    convs = _sample(convs, _POOL_CAPS["hh_rlhf"], rng)
    pools["hh_rlhf"] = {"text": [c[0] for c in convs], "followups": [c[1:] for c in convs]}

    rows = _read_jsonl(root / "mt-bench/question.jsonl")
    pools["mt_bench"] = {
        "text": [r["turns"][0] for r in rows],
        "turn2": [r["turns"][1] for r in rows],
        "category": [r["category"] for r in rows],
    }

    for split, cap in (("test", "gsm8k_test"), ("train", "gsm8k_train")):
        rows = _sample(_read_jsonl(root / f"gsm8k/{split}.jsonl"), _POOL_CAPS[cap], rng)
        answers = []
        for r in rows:
            m = _GSM_FINAL.search(r["answer"])
            answers.append(m.group(1).strip().replace(",", "") if m else "")
        pools[cap] = {
            "text": [r["question"].strip() for r in rows],
            "answer": answers,
            "resp_tokens": [_tokens(r["answer"]) for r in rows],
        }

    rows = _sample(_read_jsonl(root / "math/test.jsonl"), _POOL_CAPS["math"], rng)
    pools["math"] = {
        "text": [_truncate(r["problem"]) for r in rows],
        "type": [r["type"] for r in rows],
        "level": [int(r["level"].split()[-1]) if r["level"][-1].isdigit() else 3 for r in rows],
        "answer": [_boxed(r["solution"]) for r in rows],
        "resp_tokens": [_tokens(r["solution"]) for r in rows],
    }

    for name, fname in (
        ("gpteacher_code", "codegen-instruct.json"),
        ("gpteacher_roleplay", "roleplay-simple-deduped-roleplay-instruct.json"),
        ("gpteacher_tool", "toolformer-similarity-0.6-dataset.json"),
    ):
        rows = json.loads((root / "gpteacher" / fname).read_text(encoding="utf-8"))
        rows = _sample(rows, _POOL_CAPS[name], rng)
        texts = []
        for r in rows:
            text = r["instruction"].strip()
            if r.get("input", "").strip():
                text += "\n\n" + r["input"].strip()
            texts.append(_truncate(text))
        pools[name] = {"text": texts, "resp_tokens": [_tokens(r["response"]) for r in rows]}

    rows = _read_jsonl(root / "openorca-dpo-sample/validation.jsonl")
    system = rows[0]["input"]["messages"][0]["content"]
    pools["openorca"] = {
        "text": [_truncate(r["input"]["messages"][-1]["content"]) for r in rows],
        "resp_tokens": [_tokens(r["preferred_output"][0]["content"]) for r in rows],
        "system": [system],
    }

    evol: list[dict[str, str]] = []
    for path in sorted(glob.glob(str(root / "h2o-wizardlm-evol/*.json"))):
        evol += json.loads(Path(path).read_text(encoding="utf-8"))
    pools["wizardlm_evol"] = {
        "text": [_truncate(r["input"]) for r in evol],
        "resp_tokens": [_tokens(r["output"]) for r in evol],
    }
    return pools


def _q(values: np.ndarray, digits: int = 3) -> list[float]:
    return [round(float(v), digits) for v in np.quantile(values, QUANTILE_GRID)]


def _traces(root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"grid": [round(float(p), 4) for p in QUANTILE_GRID], "quantiles": {}}
    qs = out["quantiles"]
    for svc in ("code", "conv"):
        df = pd.read_csv(root / f"azure-llm-trace-2023/AzureLLMInferenceTrace_{svc}.csv")
        qs[f"azure_{svc}_context"] = _q(df["ContextTokens"].to_numpy(float), 1)
        qs[f"azure_{svc}_generated"] = _q(df["GeneratedTokens"].to_numpy(float), 1)
        t = np.sort(pd.to_datetime(df["TIMESTAMP"]).astype("int64").to_numpy() / 1e9)
        gaps = np.diff(t)
        qs[f"azure_{svc}_gap_norm"] = _q(gaps / gaps.mean(), 5)
    moon = pd.read_json(root / "mooncake/conversation_trace.jsonl", lines=True)
    qs["mooncake_input"] = _q(moon["input_length"].to_numpy(float), 1)
    qs["mooncake_output"] = _q(moon["output_length"].to_numpy(float), 1)

    profiles: list[list[float]] = []
    client_cv: list[float] = []
    window_cv: list[float] = []
    client_rate: list[float] = []
    total = np.zeros(144)
    for sub, days in (("language/m-small", 14), ("reason/deepseek-r1", 1)):
        files = sorted(
            glob.glob(str(root / f"servegen/{sub}/chunk-*-trace.csv")),
            key=lambda p: int(Path(p).name.split("-")[1]),
        )
        for path in files:
            d = pd.read_csv(path, header=None, names=["w", "rate", "cv", "pat", "p1", "p2"])
            active = d[d["pat"].notna()]
            if len(active):
                client_cv.append(float(active["cv"].median()))
                window_cv += list(active["cv"].to_numpy(float))
            client_rate.append(float(d["rate"].mean()))
            if days == 14:
                rate = d["rate"].to_numpy(float).reshape(days, 144).mean(axis=0)
                total += rate
                if rate.sum() > 0 and (rate > 0).mean() > 0.5:
                    prof = rate / rate.mean()
                    profiles.append([round(float(v), 3) for v in prof])
    qs["servegen_client_cv"] = _q(np.asarray(client_cv), 3)
    qs["servegen_window_cv"] = _q(np.asarray(window_cv), 3)
    qs["servegen_client_rate"] = _q(np.asarray(client_rate), 5)
    out["diurnal_total"] = [round(float(v), 4) for v in total / total.mean()]
    out["diurnal_clients"] = profiles
    return out


def build(corpora: Path, out_dir: Path = DATA_DIR) -> dict[str, int]:
    """Build ``prompts.json.gz`` and ``traces.json`` from the shared corpora.

    Parameters
    ----------
    corpora : Path
        Directory holding the corpora (``../shared/corpora``).
    out_dir : Path
        Destination directory (the package's ``data`` folder by default).

    Returns
    -------
    dict
        Sizes in bytes of the files written.
    """
    rng = np.random.default_rng(_SEED)
    out_dir.mkdir(parents=True, exist_ok=True)
    pools = _pools(corpora, rng)
    payload = json.dumps({"version": 1, "pools": pools}, ensure_ascii=False, sort_keys=True)
    prompts = out_dir / "prompts.json.gz"
    with (
        open(prompts, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz,
    ):
        gz.write(payload.encode("utf-8"))
    traces = out_dir / "traces.json"
    traces.write_text(json.dumps(_traces(corpora), sort_keys=True) + "\n", encoding="utf-8")
    return {prompts.name: prompts.stat().st_size, traces.name: traces.stat().st_size}


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (``python -m distillsim.legacy.build_data``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[3] / "shared" / "corpora"
    parser.add_argument("--corpora", type=Path, default=default)
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    for name, size in build(args.corpora, args.out).items():
        print(f"{name}: {size:,} bytes")


if __name__ == "__main__":
    main()
