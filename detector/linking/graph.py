"""The weighted link graph: accounts as nodes, evidence-backed edges, its components."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

__all__ = ["LinkGraph"]


@dataclass(slots=True)
class LinkGraph:
    """Undirected weighted graph over account rows.

    Attributes
    ----------
    n : int
        Number of nodes (accounts, linked or not).
    a, b : numpy.ndarray
        Edge end points (row numbers, ``a < b``).
    weight : numpy.ndarray
        Edge weights.
    """

    n: int
    a: np.ndarray
    b: np.ndarray
    weight: np.ndarray

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return int(self.a.size)

    def adjacency(self) -> sparse.csr_matrix:
        """Symmetric ``n x n`` weighted adjacency matrix."""
        rows = np.concatenate([self.a, self.b])
        cols = np.concatenate([self.b, self.a])
        w = np.concatenate([self.weight, self.weight])
        return sparse.csr_matrix((w, (rows, cols)), shape=(self.n, self.n))

    def components(self) -> np.ndarray:
        """Connected-component label per node (isolated nodes get their own label).

        Returns
        -------
        numpy.ndarray
            int64 labels; each label is the smallest node row of its component, so the
            labelling does not depend on traversal order.
        """
        if self.n == 0:
            return np.empty(0, dtype=np.int64)
        _, raw = csgraph.connected_components(self.adjacency(), directed=False)
        smallest = np.full(raw.max() + 1, self.n, dtype=np.int64)
        np.minimum.at(smallest, raw, np.arange(self.n))
        return smallest[raw]

    def degree(self) -> np.ndarray:
        """Weighted degree per node."""
        deg = np.bincount(self.a, weights=self.weight, minlength=self.n)
        return deg + np.bincount(self.b, weights=self.weight, minlength=self.n)
