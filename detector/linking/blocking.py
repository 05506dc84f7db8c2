"""Candidate pairs by blocking: only accounts that share a key are ever compared.

Blocking keys are the specific tokens of each account (``/24`` prefixes, uncommon user
agents, template skeletons, system prompts, exact IPs, API keys, end users) and the LSH
bands of its active-minute MinHash. A key held by more accounts than the document
frequency cap (a corporate NAT, a popular SDK, a SaaS product's system prompt, the top
of the hour) is dropped: it is not evidence, and pairing its holders would be
quadratic.

Within one key the holders are sorted (by onset, then again by their minute
signature) and each is paired with its ``window`` next neighbours: every pair of a small
block, and ``O(block * window)`` pairs of a large one, which is enough to connect a large
campaign (each member gets up to ``4 * window`` neighbours per key) while bounding the
total work to ``O(accounts * keys * window)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from detector.linking.config import GENERIC_USER_AGENT, LinkConfig
from detector.linking.profiles import Profiles, TokenTable
from detector.sketches import hash_ints

__all__ = ["BLOCKING_FAMILIES", "blocking_keys", "candidate_pairs", "minute_band_keys"]

BLOCKING_FAMILIES: tuple[str, ...] = (
    "ip_prefix",
    "user_agent",
    "skeleton",
    "system",
    "ip",
    "api_key",
    "end_user",
)


def generic_user_agents(table: TokenTable) -> np.ndarray:
    """Mask of user-agent columns that are SDKs, HTTP libraries or browsers."""
    return np.array([bool(GENERIC_USER_AGENT.search(str(v))) for v in table.values], dtype=bool)


def minute_band_keys(profiles: Profiles, bands: int) -> tuple[np.ndarray, np.ndarray]:
    """LSH band keys of the active-minute MinHash.

    Parameters
    ----------
    profiles : Profiles
        The population.
    bands : int
        Number of bands; the signature's slots are split evenly between them.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Row numbers and uint64 band keys (one per account with minutes and band).
    """
    sig = profiles.minhash
    rows = np.flatnonzero(profiles.has_minutes)
    if rows.size == 0 or bands <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64)
    width = max(sig.shape[1] // bands, 1)
    keys = []
    for b in range(sig.shape[1] // width):
        block = sig[rows, b * width : (b + 1) * width]
        h = hash_ints(np.full(rows.size, b, dtype=np.uint64), seed=97)
        for j in range(block.shape[1]):
            h = hash_ints(h ^ block[:, j], seed=j + 1)
        keys.append(h)
    out_rows = np.tile(rows, len(keys))
    return out_rows, np.concatenate(keys)


def blocking_keys(profiles: Profiles, config: LinkConfig) -> tuple[np.ndarray, np.ndarray]:
    """Every (account row, blocking key) incidence after the document-frequency caps.

    Parameters
    ----------
    profiles : Profiles
        The population.
    config : LinkConfig
        Caps and LSH settings.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Row numbers and int64 key ids (dense, 0..keys-1), aligned.
    """
    rows_parts: list[np.ndarray] = []
    keys_parts: list[np.ndarray] = []
    offset = 0
    for name in BLOCKING_FAMILIES:
        table = profiles.tokens[name]
        if table.matrix.nnz == 0:
            continue
        ok = (table.df >= 2) & (table.df <= config.cap(profiles.size, name))
        if name == "user_agent":
            ok &= ~generic_user_agents(table)
        coo = table.matrix.tocoo()
        keep = ok[coo.col]
        rows_parts.append(coo.row[keep].astype(np.int64))
        keys_parts.append(coo.col[keep].astype(np.int64) + offset)
        offset += table.matrix.shape[1]
    band_rows, band_keys = minute_band_keys(profiles, config.minhash_bands)
    if band_rows.size:
        codes, uniques = pd.factorize(band_keys, sort=False)
        df = np.bincount(codes, minlength=len(uniques))
        keep = (df[codes] >= 2) & (df[codes] <= config.cap(profiles.size, "minutes"))
        rows_parts.append(band_rows[keep].astype(np.int64))
        keys_parts.append(codes[keep].astype(np.int64) + offset)
    if not rows_parts:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(rows_parts), np.concatenate(keys_parts)


def _window_pairs(keys: np.ndarray, rows: np.ndarray, window: int) -> list[np.ndarray]:
    out = []
    for d in range(1, window + 1):
        if d >= keys.size:
            break
        same = keys[d:] == keys[:-d]
        if not same.any():
            break
        out.append(rows[:-d][same] * np.int64(1 << 32) + rows[d:][same])
    return out


def candidate_pairs(profiles: Profiles, config: LinkConfig) -> np.ndarray:
    """Candidate account pairs sharing at least one blocking key.

    Parameters
    ----------
    profiles : Profiles
        The population.
    config : LinkConfig
        Caps, window and LSH settings.

    Returns
    -------
    numpy.ndarray
        ``(pairs, 2)`` int64 row numbers with ``a < b``, sorted, unique.
    """
    rows, keys = blocking_keys(profiles, config)
    if rows.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    first = np.nan_to_num(profiles.first_ts, nan=0.0)
    # two neighbourhoods: onset order, and minute-signature order (ties by row)
    orders = (
        np.lexsort((rows, first[rows], keys)),
        np.lexsort((rows, profiles.minhash[rows, 0], keys)),
    )
    codes: list[np.ndarray] = []
    for order in orders:
        codes += _window_pairs(keys[order], rows[order], config.block_window)
    if not codes:
        return np.empty((0, 2), dtype=np.int64)
    code = np.concatenate(codes)
    a = code >> np.int64(32)
    b = code & np.int64((1 << 32) - 1)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    uniq = np.unique(lo[keep] * np.int64(1 << 32) + hi[keep])
    return np.stack([uniq >> np.int64(32), uniq & np.int64((1 << 32) - 1)], axis=1)
