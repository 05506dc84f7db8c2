"""Communities of the link graph: components, split by label propagation when modular.

Connected components over the evidence-backed edges are the first cut. A component
large enough to hide several campaigns (or a campaign plus a few accounts bridged to it
by chance) is split by weighted label propagation; the split is kept only when the
resulting partition is clearly modular, so a campaign that is one dense block stays one
cluster. Every step is deterministic: labels are node rows (accounts sorted by id),
ties go to the current then the smallest label, and nodes update in two fixed halves
(semi-synchronous propagation, which does not oscillate the way fully synchronous
updates do on bipartite-like structures).
"""

from __future__ import annotations

import numpy as np

from detector.linking.graph import LinkGraph
from detector.sketches import hash_ints

__all__ = ["communities", "label_propagation", "modularity"]


def modularity(src: np.ndarray, dst: np.ndarray, w: np.ndarray, labels: np.ndarray) -> float:
    """Newman modularity of a partition of an undirected weighted graph.

    Parameters
    ----------
    src, dst, w : numpy.ndarray
        Each undirected edge once.
    labels : numpy.ndarray
        Community label per node.

    Returns
    -------
    float
        ``sum_c (W_c / W - (D_c / 2W) ** 2)``; 0 for a single community.
    """
    total = float(w.sum())
    if total <= 0:
        return 0.0
    _, lab = np.unique(labels, return_inverse=True)
    inside = lab[src] == lab[dst]
    w_in = np.bincount(lab[src][inside], weights=w[inside], minlength=lab.max() + 1)
    deg = np.bincount(lab[src], weights=w, minlength=lab.max() + 1)
    deg += np.bincount(lab[dst], weights=w, minlength=lab.max() + 1)
    return float((w_in / total - (deg / (2.0 * total)) ** 2).sum())


def label_propagation(
    n: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray, iterations: int = 30
) -> np.ndarray:
    """Weighted semi-synchronous label propagation.

    Parameters
    ----------
    n : int
        Nodes ``0..n-1``.
    src, dst, w : numpy.ndarray
        Each undirected edge once.
    iterations : int
        Most sweeps (one sweep updates both halves once).

    Returns
    -------
    numpy.ndarray
        int64 label per node (the smallest node of its community after relabelling).
    """
    labels = np.arange(n, dtype=np.int64)
    if n == 0 or src.size == 0:
        return labels
    s = np.concatenate([src, dst]).astype(np.int64)
    d = np.concatenate([dst, src]).astype(np.int64)
    ww = np.concatenate([w, w]).astype(np.float64)
    half = (hash_ints(np.arange(n, dtype=np.uint64), seed=7) & np.uint64(1)).astype(bool)
    stable = 0
    for step in range(2 * iterations):
        movers = half if step % 2 == 0 else ~half
        sel = movers[s]
        if not sel.any():
            continue
        src_m, lab_m, w_m = s[sel], labels[d[sel]], ww[sel]
        key = src_m * np.int64(n) + lab_m
        uniq, inv = np.unique(key, return_inverse=True)
        score = np.bincount(inv, weights=w_m)
        k_src = uniq // n
        k_lab = uniq % n
        # tie-break: keep the current label, else the smallest label
        score = score + 1e-9 * (k_lab == labels[k_src])
        order = np.lexsort((k_lab, -score, k_src))
        k_sorted = k_src[order]
        firsts = np.r_[True, k_sorted[1:] != k_sorted[:-1]]
        new = labels.copy()
        new[k_sorted[firsts]] = k_lab[order][firsts]
        changed = bool((new != labels).any())
        labels = new
        stable = 0 if changed else stable + 1
        if stable >= 2:
            break
    smallest = np.full(n, n, dtype=np.int64)
    np.minimum.at(smallest, labels, np.arange(n))
    return smallest[labels]


def _split_connected(n: int, src: np.ndarray, dst: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Split each label into its connected pieces (propagation can leave them apart)."""
    inside = labels[src] == labels[dst]
    sub = LinkGraph(n, src[inside], dst[inside], np.ones(int(inside.sum())))
    return sub.components()


def communities(
    graph: LinkGraph,
    *,
    split_min_size: int = 8,
    iterations: int = 30,
    min_modularity: float = 0.3,
) -> np.ndarray:
    """Community label per node of the link graph.

    Parameters
    ----------
    graph : LinkGraph
        The weighted link graph.
    split_min_size : int
        Components at least this large are candidates for a split.
    iterations : int
        Label-propagation sweeps.
    min_modularity : float
        A split is kept only when its modularity on the component reaches this.

    Returns
    -------
    numpy.ndarray
        int64 label per node: the smallest row of its community (isolated nodes are their
        own community).
    """
    labels = graph.components()
    if graph.n_edges == 0:
        return labels
    sizes = np.bincount(labels, minlength=graph.n)
    big = np.flatnonzero(sizes >= split_min_size)
    if big.size == 0:
        return labels
    edge_comp = labels[graph.a]
    order = np.argsort(edge_comp, kind="stable")
    e_sorted = edge_comp[order]
    for comp in big:
        nodes = np.flatnonzero(labels == comp)
        lo, hi = np.searchsorted(e_sorted, [comp, comp + 1])
        idx = order[lo:hi]
        local = np.full(graph.n, -1, dtype=np.int64)
        local[nodes] = np.arange(nodes.size)
        src, dst, w = local[graph.a[idx]], local[graph.b[idx]], graph.weight[idx]
        part = label_propagation(nodes.size, src, dst, w, iterations)
        if np.unique(part).size < 2:
            continue
        part = _split_connected(nodes.size, src, dst, part)
        if modularity(src, dst, w, part) < min_modularity:
            continue
        labels[nodes] = nodes[part]
    # relabel to the smallest row of each community
    smallest = np.full(graph.n, graph.n, dtype=np.int64)
    np.minimum.at(smallest, labels, np.arange(graph.n))
    return smallest[labels]
