"""HyperLogLog, TopK and MinHash: accuracy and merge laws."""

from __future__ import annotations

import numpy as np
import pytest

from detector.sketches import HyperLogLog, MinHashSignature, TopK, hash_ints, hash_strings


def _hashes(n: int, seed: int) -> np.ndarray:
    return hash_ints(np.arange(n, dtype=np.int64) + seed * 10_000_000)


def test_sparse_mode_is_exact() -> None:
    hll = HyperLogLog()
    hll.add_hashes(_hashes(200, 1))
    hll.add_hashes(_hashes(200, 1))  # duplicates
    assert hll.is_exact
    assert hll.count() == 200


@pytest.mark.parametrize("n", [1_000, 20_000, 300_000])
def test_dense_estimate_within_stated_error(n: int) -> None:
    hll = HyperLogLog(p=12)
    hll.add_hashes(_hashes(n, 2))
    assert not hll.is_exact
    # standard error 1.6 %; allow 4 sigma
    assert abs(hll.count() - n) / n < 0.065


def test_merge_is_union_and_order_free() -> None:
    a, b, c = _hashes(5_000, 3), _hashes(5_000, 4), _hashes(100, 3)
    one = HyperLogLog().add_hashes(np.concatenate([a, b, c]))
    left = (
        HyperLogLog()
        .add_hashes(a)
        .merge(HyperLogLog().add_hashes(b))
        .merge(HyperLogLog().add_hashes(c))
    )
    right = (
        HyperLogLog()
        .add_hashes(c)
        .merge(HyperLogLog().add_hashes(b).merge(HyperLogLog().add_hashes(a)))
    )
    assert one.count() == pytest.approx(left.count()) == pytest.approx(right.count())
    assert abs(one.count() - 10_000) / 10_000 < 0.065


def test_sparse_merged_into_dense_and_back() -> None:
    dense = HyperLogLog().add_hashes(_hashes(3_000, 5))
    sparse = HyperLogLog().add_hashes(_hashes(50, 6))
    merged_a = HyperLogLog().merge(dense).merge(sparse)
    merged_b = sparse.merge(dense)
    assert merged_a.count() == pytest.approx(merged_b.count())
    assert abs(merged_a.count() - 3_050) / 3_050 < 0.065


def test_precision_mismatch_refused() -> None:
    with pytest.raises(ValueError, match="precision"):
        HyperLogLog(p=10).merge(HyperLogLog(p=12))


def test_hash_strings_is_stable_and_distinct() -> None:
    h1 = hash_strings(["a", "b", "a"])
    h2 = hash_strings(np.array(["a", "b", "a"], dtype=object))
    assert h1.dtype == np.uint64
    assert (h1 == h2).all()
    assert h1[0] == h1[2] != h1[1]
    # known value: pandas' SipHash with its fixed key does not depend on PYTHONHASHSEED
    assert int(hash_strings(["distillwatch"])[0]) == int(hash_strings(["distillwatch"])[0])


def test_topk_keeps_heavy_hitters_through_merges() -> None:
    rng = np.random.default_rng(0)
    stream = np.concatenate([np.full(500, 1), np.full(300, 2), rng.integers(10, 1000, 1200)])
    rng.shuffle(stream)
    parts = np.array_split(stream, 7)
    summaries = []
    for part in parts:
        values, counts = np.unique(part, return_counts=True)
        summaries.append(TopK(k=8).update(dict(zip(values.tolist(), counts.tolist(), strict=True))))
    total = summaries[0]
    for s in summaries[1:]:
        total.merge(s)
    top = [v for v, _ in total.most_common(2)]
    assert top == [1, 2]
    bound = len(stream) / 9
    assert dict(total.most_common())[1] >= 500 - bound


def test_minhash_jaccard_estimates_and_merge() -> None:
    a = MinHashSignature(128).add_ints(np.arange(0, 1000))
    b = MinHashSignature(128).add_ints(np.arange(500, 1500))
    # true Jaccard 500 / 1500
    assert abs(a.jaccard(b) - 1 / 3) < 0.15
    split = (
        MinHashSignature(128)
        .add_ints(np.arange(0, 400))
        .merge(MinHashSignature(128).add_ints(np.arange(400, 1000)))
    )
    assert (split.values == a.values).all()
    assert MinHashSignature().jaccard(a) == 0.0


@pytest.mark.parametrize("sizes", [(0, 5), (5, 0), (40, 40), (200, 100), (300, 50), (10, 400)])
def test_add_unique_sorted_equals_add_hashes(sizes: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(sizes))
    pool = rng.integers(0, 2**63, size=600, dtype=np.uint64)
    a_items = np.unique(rng.choice(pool, size=sizes[0])) if sizes[0] else pool[:0]
    b_items = np.unique(rng.choice(pool, size=sizes[1])) if sizes[1] else pool[:0]
    one, two = HyperLogLog().add_hashes(a_items), HyperLogLog().add_hashes(a_items)
    one.add_hashes(b_items)
    two.add_unique_sorted(b_items)
    assert one.is_exact == two.is_exact
    if one.is_exact:
        np.testing.assert_array_equal(one._sparse, two._sparse)
    else:
        np.testing.assert_array_equal(one._dense, two._dense)


def test_registers_round_trip_and_match_the_dense_sketch() -> None:
    import numpy as np

    from detector.sketches import HyperLogLog

    rng = np.random.default_rng(3)
    small = rng.integers(0, 2**63, 100, dtype=np.uint64)
    big = rng.integers(0, 2**63, 50_000, dtype=np.uint64)
    sparse = HyperLogLog(12, 256).add_hashes(small)
    assert sparse.is_exact
    dense = HyperLogLog(12, 0).add_hashes(small)  # the same items, straight to registers
    np.testing.assert_array_equal(sparse.registers(), dense.registers())
    full = HyperLogLog(12, 256).add_hashes(big)
    copy = HyperLogLog.from_registers(full.registers(), 12, 256)
    assert copy.count() == full.count() and not copy.is_exact
    copy.add_hashes(small)
    assert copy.count() == HyperLogLog(12, 256).add_hashes(np.concatenate([big, small])).count()
    with pytest.raises(ValueError, match="4096 registers"):
        HyperLogLog.from_registers(np.zeros(100, dtype=np.uint8), 12)


# golden values (XXH3-64, seed 0, of the UTF-8 bytes): sketches stored in Redis must
# hash the same in every release and on every machine
GOLDEN = {
    "a": 16629034431890738719,
    "": 3244421341483603138,
    "distillwatch": 10852769325205706712,
    "10.0.0.0/24": 16289446597563126028,
    "ünïcødé ✓": 7313423307192426352,
}


def test_hash_strings_golden_values() -> None:
    texts = list(GOLDEN)
    assert [int(h) for h in hash_strings(texts)] == list(GOLDEN.values())
    assert int(hash_strings([None])[0]) == GOLDEN[""]  # None hashes like ""
    assert int(hash_strings([42])[0]) == int(hash_strings(["42"])[0])  # scalars by str()
    again = hash_strings(np.array(texts * 3, dtype=object))  # repeated values, one pass
    assert [int(h) for h in again] == list(GOLDEN.values()) * 3
