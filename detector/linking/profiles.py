"""Column arrays of the account population, read once from the merged aggregates.

Linking never looks at raw events: everything it compares comes from
:class:`~detector.aggregates.AccountState` (heavy hitters, exact small sets kept by the
HyperLogLogs, the active-minute MinHash, hourly buckets, first and last request). This
module turns a mapping of states into arrays indexed by account number (accounts sorted
by id, so every result is independent of dict order):

* :class:`TokenTable` - one sparse ``accounts x tokens`` matrix per token family
  (``/24`` prefixes, user agents, template skeletons, system prompts, IPs, API keys,
  end users, models), valued by the share of the account's traffic on the token, with
  each token's document frequency (how many accounts hold it);
* :class:`Profiles` - those tables plus onset, end, volume, the MinHash matrix, the
  estimated number of active minutes, the hourly activity matrix, the topic
  distribution and the behaviour (mean output length, chain-of-thought share).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from detector.aggregates import ADDITIVE, HOUR_S, MINHASH_PERM, N_TOPICS, AccountState

__all__ = ["EXACT_SETS", "HEAVY_HITTERS", "Profiles", "TokenTable", "build_profiles"]

# Heavy-hitter families (AccountState.tops) used as tokens, valued by traffic share.
HEAVY_HITTERS: tuple[str, ...] = ("ip_prefix", "user_agent", "skeleton", "system", "model")
# Exact small sets (HyperLogLogs still in their exact sparse mode), valued 1 / set size.
EXACT_SETS: tuple[str, ...] = ("ip", "api_key", "end_user")
_U64_MAX = float(np.iinfo(np.uint64).max)
_COMPLETION = list(ADDITIVE).index("sum_completion_tokens")
_COT = list(ADDITIVE).index("n_cot")


@dataclass(slots=True)
class TokenTable:
    """Accounts x tokens of one family.

    Attributes
    ----------
    name : str
        Token family (``ip_prefix``, ``user_agent``, ``skeleton`` ...).
    matrix : scipy.sparse.csr_matrix
        ``float64`` share of the account's traffic on the token (``1 / set size`` for
        exact sets), only entries at or above the minimum share.
    values : numpy.ndarray
        Token value per column (prefix text, user agent, fingerprint...).
    df : numpy.ndarray
        Document frequency per column: number of accounts holding the token.
    """

    name: str
    matrix: sparse.csr_matrix
    values: np.ndarray
    df: np.ndarray


@dataclass(slots=True)
class Profiles:
    """The population as arrays, one row per account (sorted by account id).

    Attributes
    ----------
    accounts : numpy.ndarray
        Account ids (object array), sorted.
    n_events : numpy.ndarray
        Requests per account.
    first_ts, last_ts : numpy.ndarray
        First and last request, epoch seconds.
    minhash : numpy.ndarray
        ``(accounts, slots)`` uint64 MinHash signatures of the active minutes.
    has_minutes : numpy.ndarray
        Whether the signature is not empty.
    active_minutes : numpy.ndarray
        Estimated number of distinct active minutes.
    hourly : scipy.sparse.csr_matrix
        ``(accounts, hours)`` requests per epoch hour since ``start_hour``.
    start_hour : int
        Epoch hour of the first column of ``hourly``.
    end_users : numpy.ndarray
        Estimated distinct end users.
    tokens : dict
        Family name -> :class:`TokenTable`.
    topics : numpy.ndarray
        ``(accounts, topics)`` share of the account's prompts on each topic (rows of
        zeros when the state has no topic counts).
    mean_completion : numpy.ndarray
        Mean completion tokens per request.
    cot_share : numpy.ndarray
        Share of requests whose text elicits chain of thought.
    model_first : dict
        Model name -> per-account first use (NaN when unknown); empty when the states do
        not record per-model first use.
    window : tuple of float
        First and last request of the whole population.
    """

    accounts: np.ndarray
    n_events: np.ndarray
    first_ts: np.ndarray
    last_ts: np.ndarray
    minhash: np.ndarray
    has_minutes: np.ndarray
    active_minutes: np.ndarray
    hourly: sparse.csr_matrix
    start_hour: int
    end_users: np.ndarray
    tokens: dict[str, TokenTable]
    topics: np.ndarray = field(default_factory=lambda: np.zeros((0, N_TOPICS)))
    mean_completion: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cot_share: np.ndarray = field(default_factory=lambda: np.zeros(0))
    model_first: dict[str, np.ndarray] = field(default_factory=dict)
    window: tuple[float, float] = (0.0, 0.0)

    @property
    def size(self) -> int:
        """Number of accounts."""
        return int(self.accounts.size)

    def index_of(self) -> dict[str, int]:
        """Account id -> row number."""
        return {str(a): i for i, a in enumerate(self.accounts)}


def exact_items(sketch: object) -> np.ndarray | None:
    """The exact hashes a HyperLogLog still holds in sparse mode, else None.

    Parameters
    ----------
    sketch : detector.sketches.HyperLogLog
        A distinct counter.

    Returns
    -------
    numpy.ndarray or None
        Sorted uint64 hashes of the distinct items, or None once the sketch is dense.
    """
    items = getattr(sketch, "_sparse", None)
    return items if isinstance(items, np.ndarray) else None


def minhash_cardinality(sig: np.ndarray) -> np.ndarray:
    """Estimate set sizes from MinHash signatures.

    Each slot is the minimum of ``n`` uniform hashes, so it is ``Beta(1, n)``; the
    estimator ``(k - 1) / sum(u)`` over ``k`` slots is unbiased for ``n + 1``-ish sets and
    good to about ``1 / sqrt(k)`` (18 % at 32 slots).

    Parameters
    ----------
    sig : numpy.ndarray
        ``(rows, k)`` uint64 signatures.

    Returns
    -------
    numpy.ndarray
        Estimated distinct items per row (0 for empty signatures).
    """
    u = sig.astype(np.float64) / _U64_MAX
    k = sig.shape[1]
    total = u.sum(axis=1)
    with np.errstate(divide="ignore"):
        est = np.where(total > 0, (k - 1) / total - 1.0, 0.0)
    empty = (sig == np.iinfo(np.uint64).max).all(axis=1)
    return np.where(empty, 0.0, np.maximum(est, 1.0))


def _token_table(
    name: str, rows: list[int], keys: list[object], vals: list[float], n_rows: int
) -> TokenTable:
    if not rows:
        empty = sparse.csr_matrix((n_rows, 0), dtype=np.float64)
        return TokenTable(name, empty, np.empty(0, dtype=object), np.zeros(0, dtype=np.int64))
    codes, uniques = pd.factorize(pd.Series(keys, dtype=object), sort=False)
    mat = sparse.csr_matrix(
        (np.asarray(vals, dtype=np.float64), (np.asarray(rows), codes)),
        shape=(n_rows, len(uniques)),
    )
    mat.sum_duplicates()
    df = np.diff(mat.tocsc().indptr).astype(np.int64)
    return TokenTable(name, mat, np.asarray(uniques, dtype=object), df)


def build_profiles(
    states: Mapping[str, AccountState], *, min_token_share: float, max_exact_items: int
) -> Profiles:
    """Read the merged states into :class:`Profiles`.

    Parameters
    ----------
    states : mapping
        Account id -> merged state.
    min_token_share : float
        Heavy hitters carrying less of the account's traffic are dropped.
    max_exact_items : int
        Exact sets larger than this are dropped (rotating pools are not identities).

    Returns
    -------
    Profiles
    """
    accounts = np.array(sorted(states), dtype=object)
    n = accounts.size
    ordered = [states[a] for a in accounts]
    n_events = np.array([st.counts[0] for st in ordered], dtype=np.float64)
    first = np.array([st.first_ts for st in ordered], dtype=np.float64)
    last = np.array([st.last_ts for st in ordered], dtype=np.float64)
    end_users = np.array([st.sketches["end_user"].count() for st in ordered], dtype=np.float64)
    if n:
        sig = np.stack([st.minutes.values[:MINHASH_PERM] for st in ordered]).astype(np.uint64)
    else:
        sig = np.empty((0, MINHASH_PERM), dtype=np.uint64)
    denom = np.maximum(n_events, 1.0)
    comp = np.array([st.counts[_COMPLETION] for st in ordered], dtype=np.float64)
    cot = np.array([st.counts[_COT] for st in ordered], dtype=np.float64)
    if n:
        topic_counts = np.stack([st.topic_hist for st in ordered]).astype(np.float64)
    else:
        topic_counts = np.zeros((0, N_TOPICS))
    topic_tot = topic_counts.sum(axis=1, keepdims=True)
    topics = np.divide(
        topic_counts, topic_tot, out=np.zeros_like(topic_counts), where=topic_tot > 0
    )

    heavy: dict[str, tuple[list[int], list[object], list[float]]] = {}
    for name in HEAVY_HITTERS:
        entries = [
            (i, key, count)
            for i, st in enumerate(ordered)
            if name in st.tops
            for key, count in st.tops[name].counts.items()
        ]
        if not entries:
            heavy[name] = ([], [], [])
            continue
        rows_a = np.fromiter((e[0] for e in entries), dtype=np.int64, count=len(entries))
        share = np.fromiter((e[2] for e in entries), dtype=np.float64, count=len(entries))
        share = np.minimum(share / denom[rows_a], 1.0)
        keep = np.flatnonzero(share >= min_token_share)
        heavy[name] = (
            rows_a[keep].tolist(),
            [entries[j][1] for j in keep.tolist()],
            share[keep].tolist(),
        )

    exact: dict[str, tuple[list[int], list[object], list[float]]] = {}
    for name in EXACT_SETS:
        rows: list[int] = []
        keys: list[object] = []
        vals: list[float] = []
        for i, st in enumerate(ordered):
            items = exact_items(st.sketches[name])
            if items is None or items.size == 0 or items.size > max_exact_items:
                continue
            rows.extend([i] * items.size)
            keys.extend(items.tolist())
            vals.extend([1.0 / items.size] * items.size)
        exact[name] = (rows, keys, vals)

    h_len = np.array([len(st.hourly) for st in ordered], dtype=np.int64)
    h_keys = [h for st in ordered for h in st.hourly]
    h_rows_list = [row for st in ordered for row in st.hourly.values()]
    h_vals = np.array(h_rows_list, dtype=np.float64)[:, 0] if h_rows_list else np.empty(0)

    mf_rows: list[int] = []
    mf_models: list[object] = []
    mf_ts: list[float] = []
    for i, st in enumerate(ordered):
        model_first = getattr(st, "model_first", None)
        if model_first:
            for model, ts in model_first.items():
                mf_rows.append(i)
                mf_models.append(model)
                mf_ts.append(float(ts))

    tokens = {name: _token_table(name, *heavy[name], n) for name in HEAVY_HITTERS}
    tokens.update({name: _token_table(name, *exact[name], n) for name in EXACT_SETS})

    finite_first = first[np.isfinite(first)]
    finite_last = last[np.isfinite(last)]
    window = (
        float(finite_first.min()) if finite_first.size else 0.0,
        float(finite_last.max()) if finite_last.size else 0.0,
    )
    if h_keys:
        rows_a = np.repeat(np.arange(n, dtype=np.int64), h_len)
        hours_a = np.asarray(h_keys, dtype=np.int64)
        start_hour = int(hours_a.min())
        n_hours = int(hours_a.max()) - start_hour + 1
        hourly = sparse.csr_matrix((h_vals, (rows_a, hours_a - start_hour)), shape=(n, n_hours))
    else:
        start_hour = int(window[0] // HOUR_S) if math.isfinite(window[0]) else 0
        hourly = sparse.csr_matrix((n, 1), dtype=np.float64)

    empty = (sig == np.iinfo(np.uint64).max).all(axis=1)
    minutes = minhash_cardinality(sig)
    # an account cannot be active in more minutes than it sent requests, nor than 60 an hour
    cap = np.asarray(hourly.minimum(60.0).sum(axis=1)).ravel() if hourly.nnz else n_events
    minutes = np.minimum(minutes, np.maximum(np.minimum(cap, n_events), 1.0))

    model_first_cols: dict[str, np.ndarray] = {}
    if mf_rows:
        frame = pd.DataFrame({"r": mf_rows, "m": mf_models, "t": mf_ts})
        for model, grp in frame.groupby("m", sort=True):
            col = np.full(n, np.nan)
            col[grp["r"].to_numpy()] = grp["t"].to_numpy()
            model_first_cols[str(model)] = col

    return Profiles(
        accounts=accounts,
        n_events=n_events,
        first_ts=first,
        last_ts=last,
        minhash=sig,
        has_minutes=~empty,
        active_minutes=minutes,
        hourly=hourly,
        start_hour=start_hour,
        end_users=end_users,
        tokens=tokens,
        topics=topics,
        mean_completion=comp / denom,
        cot_share=np.minimum(cot / denom, 1.0),
        model_first=model_first_cols,
        window=window,
    )
