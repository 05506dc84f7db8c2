"""Benchmark: account linking time for 10k and 100k synthetic accounts.

Builds synthetic :class:`~detector.aggregates.AccountState` populations (independent
accounts with residential / cloud prefixes, SDK user agents, their own templates and a
shared default system prompt; corporate NATs; SaaS back ends; 5 % of accounts in hydra
campaigns of 20-200), then times :func:`detector.linking.link_accounts` and, as a
baseline in the same run, a pandas group-by over the same blocking tokens (what building
the inverted index alone costs). Prints both, their ratio, the growth from 10k to 100k
(10.0 is linear) and the campaign coverage / benign-in-flagged figures.

Run: ``.venv/bin/python bench/linking.py [--sizes 10000 100000] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import pandas as pd

from detector.aggregates import AccountState
from detector.linking import LinkResult, link_accounts
from detector.linking.synthetic import build_states, synthetic_population


def token_groupby(states: dict[str, AccountState]) -> float:
    """Seconds for the baseline: one pandas group-by over every account's tokens.

    Parameters
    ----------
    states : dict
        The population.

    Returns
    -------
    float
        Wall time of reading the heavy-hitter tokens and counting accounts per token.
    """
    t = time.perf_counter()
    rows = [
        (account, family, key)
        for account, st in states.items()
        for family in ("ip_prefix", "user_agent", "skeleton", "system")
        for key in st.tops[family].counts
    ]
    frame = pd.DataFrame(rows, columns=["account", "family", "token"])
    frame["token"] = frame["token"].astype(str)
    df = frame.groupby(["family", "token"], sort=False)["account"].size()
    _ = frame.merge(df.rename("df").reset_index(), on=["family", "token"])
    return time.perf_counter() - t


def quality(result: LinkResult, truth: dict[str, str]) -> tuple[float, float]:
    """Share of campaign accounts in pure (>= 0.9) flagged clusters; benign in flagged."""
    campaign = [a for a, v in truth.items() if v.startswith("hydra")]
    good = 0
    for a in campaign:
        c = result.cluster_of(a)
        if c is not None and c.action != "allow":
            label, count = Counter(truth[m] for m in c.members).most_common(1)[0]
            good += label == truth[a] and count / c.size >= 0.9
    benign = [a for a, v in truth.items() if not v.startswith("hydra")]
    bad = sum(1 for a in benign if (c := result.cluster_of(a)) and c.action != "allow")
    return good / max(len(campaign), 1), bad / max(len(benign), 1)


def run(n: int, seed: int) -> dict[str, float]:
    """Build one population of ``n`` accounts and time linking and the baseline."""
    t = time.perf_counter()
    specs, truth = synthetic_population(n, seed=seed)
    states = build_states(specs)
    build_s = time.perf_counter() - t
    del specs
    baseline_s = token_groupby(states)
    t = time.perf_counter()
    result = link_accounts(states)
    link_s = time.perf_counter() - t
    coverage, benign = quality(result, truth)
    return {
        "accounts": n,
        "build_s": build_s,
        "baseline_s": baseline_s,
        "link_s": link_s,
        "candidate_pairs": result.stats["candidate_pairs"],
        "edges": result.stats["edges"],
        "clusters": result.stats["clusters"],
        "flagged": result.stats["flagged_clusters"],
        "coverage": coverage,
        "benign_flagged": benign,
        **{k: v for k, v in result.stats.items() if k.endswith("_s") and k != "total_s"},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rows = []
    for n in args.sizes:
        row = run(n, args.seed)
        rows.append(row)
        print(
            f"{n:>7} accounts: link {row['link_s']:6.2f} s "
            f"(profiles {row['profiles_s']:.2f}, blocking {row['blocking_s']:.2f}, "
            f"evidence {row['evidence_s']:.2f}, communities {row['communities_s']:.2f}, "
            f"scoring {row['scoring_s']:.2f}) | baseline group-by {row['baseline_s']:.2f} s | "
            f"ratio {row['link_s'] / max(row['baseline_s'], 1e-9):.1f}x | "
            f"{row['candidate_pairs']:,} candidate pairs, {row['edges']:,} edges, "
            f"{row['flagged']}/{row['clusters']} clusters flagged | campaign accounts in "
            f"pure flagged clusters {row['coverage']:.1%}, benign in flagged "
            f"{row['benign_flagged']:.2%} | (population build {row['build_s']:.1f} s)",
            flush=True,
        )
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        size_ratio = b["accounts"] / a["accounts"]
        print(
            f"growth {a['accounts']:,} -> {b['accounts']:,} accounts (x{size_ratio:.0f}): "
            f"linking x{b['link_s'] / a['link_s']:.1f}, baseline "
            f"x{b['baseline_s'] / a['baseline_s']:.1f}, candidate pairs "
            f"x{b['candidate_pairs'] / max(a['candidate_pairs'], 1):.1f} "
            f"(x{size_ratio:.0f} is linear)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
