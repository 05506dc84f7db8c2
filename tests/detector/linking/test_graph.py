"""Building blocks: specificity, blocking bounds, components and communities."""

from __future__ import annotations

import numpy as np

from detector.linking import LinkConfig
from detector.linking.blocking import candidate_pairs
from detector.linking.communities import communities, label_propagation, modularity
from detector.linking.evidence import specificity
from detector.linking.graph import LinkGraph
from detector.linking.profiles import build_profiles, minhash_cardinality
from detector.linking.synthetic import AccountSpec, build_states
from detector.sketches import MinHashSignature
from tests.detector.linking.helpers import T0


def _clique(nodes: range) -> list[tuple[int, int]]:
    return [(a, b) for a in nodes for b in nodes if a < b]


def _graph(n: int, edges: list[tuple[int, int]]) -> LinkGraph:
    arr = np.array(edges, dtype=np.int64)
    return LinkGraph(n, arr[:, 0], arr[:, 1], np.ones(len(edges)))


def test_specificity_falls_with_document_frequency_and_stops_at_the_cap() -> None:
    s = specificity(np.array([1, 50, 100, 500, 501, 10_000]), floor=50, cap=500)
    assert s[0] == s[1] == 1.0
    assert 0.5 < s[2] < 1.0
    assert s[3] == 0.5
    assert s[4] == s[5] == 0.0


def test_two_bridged_cliques_split_one_clique_stays_whole() -> None:
    edges = _clique(range(0, 12)) + _clique(range(12, 24)) + [(11, 12), (10, 13)]
    labels = communities(_graph(24, edges))
    assert len(set(labels[:12])) == 1 and len(set(labels[12:])) == 1
    assert labels[0] != labels[12]
    whole = communities(_graph(20, _clique(range(20))))
    assert len(set(whole)) == 1


def test_communities_are_deterministic_and_labelled_by_smallest_member() -> None:
    rng = np.random.default_rng(0)
    edges = sorted({tuple(sorted(map(int, rng.choice(60, 2, replace=False)))) for _ in range(300)})
    g = _graph(60, edges)
    first = communities(g)
    assert np.array_equal(first, communities(g))
    for lab in set(first.tolist()):
        assert lab == np.flatnonzero(first == lab).min()


def test_label_propagation_and_modularity() -> None:
    edges = np.array(_clique(range(5)) + _clique(range(5, 10)) + [(4, 5)])
    src, dst, w = edges[:, 0], edges[:, 1], np.ones(len(edges))
    labels = label_propagation(10, src, dst, w)
    assert set(labels[:5]) == {0} and set(labels[5:]) == {5}
    assert modularity(src, dst, w, labels) > 0.4
    assert modularity(src, dst, w, np.zeros(10, dtype=np.int64)) == 0.0


def test_minhash_cardinality_estimates_set_sizes() -> None:
    sigs = []
    for size in (1, 10, 100, 1000):
        m = MinHashSignature(32)
        m.add_ints(np.arange(size) * 7 + 3)
        sigs.append(m.values)
    est = minhash_cardinality(np.stack(sigs))
    assert est[0] < 3
    for got, want in zip(est[1:], (10, 100, 1000), strict=True):
        assert 0.5 * want < got < 2.0 * want


def test_blocking_is_bounded_and_skips_common_tokens() -> None:
    """3,000 accounts: one template held by all (over the cap), 500 sharing a /24."""
    rng = np.random.default_rng(1)
    specs = []
    for i in range(3000):
        t = np.sort(rng.uniform(T0, T0 + 86_400, 5))
        net = "192.0.2" if i < 500 else f"10.{i // 250}.{i % 250}"
        specs.append(AccountSpec(f"a{i:04d}", t, [f"{net}.9"], "OpenAI/Python 1.54.4", [42]))
    prof = build_profiles(build_states(specs), min_token_share=0.05, max_exact_items=64)
    cfg = LinkConfig()
    pairs = candidate_pairs(prof, cfg)
    # the template (3,000 holders > cap) gives no pairs; the /24 and its IP give at most
    # 2 orders x window pairs per holder, not 500 * 499 / 2
    assert len(pairs) <= 2 * 2 * cfg.block_window * 500
    assert (pairs < 500).all()
    assert (pairs[:, 0] < pairs[:, 1]).all()
    assert len(np.unique(pairs, axis=0)) == len(pairs)
