"""``translation_service`` (benign): one translate template, output about input length, 24/7."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillsim.core import (
    Account,
    World,
    log_uniform,
    new_account,
    renewal_times,
    request,
    uniform,
)
from distillsim.kinds._common import server_identity
from distillsim.text import GENERAL_POOLS, pick, pick_prompt

KIND = "translation_service"
LABEL = "benign"

_LANGS = ("French", "German", "Spanish", "Japanese", "Portuguese", "Korean", "Italian", "Dutch")
_TMPL = (
    "Translate the following to {lang}:\n\n{text}",
    "Translate the text below into {lang}. Keep formatting and placeholders.\n\n{text}",
    "{lang} translation of:\n{text}",
)


@dataclass(frozen=True, slots=True)
class TranslationServiceParams:
    """Ranges per account of the ``translation_service`` kind."""

    per_hour: tuple[float, float]
    cv: tuple[float, float]
    temperature: tuple[float, float]
    ratio: tuple[float, float]
    langs: tuple[int, int]


def draw(rng: np.random.Generator) -> TranslationServiceParams:
    """Sample the kind's parameter ranges."""
    return TranslationServiceParams(
        per_hour=(uniform(rng, (0.5, 2.0)), uniform(rng, (4.0, 10.0))),
        cv=(uniform(rng, (0.5, 0.9)), uniform(rng, (1.0, 1.8))),
        temperature=(0.0, uniform(rng, (0.1, 0.3))),
        ratio=(uniform(rng, (0.8, 1.0)), uniform(rng, (1.1, 1.5))),
        langs=(1, int(rng.integers(2, 6))),
    )


def build(world: World, p: TranslationServiceParams, n: int, key: int) -> list[Account]:
    """Create ``n`` translation-service accounts."""
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        rng = acc.rng
        server_identity(acc)
        tmpl = pick(rng, _TMPL)
        k = int(rng.integers(p.langs[0], p.langs[1] + 1))
        langs = [str(x) for x in rng.choice(_LANGS, size=k, replace=False)]
        temp = uniform(rng, p.temperature)
        ratio = uniform(rng, p.ratio)
        model = pick(rng, ("gpt-4o-mini", "gpt-4.1-mini", "gpt-4o"))
        ts = renewal_times(
            rng, world.t0, world.t1, log_uniform(rng, p.per_hour), uniform(rng, p.cv)
        )
        for t in ts.tolist():
            text = pick_prompt(rng, world.pack, GENERAL_POOLS)
            user = tmpl.replace("{lang}", pick(rng, langs)).replace("{text}", text)
            med = max(4.0, len(text) / 4.0 * ratio)
            request(
                acc,
                t,
                model=model,
                user=user,
                out_median=med,
                out_sigma=0.15,
                temperature=temp,
                max_tokens=4096 if rng.random() < 0.5 else None,
            )
        out.append(acc)
    return out
