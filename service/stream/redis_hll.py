"""Read Redis' own HyperLogLog strings into :class:`detector.sketches.HyperLogLog`.

Redis HLLs use p = 14 (16,384 registers) and 64 - p = 50 bits for the rank, the same
shape as ``HyperLogLog(p=14)``, and both count with Ertl's improved estimator, so the
registers can be copied over: the result counts like ``PFCOUNT`` and merges (union) with
other decoded sketches. Account linking needs that to count a cluster's distinct
prompts across its members' window state.

Format (redis/src/hyperloglog.c): a 16-byte header (``HYLL``, encoding byte: 0 dense,
1 sparse, 3 unused, 8-byte cached cardinality), then either 16,384 6-bit registers
packed little-endian (dense) or run-length opcodes (sparse): ``00xxxxxx`` = x+1 zero
registers, ``01xxxxxx yyyyyyyy`` = (x << 8 | y) + 1 zero registers, ``1vvvvvxx`` = x+1
registers of value v+1.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from detector.sketches import HyperLogLog

__all__ = ["REDIS_HLL_P", "merge_redis_hlls", "redis_hll_registers"]

REDIS_HLL_P = 14
_M = 1 << REDIS_HLL_P
_IDX = np.arange(_M, dtype=np.int64)
_BYTE = (_IDX * 6) // 8
_SHIFT = ((_IDX * 6) % 8).astype(np.uint16)


def redis_hll_registers(blob: bytes) -> np.ndarray:
    """The 16,384 registers of a Redis HyperLogLog string, as ``uint8``.

    Raises
    ------
    ValueError
        If ``blob`` is not a Redis HyperLogLog.
    """
    if len(blob) < 16 or blob[:4] != b"HYLL":
        raise ValueError("not a Redis HyperLogLog")
    body = blob[16:]
    if blob[4] == 0:
        raw = np.frombuffer(body + b"\x00", dtype=np.uint8).astype(np.uint16)
        vals = (raw[_BYTE] >> _SHIFT) | (raw[_BYTE + 1] << (8 - _SHIFT))
        return (vals & 63).astype(np.uint8)
    regs = np.zeros(_M, dtype=np.uint8)
    pos, i, n = 0, 0, len(body)
    while i < n and pos < _M:
        op = body[i]
        if op & 0x80:  # VAL
            run = (op & 0x3) + 1
            regs[pos : pos + run] = ((op >> 2) & 0x1F) + 1
            pos += run
            i += 1
        elif op & 0x40:  # XZERO
            pos += (((op & 0x3F) << 8) | body[i + 1]) + 1
            i += 2
        else:  # ZERO
            pos += (op & 0x3F) + 1
            i += 1
    return regs


def merge_redis_hlls(blobs: Iterable[bytes | None]) -> HyperLogLog:
    """Union of Redis HyperLogLog strings (``None`` = missing key) as a detector sketch."""
    regs = np.zeros(_M, dtype=np.uint8)
    for blob in blobs:
        if blob:
            np.maximum(regs, redis_hll_registers(blob), out=regs)
    hll = HyperLogLog(p=REDIS_HLL_P)
    hll._sparse = None
    hll._dense = regs
    return hll
