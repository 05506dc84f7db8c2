"""``eval_harness`` (benign): bounded benchmark runs over a fixed item set, in bursts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillsim import netid
from distillsim.core import Account, World, log_uniform, new_account, request, uniform
from distillsim.kinds._common import server_identity
from distillsim.legacy.corpora import mcq_prompt
from distillsim.text import pick

KIND = "eval_harness"
LABEL = "benign"

_UAS = ("lm-eval-harness/0.4.{v}", "openai-evals/1.{v}.0", "OpenAI/Python 1.{v}.0", "helm/0.5.{v}")
_COT = (
    "Let's think step by step.",
    "Solve the problem step by step and put the final answer after '####'.",
    "Think step by step, then give the answer in \\boxed{}.",
    "Reason step by step. At the end write 'The answer is N'.",
)
_BENCH = ("gsm8k_test", "math", "mcq")


@dataclass(frozen=True, slots=True)
class EvalHarnessParams:
    """Ranges per account of the ``eval_harness`` kind."""

    items: tuple[int, int]
    runs: tuple[int, int]
    rate_per_min: tuple[float, float]
    max_tokens: tuple[int, int]
    logprob_mcq_p: float
    rerun_other_model_p: float
    campus_p: float
    fewshot_p: float
    out_median: tuple[float, float]


def draw(rng: np.random.Generator) -> EvalHarnessParams:
    """Sample the kind's parameter ranges."""
    return EvalHarnessParams(
        items=(int(uniform(rng, (100, 200))), int(uniform(rng, (500, 1500)))),
        runs=(1, int(rng.integers(1, 3))),
        rate_per_min=(uniform(rng, (5.0, 20.0)), uniform(rng, (40.0, 300.0))),
        max_tokens=(int(uniform(rng, (256, 512))), int(uniform(rng, (1024, 2048)))),
        logprob_mcq_p=uniform(rng, (0.2, 0.6)),
        rerun_other_model_p=uniform(rng, (0.3, 0.8)),
        campus_p=uniform(rng, (0.2, 0.6)),
        fewshot_p=uniform(rng, (0.1, 0.5)),
        out_median=(uniform(rng, (120.0, 200.0)), uniform(rng, (250.0, 450.0))),
    )


_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1", "o3-mini")


def build(world: World, p: EvalHarnessParams, n: int, key: int) -> list[Account]:
    """Create ``n`` eval-harness accounts."""
    pack = world.pack
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        rng = acc.rng
        ua = pick(rng, _UAS).replace("{v}", str(int(rng.integers(1, 9))))
        server_identity(acc, ua=ua, n_ips=(1, 1))
        if rng.random() < p.campus_p:
            acc.ips = [netid.residential_ip(rng, acc.tz, campus=True)]
        bench = pick(rng, _BENCH)
        pool = pack.by_name("gsm8k_test" if bench == "mcq" else bench)
        n_items = min(int(log_uniform(rng, p.items)), len(pool))
        items = rng.choice(len(pool), size=n_items, replace=False)
        cot = pick(rng, _COT)
        fewshot = rng.random() < p.fewshot_p
        max_tok = int(uniform(rng, p.max_tokens))
        use_lp = bench == "mcq" and rng.random() < p.logprob_mcq_p
        n_runs = int(rng.integers(p.runs[0], p.runs[1] + 1))
        model = pick(rng, _MODELS)
        out_med = uniform(rng, p.out_median)
        answers = pack.by_name("gsm8k_test").extra["answer"]
        for r in range(n_runs):
            day = int(rng.integers(0, max(int(world.days), 1)))
            start = world.t0 + day * 86400 + (uniform(rng, (8.0, 20.0)) - acc.tz) % 24 * 3600
            if r > 0 and rng.random() < p.rerun_other_model_p:
                model = pick(rng, _MODELS)
            rate = log_uniform(rng, p.rate_per_min) / 60.0
            ts = start + np.cumsum(rng.exponential(1.0 / rate, size=n_items))
            for t, it in zip(ts.tolist(), items.tolist(), strict=True):
                q = pool.texts[it]
                if bench == "mcq":
                    ans = int(answers[it])
                    opts = [str(ans), str(ans + 1 + it % 5), str(abs(ans - 2)), str(ans * 2 + 3)]
                    rot = it % 4
                    user = mcq_prompt(q, opts[rot:] + opts[:rot])
                    if use_lp:
                        request(
                            acc,
                            t,
                            model=model,
                            user=user,
                            out_median=1.0,
                            out_sigma=0.0,
                            temperature=0.0,
                            max_tokens=1,
                            logprobs=True,
                            top_logprobs=5,
                        )
                        continue
                else:
                    user = (
                        f"Question: {q}\n{cot}"
                        if not fewshot
                        else (f"Answer the following question. {cot}\n\nQuestion: {q}\nAnswer:")
                    )
                request(
                    acc,
                    t,
                    model=model,
                    user=user,
                    out_median=out_med,
                    temperature=0.0,
                    max_tokens=max_tok,
                    seed=rng.random() < 0.3,
                )
        out.append(acc)
    return out
