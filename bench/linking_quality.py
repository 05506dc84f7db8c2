"""Cluster quality against simulator ground truth: campaign coverage and benign exposure.

Two ways in:

* ``--audit DIR LABELS``: read an audit's ``accounts.csv`` (``cluster_id`` per account)
  and ``alerts.jsonl`` (one ``DistillationCampaignSuspected`` alert per flagged cluster);
* ``--logs FILE``: ingest the log export, aggregate and link here (labels are read from
  the ``.labels.csv`` next to it).

Prints, per campaign and overall, the share of hydra accounts that sit in a flagged
cluster whose purity (share of members from the account's own campaign) is at least 0.9,
and the share of benign accounts that sit in flagged clusters (targets: >= 90 % and
<= 0.5 %).

Run: ``.venv/bin/python bench/linking_quality.py --logs sample_logs/litellm-2d.jsonl.gz``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import pandas as pd

PURITY = 0.9


def measure(
    clusters: dict[str, list[str]], flagged: set[str], labels: pd.DataFrame
) -> dict[str, object]:
    """Coverage and exposure figures.

    Parameters
    ----------
    clusters : dict
        cluster id -> member account ids.
    flagged : set of str
        Ids of the flagged clusters (action block, throttle or review).
    labels : pandas.DataFrame
        Ground truth indexed by ``account_id`` with ``label``, ``kind``, ``campaign_id``.

    Returns
    -------
    dict
        ``hydra``, ``hydra_covered``, ``coverage``, ``benign``, ``benign_flagged``,
        ``exposure``, ``per_campaign`` (campaign -> (covered, members)).
    """
    campaign = labels["campaign_id"].fillna("").astype(str).to_dict()
    kind = labels["kind"].astype(str).to_dict()

    def tag(account: str) -> str:
        return campaign.get(account) or kind.get(account, "?")

    cluster_of = {m: cid for cid, members in clusters.items() for m in members}
    hydra = [a for a in labels.index if kind[a] == "hydra"]
    covered: Counter[str] = Counter()
    for a in hydra:
        cid = cluster_of.get(a)
        if cid is None or cid not in flagged:
            continue
        members = clusters[cid]
        same = sum(1 for m in members if tag(m) == campaign[a])
        covered[campaign[a]] += same / len(members) >= PURITY
    benign = [a for a in labels.index if labels.loc[a, "label"] == "benign"]
    exposed = [a for a in benign if cluster_of.get(a) in flagged]
    sizes = Counter(campaign[a] for a in hydra)
    return {
        "hydra": len(hydra),
        "hydra_covered": sum(covered.values()),
        "coverage": sum(covered.values()) / max(len(hydra), 1),
        "benign": len(benign),
        "benign_flagged": len(exposed),
        "exposure": len(exposed) / max(len(benign), 1),
        "per_campaign": {c: (covered[c], n) for c, n in sorted(sizes.items())},
        "flagged_clusters": len(flagged),
        "clusters": len(clusters),
    }


def from_audit(out_dir: Path) -> tuple[dict[str, list[str]], set[str]]:
    """Clusters and flagged cluster ids from an audit output directory."""
    accounts = pd.read_csv(out_dir / "accounts.csv", keep_default_na=False, dtype=str)
    clusters: dict[str, list[str]] = {}
    for account, cid in zip(accounts["account_id"], accounts["cluster_id"], strict=True):
        if cid:
            clusters.setdefault(cid, []).append(account)
    flagged = set()
    with open(out_dir / "alerts.jsonl", encoding="utf-8") as fh:
        for line in fh:
            labels = json.loads(line)["labels"]
            if labels.get("alertname") == "DistillationCampaignSuspected":
                flagged.add(labels["cluster_id"])
    return clusters, flagged


def from_logs(path: Path) -> tuple[dict[str, list[str]], set[str], dict[str, object]]:
    """Ingest, aggregate and link a log export here."""
    from detector.aggregates import aggregate_events, merge_into
    from detector.ingest import iter_event_chunks
    from detector.linking import link_accounts

    t = time.perf_counter()
    states: dict = {}
    for chunk in iter_event_chunks([str(path)]):
        if chunk.events:
            merge_into(states, aggregate_events(chunk.events))
    aggregate_s = time.perf_counter() - t
    t = time.perf_counter()
    result = link_accounts(states)
    stats = {**result.stats, "aggregate_s": aggregate_s, "link_s": time.perf_counter() - t}
    clusters = {c.cluster_id: list(c.members) for c in result.clusters}
    flagged = {c.cluster_id for c in result.flagged()}
    return clusters, flagged, stats


def labels_for(path: Path) -> Path:
    """``x/litellm-2d.jsonl.gz`` -> ``x/litellm-2d.labels.csv``."""
    name = path.name
    for ext in (".gz", ".jsonl", ".ndjson", ".json", ".csv", ".parquet"):
        name = name.removesuffix(ext)
    return path.with_name(name + ".labels.csv")


def main(argv: list[str] | None = None) -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--logs", type=Path, help="log export with a .labels.csv next to it")
    group.add_argument("--audit", type=Path, help="audit output directory")
    parser.add_argument("--labels", type=Path, help="ground truth (default: next to --logs)")
    args = parser.parse_args(argv)
    stats: dict[str, object] = {}
    if args.logs is not None:
        clusters, flagged, stats = from_logs(args.logs)
        labels_path = args.labels or labels_for(args.logs)
    else:
        if args.labels is None:
            parser.error("--audit needs --labels")
        clusters, flagged = from_audit(args.audit)
        labels_path = args.labels
    labels = pd.read_csv(labels_path, keep_default_na=False).set_index("account_id")
    m = measure(clusters, flagged, labels)
    for cid, (ok, n) in m["per_campaign"].items():  # type: ignore[union-attr]
        print(f"  {cid}: {ok}/{n} accounts in pure flagged clusters")
    print(
        f"hydra accounts in pure (>= {PURITY}) flagged clusters: {m['hydra_covered']}/"
        f"{m['hydra']} = {m['coverage']:.1%} (target >= 90%); benign accounts in flagged "
        f"clusters: {m['benign_flagged']}/{m['benign']} = {m['exposure']:.2%} (target <= 0.5%); "
        f"{m['flagged_clusters']} flagged of {m['clusters']} clusters"
    )
    if stats:
        keys = ("accounts", "candidate_pairs", "edges", "aggregate_s", "link_s")
        print("  " + ", ".join(f"{k} {stats[k]:.4g}" for k in keys if k in stats))  # type: ignore[str-format]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
