"""``link_accounts``: states in, scored clusters out (blocking -> evidence -> graph -> scoring)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from detector.aggregates import AccountState
from detector.linking.affiliates import affiliates
from detector.linking.blocking import candidate_pairs
from detector.linking.communities import communities
from detector.linking.config import LinkConfig
from detector.linking.evidence import keep_edges, score_pairs
from detector.linking.graph import LinkGraph
from detector.linking.profiles import build_profiles
from detector.linking.result import Cluster, LinkResult, summarize_evidence
from detector.linking.scoring import HARVEST_SIGNALS, harvest_scores, score_cluster
from detector.vocabulary import ACTION_RANK

__all__ = ["cluster_id", "link_accounts"]

_ACTION_RANK = ACTION_RANK
_SIGNAL_TEXT = {
    "mean_completion_tokens": ("mean output", "{:,.0f} tokens"),
    "reasoning_token_share": ("reasoning token share", "{:.2f}"),
    "finish_length_share": ("length-cut share", "{:.2f}"),
    "max_tokens_large_share": ("max_tokens >= 4000 share", "{:.2f}"),
    "top_logprobs_ge5_share": ("top_logprobs >= 5 share", "{:.2f}"),
    "multi_choice_share": ("n > 1 share", "{:.2f}"),
    "logit_bias_share": ("logit_bias share", "{:.2f}"),
    "max_tokens_tiny_share": ("tiny max_tokens share", "{:.2f}"),
}


def cluster_id(members: list[str]) -> str:
    """Stable id of a cluster: ``c-`` + 10 hex digits of SHA-1 over the sorted member ids."""
    digest = hashlib.sha1("\n".join(sorted(members)).encode(), usedforsecurity=False)
    return "c-" + digest.hexdigest()[:10]


def _headline(features: Mapping[str, float]) -> str:
    parts = [f"cluster CoT share {features['cot_share']:.2f}"]
    best, best_v = None, 0.0
    for name, (_num, _den, lo, hi, weight) in HARVEST_SIGNALS.items():
        if name == "cot_share" or name not in _SIGNAL_TEXT:
            continue
        v = weight * float(np.clip((features[name] - lo) / (hi - lo), 0.0, 1.0))
        if v > best_v:
            best, best_v = name, v
    if best is not None:
        label, fmt = _SIGNAL_TEXT[best]
        parts.append(f"{label} {fmt.format(features[best])}")
    return ", ".join(parts)


def link_accounts(
    states: Mapping[str, AccountState],
    features: Any = None,
    config: LinkConfig | None = None,
) -> LinkResult:
    """Link accounts into coordinated clusters and score every cluster.

    Parameters
    ----------
    states : mapping
        Account id -> merged :class:`~detector.aggregates.AccountState` (the window).
    features : pandas.DataFrame, optional
        The per-account feature frame (accepted for the audit's call signature; linking
        reads the additive counters of the states directly, so batch and streaming agree).
    config : LinkConfig, optional
        Thresholds.

    Returns
    -------
    LinkResult
        Clusters (riskiest first) with members, evidence-carrying edges, features, risk,
        action and a member reason; ``account_verdicts()`` feeds fusion and ``alerts()``
        gives one alert per flagged cluster.
    """
    del features  # the counters in the states carry what scoring needs
    cfg = config or LinkConfig()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    prof = build_profiles(
        states, min_token_share=cfg.min_token_share, max_exact_items=cfg.max_exact_items
    )
    timings["profiles_s"] = time.perf_counter() - t0

    t = time.perf_counter()
    pairs = candidate_pairs(prof, cfg)
    timings["blocking_s"] = time.perf_counter() - t

    t = time.perf_counter()
    evidence = keep_edges(score_pairs(prof, pairs, cfg), cfg)
    timings["evidence_s"] = time.perf_counter() - t

    t = time.perf_counter()
    graph = LinkGraph(prof.size, evidence.a, evidence.b, evidence.weight)
    labels = communities(
        graph,
        split_min_size=cfg.split_min_size,
        iterations=cfg.lpa_iterations,
        min_modularity=cfg.min_modularity,
    )
    timings["communities_s"] = time.perf_counter() - t

    t = time.perf_counter()
    sizes = np.bincount(labels, minlength=prof.size)
    keep = np.flatnonzero(sizes >= cfg.min_cluster_size)
    clusters: list[Cluster] = []
    member_rows: list[tuple[np.ndarray, Any]] = []
    if keep.size:
        counts = np.stack([states[a].counts for a in prof.accounts])
        member_harvest = harvest_scores(counts)
        edge_label = np.where(labels[evidence.a] == labels[evidence.b], labels[evidence.a], -1)
        edge_order = np.argsort(edge_label, kind="stable")
        edge_sorted = edge_label[edge_order]
        node_order = np.argsort(labels, kind="stable")
        node_sorted = labels[node_order]
        for lab in keep:
            lo, hi = np.searchsorted(node_sorted, [lab, lab + 1])
            rows = np.sort(node_order[lo:hi])
            members = [str(prof.accounts[r]) for r in rows]
            lo, hi = np.searchsorted(edge_sorted, [lab, lab + 1])
            eidx = np.sort(edge_order[lo:hi])
            score = score_cluster(
                members,
                states,
                member_harvest[rows],
                evidence.kinds[eidx],
                evidence.weight[eidx],
                cfg,
            )
            lines, short = summarize_evidence(evidence, eidx)
            cid = cluster_id(members)
            reason = (
                f"member of cluster {cid} ({len(members)} accounts"
                + (f" sharing {short}" if short else "")
                + f"); {_headline(score.features)}; cluster action {score.action}"
            )
            clusters.append(
                Cluster(
                    cluster_id=cid,
                    members=members,
                    risk=score.risk,
                    action=score.action,
                    reason=reason,
                    evidence=lines,
                    features=score.features,
                    first_ts=float(np.nanmin(prof.first_ts[rows])),
                    last_ts=float(np.nanmax(prof.last_ts[rows])),
                    _edge_source=evidence,
                    _edge_index=eidx,
                    _accounts=prof.accounts,
                )
            )
            member_rows.append((rows, clusters[-1]))
        claims = affiliates(prof, [(r, c.action != "allow") for r, c in member_rows], cfg)
        for (_rows, c), extra in zip(member_rows, claims, strict=True):
            if extra:
                c.affiliates = [str(prof.accounts[r]) for r in extra]
                c.affiliate_risk = round(c.risk * cfg.affiliate_risk, 4)
                c.affiliate_action = "review" if c.action != "allow" else "allow"
    clusters.sort(key=lambda c: (-_ACTION_RANK.get(c.action, 0), -c.risk, -c.size, c.cluster_id))
    timings["scoring_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t0
    stats = {
        "accounts": prof.size,
        "candidate_pairs": int(pairs.shape[0]),
        "edges": len(evidence),
        "linked_accounts": int(np.unique(np.concatenate([evidence.a, evidence.b])).size),
        "clusters": len(clusters),
        "flagged_clusters": sum(c.action != "allow" for c in clusters),
        **{k: round(v, 4) for k, v in timings.items()},
    }
    return LinkResult(clusters, stats)
