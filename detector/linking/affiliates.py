"""Affiliates: unlinked accounts tied to a flagged campaign by its defining template alone.

A cluster becomes a cluster only when two kinds of evidence agree (content and timing,
content and infrastructure...). That guard keeps the users of one popular app template
apart, but it also leaves out a campaign's *slow members and late joiners*: an account
that sent the campaign's exact prompt frame once or twice, on another day than the
cohort's onset, from its own residential IP. Once the campaign itself is established,
its template is evidence of membership: the account runs the campaign's job.

A template *defines* a flagged cluster when at least ``affiliate_core_share`` of its
members send it as most of their traffic (``affiliate_share``). An account outside every
cluster whose traffic is mostly that template is an affiliate, unless the template is
popular beyond the campaign: more such outside holders than ``affiliate_max_ratio``
times the cluster's size means an app or SDK frame the campaign merely shares, and it
affiliates no one. Affiliates get a fraction of the cluster's risk and at most a
``review``: content alone never blocks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detector.linking.config import LinkConfig
from detector.linking.evidence import CONTENT_ITEMS
from detector.linking.profiles import Profiles

__all__ = ["affiliates"]


def affiliates(
    prof: Profiles,
    clusters: Sequence[tuple[np.ndarray, bool]],
    cfg: LinkConfig,
) -> list[list[int]]:
    """Affiliate rows of every cluster.

    Parameters
    ----------
    prof : Profiles
        The population's profiles (content token tables).
    clusters : sequence of (numpy.ndarray, bool)
        Member rows of each cluster and whether the cluster is flagged (only flagged
        clusters affiliate).
    cfg : LinkConfig
        ``affiliate_share``, ``affiliate_core_share``, ``affiliate_max_ratio``.

    Returns
    -------
    list of list of int
        Per cluster, the rows of its affiliates (sorted; an account affiliates with at
        most one cluster, the first that claims it).
    """
    out: list[list[int]] = [[] for _ in clusters]
    if not clusters:
        return out
    clustered = np.zeros(prof.size, dtype=bool)
    for rows, _flagged in clusters:
        clustered[rows] = True
    claimed = clustered.copy()
    for family in CONTENT_ITEMS:
        table = prof.tokens.get(family)
        if table is None or table.matrix.shape[1] == 0:
            continue
        heavy = (table.matrix >= cfg.affiliate_share).tocsc()
        # outside holders per token: unclustered accounts sending it as most of their traffic
        outside = np.asarray(heavy[~clustered].sum(axis=0)).ravel()
        for ci, (rows, flagged) in enumerate(clusters):
            if not flagged or rows.size == 0:
                continue
            core = np.asarray(heavy[rows].sum(axis=0)).ravel()
            defining = np.flatnonzero(
                (core >= max(cfg.affiliate_core_share * rows.size, 2.0))
                & (outside > 0)
                & (outside <= cfg.affiliate_max_ratio * rows.size)
            )
            for col in defining.tolist():
                start, end = heavy.indptr[col], heavy.indptr[col + 1]
                holders = heavy.indices[start:end]
                fresh = holders[~claimed[holders]]
                if fresh.size:
                    claimed[fresh] = True
                    out[ci].extend(int(r) for r in fresh)
    return [sorted(rows) for rows in out]
