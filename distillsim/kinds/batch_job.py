"""``batch_job`` (benign): one template over a dataset at temperature 0 in a nightly window."""

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
from distillsim.text import DOMAIN_POOLS, pick, pick_prompt

KIND = "batch_job"
LABEL = "benign"

_TASKS = (
    ("Summarize the following text in {k} sentences.\n\n{text}", 60.0),
    (
        "Classify the sentiment of this text as positive, negative or neutral. Return JSON "
        '{"label": ...}.\n\n{text}',
        12.0,
    ),
    (
        "Extract all named entities (people, organisations, places) from the text as JSON."
        "\n\n{text}",
        80.0,
    ),
    ("Generate {k} search keywords for this document, comma-separated.\n\n{text}", 25.0),
    ("Rewrite the following product description to be under 50 words.\n\n{text}", 55.0),
    ("Assign one category from [billing, technical, account, other] to this ticket:\n{text}", 4.0),
)


@dataclass(frozen=True, slots=True)
class BatchJobParams:
    """Ranges per account of the ``batch_job`` kind."""

    items_per_night: tuple[int, int]
    window_start: tuple[float, float]
    window_hours: tuple[float, float]
    json_p: float
    run_every_night_p: float
    cv: tuple[float, float]


def draw(rng: np.random.Generator) -> BatchJobParams:
    """Sample the kind's parameter ranges."""
    return BatchJobParams(
        items_per_night=(int(uniform(rng, (30, 80))), int(uniform(rng, (150, 500)))),
        window_start=(uniform(rng, (22.0, 24.0)), uniform(rng, (1.0, 4.0)) + 24.0),
        window_hours=(uniform(rng, (0.5, 1.5)), uniform(rng, (2.0, 5.0))),
        json_p=uniform(rng, (0.3, 0.9)),
        run_every_night_p=uniform(rng, (0.6, 1.0)),
        cv=(uniform(rng, (0.1, 0.3)), uniform(rng, (0.5, 1.2))),
    )


def build(world: World, p: BatchJobParams, n: int, key: int) -> list[Account]:
    """Create ``n`` batch-job accounts."""
    out = []
    for i in range(n):
        acc = new_account(world, KIND, LABEL, (key, i))
        rng = acc.rng
        server_identity(acc, n_ips=(1, 1))
        tmpl, out_med = _TASKS[int(rng.integers(len(_TASKS)))]
        tmpl = tmpl.replace("{k}", str(int(rng.integers(1, 6))))
        rf = "json_object" if ("JSON" in tmpl or rng.random() < p.json_p) else None
        pools = DOMAIN_POOLS[pick(rng, ("general", "instruct"))]
        n_items = int(log_uniform(rng, p.items_per_night))
        w0 = uniform(rng, p.window_start)
        hours = uniform(rng, p.window_hours)
        cv = uniform(rng, p.cv)
        model = pick(rng, ("gpt-4o-mini", "gpt-4.1-mini"))
        for d in range(-1, int(np.ceil(world.days))):
            if rng.random() > p.run_every_night_p:
                continue
            start = world.t0 + d * 86400 + (w0 - acc.tz) * 3600
            ts = renewal_times(rng, start, start + hours * 3600, n_items / hours, cv)
            for t in ts.tolist():
                text = pick_prompt(rng, world.pack, pools)
                request(
                    acc,
                    t,
                    model=model,
                    user=tmpl.replace("{text}", text),
                    out_median=out_med,
                    out_sigma=0.4,
                    temperature=0.0,
                    max_tokens=int(out_med * 4) + 50,
                    response_format=rf,
                )
        out.append(acc)
    return out
