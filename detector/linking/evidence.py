"""Link evidence between candidate account pairs, computed for all pairs at once.

Three kinds of evidence, each a strength in [0, 1]:

``infrastructure``
    traffic overlap on ``/24`` prefixes, exact IPs, API keys, end-user ids and
    uncommon user agents (histogram intersection of the two accounts' shares, scaled
    by the token's specificity).
``content``
    traffic overlap on prompt template skeletons and system prompts.
``timing``
    synchronised active minutes (MinHash slot agreements, tested against the agreement
    two independent accounts with the same activity densities would show), the same
    newly released model adopted within minutes, or a synchronous onset on a shared
    template / system prompt: both accounts among the holders that started inside the
    data on one day, with alike topics and behaviour (content swarms,
    :func:`cohort_onsets`). A simultaneous onset or stop and
    correlated hourly activity (beyond the population's daily rhythm) are recorded and
    add a little weight, but never make the timing kind on their own: colleagues behind
    one NAT start at nine and share office hours.

Guards: a token's specificity falls with its document frequency and is zero above the
cap (corporate NAT, SaaS system prompt); SDK / library / browser user agents are never
evidence and user agents alone are weaker than network evidence; platforms with many
end users contribute neither end-user ids nor timing. A pair is an edge only when at
least two kinds agree (see :func:`score_pairs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.stats import binom

from detector.aggregates import HOUR_S
from detector.linking.blocking import generic_user_agents
from detector.linking.config import KINDS, LinkConfig
from detector.linking.generic import generic_tokens
from detector.linking.profiles import Profiles, TokenTable

__all__ = [
    "COHORT_FAMILIES",
    "CONTENT_ITEMS",
    "INFRA_ITEMS",
    "PairEvidence",
    "SharedTokens",
    "cohort_onsets",
    "keep_edges",
    "new_onsets",
    "profile_similarity",
    "score_pairs",
    "specificity",
]

INFRA_ITEMS: tuple[str, ...] = ("ip_prefix", "ip", "api_key", "end_user", "user_agent")
CONTENT_ITEMS: tuple[str, ...] = ("skeleton", "system")
# Token families whose holders can start together as a cohort (content-conditioned onset).
COHORT_FAMILIES: tuple[str, ...] = CONTENT_ITEMS
# Largest infrastructure strength a shared user agent alone can give.
UA_MAX_STRENGTH = 0.6
# Weight each supporting timing item (onset, stop, hourly correlation) adds to an edge.
SUPPORT_WEIGHT = 0.1


def specificity(df: np.ndarray, floor: int, cap: int) -> np.ndarray:
    """How specific a token held by ``df`` accounts is, in [0, 1].

    1 up to ``floor`` accounts, then falling with ``log(df)`` to 0.5 at ``cap``, and 0
    above the cap (a token that common is no evidence of a common operator).

    Parameters
    ----------
    df : numpy.ndarray
        Document frequencies.
    floor, cap : int
        Fully specific up to ``floor``; not evidence above ``cap``.

    Returns
    -------
    numpy.ndarray
        float64 specificity per token.
    """
    df = np.asarray(df, dtype=np.float64)
    span = np.log(max(cap, floor + 1) / max(floor, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        falling = 1.0 - 0.5 * np.log(np.maximum(df, 1.0) / max(floor, 1)) / span
    out = np.where(df <= floor, 1.0, falling)
    return np.where(df > cap, 0.0, np.clip(out, 0.0, 1.0))


@dataclass(slots=True)
class SharedTokens:
    """Per-pair overlap on one token family.

    Attributes
    ----------
    strength : numpy.ndarray
        Sum over shared tokens of ``min(share_a, share_b) * specificity``.
    best : numpy.ndarray
        Column of the strongest shared token (-1 when none).
    count : numpy.ndarray
        Number of shared (specific) tokens.
    """

    strength: np.ndarray
    best: np.ndarray
    count: np.ndarray


def _shared(table: TokenTable, a: np.ndarray, b: np.ndarray, spec: np.ndarray) -> SharedTokens:
    p = a.size
    if table.matrix.shape[1] == 0 or p == 0 or not spec.any():
        zeros = np.zeros(p)
        return SharedTokens(zeros, np.full(p, -1, dtype=np.int64), np.zeros(p, dtype=np.int64))
    # drop the columns that are no evidence before intersecting (less work)
    mat = sparse.csr_matrix(table.matrix @ sparse.diags((spec > 0).astype(np.float64)))
    mat.eliminate_zeros()
    inter = sparse.coo_matrix(mat[a].minimum(mat[b]))
    rows, cols = inter.row, inter.col
    vals = inter.data * spec[cols]
    keep = vals > 0
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    strength = np.bincount(rows, weights=vals, minlength=p)
    count = np.bincount(rows, minlength=p).astype(np.int64)
    best = np.full(p, -1, dtype=np.int64)
    if rows.size:
        order = np.lexsort((cols, -vals, rows))
        r_sorted = rows[order]
        firsts = np.flatnonzero(np.r_[True, r_sorted[1:] != r_sorted[:-1]])
        best[r_sorted[firsts]] = cols[order][firsts]
    return SharedTokens(np.minimum(strength, 1.0), best, count)


@dataclass(slots=True)
class PairEvidence:
    """Evidence of every kept pair, as aligned arrays (one entry per edge).

    Attributes
    ----------
    a, b : numpy.ndarray
        Account row numbers (``a < b``).
    weight : numpy.ndarray
        Edge weight: summed strengths of the kinds that agree.
    kinds : numpy.ndarray
        ``(edges, 3)`` strengths of infrastructure, content, timing (0 when the kind
        does not count).
    shared : dict
        Token family -> :class:`SharedTokens` restricted to the edges.
    minute_j, minute_j0 : numpy.ndarray
        Estimated and expected-if-independent active-minute Jaccard similarity.
    minute : numpy.ndarray
        Strength of the minute synchronisation (0 when not significant).
    onset_dt, stop_dt : numpy.ndarray
        Seconds between first (last) requests (NaN when not meaningful).
    hourly_r : numpy.ndarray
        Correlation of hourly activity beyond the population rhythm (NaN when unknown).
    new_model : numpy.ndarray
        Index into ``models`` of the shared newly released model (-1 when none).
    new_model_dt : numpy.ndarray
        Seconds between the two accounts' first use of that model.
    cohort : numpy.ndarray
        Strength of the synchronous onset on a shared template or system prompt (0 when
        it does not count); see :func:`cohort_onsets`.
    cohort_family : numpy.ndarray
        0 when the cohort was found on the template skeleton, 1 on the system prompt.
    cohort_n, cohort_df : numpy.ndarray
        Holders of that token who started within the cohort window of the pair, and all
        its holders.
    cohort_dt, cohort_day : numpy.ndarray
        Seconds between the two first requests; day of the data (1 = first) they fell on.
    topic_sim, behaviour_sim : numpy.ndarray
        Cosine similarity of the topic distributions (NaN when unknown) and similarity
        of volume, output length and chain-of-thought share, in [0, 1].
    models : list of str
        Names of the newly released models.
    tables : dict
        Token family -> :class:`TokenTable` (to name the shared tokens).
    """

    a: np.ndarray
    b: np.ndarray
    weight: np.ndarray
    kinds: np.ndarray
    shared: dict[str, SharedTokens]
    minute_j: np.ndarray
    minute_j0: np.ndarray
    minute: np.ndarray
    onset_dt: np.ndarray
    stop_dt: np.ndarray
    hourly_r: np.ndarray
    new_model: np.ndarray
    new_model_dt: np.ndarray
    cohort: np.ndarray
    cohort_family: np.ndarray
    cohort_n: np.ndarray
    cohort_df: np.ndarray
    cohort_dt: np.ndarray
    cohort_day: np.ndarray
    topic_sim: np.ndarray
    behaviour_sim: np.ndarray
    models: list[str] = field(default_factory=list)
    tables: dict[str, TokenTable] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.a.size)

    def select(self, mask: np.ndarray) -> PairEvidence:
        """The evidence of the pairs where ``mask`` holds."""
        idx = np.flatnonzero(mask)
        return PairEvidence(
            a=self.a[idx],
            b=self.b[idx],
            weight=self.weight[idx],
            kinds=self.kinds[idx],
            shared={
                k: SharedTokens(v.strength[idx], v.best[idx], v.count[idx])
                for k, v in self.shared.items()
            },
            minute_j=self.minute_j[idx],
            minute_j0=self.minute_j0[idx],
            minute=self.minute[idx],
            onset_dt=self.onset_dt[idx],
            stop_dt=self.stop_dt[idx],
            hourly_r=self.hourly_r[idx],
            new_model=self.new_model[idx],
            new_model_dt=self.new_model_dt[idx],
            cohort=self.cohort[idx],
            cohort_family=self.cohort_family[idx],
            cohort_n=self.cohort_n[idx],
            cohort_df=self.cohort_df[idx],
            cohort_dt=self.cohort_dt[idx],
            cohort_day=self.cohort_day[idx],
            topic_sim=self.topic_sim[idx],
            behaviour_sim=self.behaviour_sim[idx],
            models=self.models,
            tables=self.tables,
        )

    def token(self, family: str, i: int) -> object | None:
        """Value of the strongest shared token of ``family`` on edge ``i``."""
        col = int(self.shared[family].best[i])
        return None if col < 0 else self.tables[family].values[col]

    def items(self, i: int) -> list[tuple[str, str]]:
        """Evidence of edge ``i`` as ``(item, text)`` pairs, strongest kinds first."""
        out: list[tuple[str, str]] = []
        sh = self.shared
        for family in ("ip_prefix", "ip", "api_key", "end_user", "user_agent"):
            s = sh.get(family)
            if s is None or s.strength[i] <= 0:
                continue
            n = int(s.count[i])
            if family == "ip_prefix":
                more = f" (+{n - 1} more)" if n > 1 else ""
                net = "/48" if ":" in str(self.token(family, i)) else "/24"
                out.append((family, f"shared {net} {prefix_text(self.token(family, i))}{more}"))
            elif family == "ip":
                out.append((family, f"{n} shared IP{'s' if n > 1 else ''}"))
            elif family == "api_key":
                out.append((family, f"{n} shared API key{'s' if n > 1 else ''}"))
            elif family == "end_user":
                out.append((family, f"{n} shared end-user id{'s' if n > 1 else ''}"))
            else:
                out.append((family, f"same user agent '{str(self.token(family, i))[:60]}'"))
        for family, label in (("skeleton", "template skeleton"), ("system", "system prompt")):
            s = sh.get(family)
            if s is None or s.strength[i] <= 0:
                continue
            n = int(s.count[i])
            more = f" (+{n - 1} more)" if n > 1 else ""
            out.append((family, f"same {label} {fp_text(self.token(family, i))}{more}"))
        if self.minute[i] > 0:
            out.append(
                (
                    "minutes",
                    f"active-minute Jaccard {self.minute_j[i]:.2f} "
                    f"({self.minute_j0[i]:.2f} if independent)",
                )
            )
        if self.cohort[i] > 0:
            family = COHORT_FAMILIES[int(self.cohort_family[i])]
            label = "template" if family == "skeleton" else "system prompt"
            out.append(
                (
                    "cohort",
                    f"started together on day {int(self.cohort_day[i])} of the data "
                    f"(first requests {self.cohort_dt[i] / 3600:.1f} h apart; "
                    f"{int(self.cohort_n[i])} of {int(self.cohort_df[i])} holders of "
                    f"{label} {fp_text(self.token(family, i))} started that day)",
                )
            )
            topic = self.topic_sim[i]
            topic_text = f"topic cosine {topic:.2f}, " if np.isfinite(topic) else ""
            out.append(
                (
                    "profile",
                    f"similar profile ({topic_text}"
                    f"volume/output/CoT similarity {self.behaviour_sim[i]:.2f})",
                )
            )
        if self.new_model[i] >= 0:
            model = self.models[int(self.new_model[i])]
            out.append(("new_model", f"both moved to {model} {self.new_model_dt[i]:.0f} s apart"))
        if np.isfinite(self.onset_dt[i]):
            out.append(("onset", f"first requests {self.onset_dt[i]:.0f} s apart"))
        if np.isfinite(self.stop_dt[i]):
            out.append(("stop", f"last requests {self.stop_dt[i]:.0f} s apart"))
        if np.isfinite(self.hourly_r[i]):
            out.append(("hourly", f"hourly activity correlation {self.hourly_r[i]:.2f}"))
        return out

    def texts(self, i: int) -> list[str]:
        """Evidence of edge ``i`` as plain-language strings."""
        return [text for _, text in self.items(i)]


def prefix_text(value: object) -> str:
    """A prefix as text."""
    return str(value)


def fp_text(value: object) -> str:
    """A 64-bit fingerprint as 12 hex digits (enough to tell templates apart)."""
    try:
        return f"{int(value) & 0xFFFFFFFFFFFFFFFF:016x}"[:12]  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return str(value)[:12]


def _minute_sync(
    prof: Profiles, a: np.ndarray, b: np.ndarray, cfg: LinkConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    slots = prof.minhash.shape[1]
    both = prof.has_minutes[a] & prof.has_minutes[b]
    agree = (prof.minhash[a] == prof.minhash[b]).sum(axis=1)
    agree = np.where(both, agree, 0)
    j = agree / slots
    # expected Jaccard if the two accounts were independent with their own densities
    f_a, f_b = prof.first_ts[a], prof.first_ts[b]
    l_a, l_b = prof.last_ts[a], prof.last_ts[b]
    span_a = (l_a - f_a) / 60.0 + 1.0
    span_b = (l_b - f_b) / 60.0 + 1.0
    overlap = np.maximum((np.minimum(l_a, l_b) - np.maximum(f_a, f_b)) / 60.0 + 1.0, 0.0)
    m_a, m_b = prof.active_minutes[a], prof.active_minutes[b]
    p_a = np.clip(m_a / span_a, 0.0, 1.0)
    p_b = np.clip(m_b / span_b, 0.0, 1.0)
    inter = np.minimum(p_a * p_b * overlap, np.minimum(m_a, m_b))
    union = np.maximum(m_a + m_b - inter, 1.0)
    j0 = np.clip(inter / union, 1e-6, 1.0 - 1e-6)
    p_value = binom.sf(agree - 1, slots, j0)
    significant = both & (p_value < cfg.minute_alpha) & (j >= cfg.minute_min_jaccard)
    platform = (prof.end_users[a] >= cfg.platform_end_users) | (
        prof.end_users[b] >= cfg.platform_end_users
    )
    strength = np.where(significant & ~platform, np.clip((j - j0) / (1.0 - j0), 0.0, 1.0), 0.0)
    return strength, j, j0


def _hourly_corr(prof: Profiles, a: np.ndarray, b: np.ndarray, min_hours: int) -> np.ndarray:
    h = prof.hourly
    if h.shape[1] < 2 or a.size == 0:
        return np.full(a.size, np.nan)
    totals = np.asarray(h.sum(axis=1)).ravel()
    pop = np.asarray(h.sum(axis=0)).ravel()
    g = pop / max(pop.sum(), 1.0)
    gg = float(g @ g)
    n = np.maximum(totals, 1.0)
    hg = np.asarray(h @ g).ravel() / n
    hh = np.asarray(h.multiply(h).sum(axis=1)).ravel() / (n * n)
    var = np.maximum(hh - 2.0 * hg + gg, 1e-12)
    dot = np.asarray(h[a].multiply(h[b]).sum(axis=1)).ravel() / (n[a] * n[b])
    cov = dot - hg[a] - hg[b] + gg
    r = cov / np.sqrt(var[a] * var[b])
    hours = np.diff(h.indptr)
    ok = (hours[a] >= min_hours) & (hours[b] >= min_hours)
    return np.where(ok, np.clip(r, -1.0, 1.0), np.nan)


def _new_model(
    prof: Profiles, a: np.ndarray, b: np.ndarray, cfg: LinkConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    p = a.size
    strength = np.zeros(p)
    best = np.full(p, -1, dtype=np.int64)
    best_dt = np.full(p, np.nan)
    models: list[str] = []
    start = prof.window[0]
    for model, col in prof.model_first.items():
        seen = col[np.isfinite(col)]
        if seen.size < 2 or seen.min() < start + cfg.new_model_margin_s:
            continue
        dt = np.abs(col[a] - col[b])
        s = np.where(np.isfinite(dt) & (dt <= cfg.new_model_s), 1.0 - dt / cfg.new_model_s, 0.0)
        better = s > strength
        if better.any():
            models.append(model)
            strength = np.where(better, s, strength)
            best = np.where(better, len(models) - 1, best)
            best_dt = np.where(better, dt, best_dt)
    return strength, best, best_dt, models


def _close(
    x: np.ndarray, a: np.ndarray, b: np.ndarray, valid: np.ndarray, limit: float
) -> tuple[np.ndarray, np.ndarray]:
    dt = np.abs(x[a] - x[b])
    ok = valid[a] & valid[b] & (dt <= limit)
    return np.where(ok, 1.0 - dt / limit, 0.0), np.where(ok, dt, np.nan)


def new_onsets(prof: Profiles, cfg: LinkConfig) -> np.ndarray:
    """Which accounts *started* inside the data (their onset is not the log's start).

    Parameters
    ----------
    prof : Profiles
        The population.
    cfg : LinkConfig
        ``cohort_margin_s`` and ``cohort_min_expected``.

    Returns
    -------
    numpy.ndarray
        bool per account: the first request lies at least ``cohort_margin_s`` after the
        start of the data, and at the account's own rate (requests after the first over
        its active span, at least an hour) it would have sent ``cohort_min_expected``
        requests in that time had it been active from the start. Platforms (many end
        users) never start as a cohort.
    """
    start = prof.window[0]
    delay = prof.first_ts - start
    span = np.maximum(prof.last_ts - prof.first_ts, HOUR_S)
    rate = np.maximum(prof.n_events - 1.0, 0.0) / span
    platform = prof.end_users >= cfg.platform_end_users
    with np.errstate(invalid="ignore"):
        ok = (delay >= cfg.cohort_margin_s) & (rate * delay >= cfg.cohort_min_expected)
    return np.isfinite(delay) & ok & ~platform


def profile_similarity(
    prof: Profiles, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Topic and behaviour similarity of account pairs.

    Parameters
    ----------
    prof : Profiles
        The population.
    a, b : numpy.ndarray
        Row numbers of the pairs.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        Topic cosine (NaN when either account has no topic counts); behaviour
        similarity (mean of volume within 10x, mean output length within 4x and
        chain-of-thought share, each in [0, 1]); and the profile similarity (the smaller
        of the two: both must agree; behaviour alone when topics are unknown).
    """
    ta, tb = prof.topics[a], prof.topics[b]
    na, nb = np.linalg.norm(ta, axis=1), np.linalg.norm(tb, axis=1)
    known = (na > 0) & (nb > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        topic = np.where(known, (ta * tb).sum(axis=1) / (na * nb), np.nan)
    ratio = np.maximum(prof.n_events[a], 1.0) / np.maximum(prof.n_events[b], 1.0)
    vol = np.clip(1.0 - np.abs(np.log(ratio)) / np.log(10.0), 0.0, 1.0)
    out_len = np.abs(np.log((prof.mean_completion[a] + 1.0) / (prof.mean_completion[b] + 1.0)))
    out_sim = np.clip(1.0 - out_len / np.log(4.0), 0.0, 1.0)
    cot = 1.0 - np.abs(prof.cot_share[a] - prof.cot_share[b])
    behaviour = (vol + out_sim + cot) / 3.0
    profile = np.where(known, np.minimum(np.nan_to_num(topic), behaviour), behaviour)
    return topic, behaviour, profile


def cohort_onsets(
    prof: Profiles,
    table: TokenTable,
    best: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    new: np.ndarray,
    cfg: LinkConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synchronous onset of account pairs on their strongest shared token.

    For every token, the holders that started inside the data (:func:`new_onsets`) are
    sorted by onset and the ``cohort_window_s`` window holding most of them is found:
    that window's holders are the token's *cohort*.

    Parameters
    ----------
    prof : Profiles
        The population.
    table : TokenTable
        The token family (template skeletons or system prompts).
    best : numpy.ndarray
        Column of each pair's strongest shared token of that family (-1 when none).
    a, b : numpy.ndarray
        Row numbers of the pairs.
    new : numpy.ndarray
        :func:`new_onsets` per account.
    cfg : LinkConfig
        ``cohort_window_s``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        Per pair: the size of the token's cohort (0 unless both accounts are in it), the
        token's holders in all, and the share of the window in the span where an onset
        can lie (what a cohort of onsets spread evenly over the data would hold).
    """
    p = a.size
    n_in = np.zeros(p, dtype=np.int64)
    df = np.zeros(p, dtype=np.int64)
    start, end = prof.window
    w = cfg.cohort_window_s
    expected = np.full(p, min(1.0, w / max(end - start - cfg.cohort_margin_s, w)))
    has = best >= 0
    if not has.any() or table.matrix.shape[1] == 0:
        return n_in, df, expected
    df[has] = table.df[best[has]]
    ok = has & new[a] & new[b]
    if not ok.any():
        return n_in, df, expected
    csc = table.matrix.tocsc()
    rows = csc.indices
    cols = np.repeat(np.arange(csc.shape[1]), np.diff(csc.indptr))
    keep = new[rows]
    rows, cols = rows[keep], cols[keep]
    if rows.size == 0:
        return n_in, df, expected
    big = (end - start) + 4.0 * w + 1.0
    rel = prof.first_ts[rows] - start
    order = np.argsort(cols * big + rel, kind="stable")
    keys = (cols * big + rel)[order]
    c_sorted = cols[order]
    # holders of the same token with onset in [t_i, t_i + w], for every holder i
    count = np.searchsorted(keys, keys + w, side="right") - np.arange(keys.size)
    n_cols = csc.shape[1]
    best_count = np.zeros(n_cols, dtype=np.int64)
    np.maximum.at(best_count, c_sorted, count)
    # the earliest window reaching the best count of its token
    is_best = count == best_count[c_sorted]
    win_start = np.full(n_cols, np.inf)
    np.minimum.at(win_start, c_sorted[is_best], keys[is_best] - c_sorted[is_best] * big)
    col = best[ok]
    ra = prof.first_ts[a[ok]] - start
    rb = prof.first_ts[b[ok]] - start
    lo, hi = win_start[col], win_start[col] + w
    inside = (ra >= lo) & (ra <= hi) & (rb >= lo) & (rb <= hi)
    n_in[ok] = np.where(inside, best_count[col], 0)
    return n_in, df, expected


def score_pairs(prof: Profiles, pairs: np.ndarray, cfg: LinkConfig) -> PairEvidence:
    """Evidence, kind strengths and edge weight for every candidate pair.

    Parameters
    ----------
    prof : Profiles
        The population.
    pairs : numpy.ndarray
        ``(pairs, 2)`` row numbers from :func:`~detector.linking.blocking.candidate_pairs`.
    cfg : LinkConfig
        Thresholds.

    Returns
    -------
    PairEvidence
        Evidence of *every* candidate pair; an edge is a pair with
        ``(kinds > 0).sum(axis=1) >= 2`` and ``weight >= cfg.min_edge_weight``
        (:func:`keep_edges`).
    """
    a = pairs[:, 0].astype(np.int64)
    b = pairs[:, 1].astype(np.int64)
    n = prof.size
    platform = prof.end_users >= cfg.platform_end_users
    shared: dict[str, SharedTokens] = {}
    for family in (*INFRA_ITEMS, *CONTENT_ITEMS):
        table = prof.tokens[family]
        spec = specificity(table.df, cfg.df_floor, cfg.cap(n, family))
        if family == "user_agent" and table.df.size:
            spec = np.where(generic_user_agents(table), 0.0, spec)
        if family in CONTENT_ITEMS and table.df.size:
            spec = np.where(generic_tokens(table), 0.0, spec)
        shared[family] = _shared(table, a, b, spec)
    eu = shared["end_user"]
    no_eu = platform[a] | platform[b]
    eu.strength[no_eu] = 0.0
    eu.count[no_eu] = 0
    eu.best[no_eu] = -1

    infra_parts = [shared[f].strength for f in INFRA_ITEMS if f != "user_agent"]
    infra_parts.append(np.minimum(shared["user_agent"].strength, UA_MAX_STRENGTH))
    infra = np.max(np.vstack(infra_parts), axis=0)
    content = np.max(np.vstack([shared[f].strength for f in CONTENT_ITEMS]), axis=0)

    minute, j, j0 = _minute_sync(prof, a, b, cfg)
    start, end = prof.window
    onset_ok = np.isfinite(prof.first_ts) & (prof.first_ts >= start + cfg.onset_margin_s)
    stop_ok = np.isfinite(prof.last_ts) & (prof.last_ts <= end - cfg.onset_margin_s)
    onset, onset_dt = _close(prof.first_ts, a, b, onset_ok & ~platform, cfg.onset_s)
    stop, stop_dt = _close(prof.last_ts, a, b, stop_ok & ~platform, cfg.onset_s)
    hourly_r = _hourly_corr(prof, a, b, cfg.hourly_min_hours)
    hourly = np.where(
        np.nan_to_num(hourly_r, nan=-1.0) >= cfg.hourly_min_corr, np.nan_to_num(hourly_r), 0.0
    )
    new_model, nm_best, nm_dt, models = _new_model(prof, a, b, cfg)
    # synchronous onset on a shared template / system prompt, among similar accounts
    new = new_onsets(prof, cfg)
    topic_sim, behaviour_sim, profile = profile_similarity(prof, a, b)
    cohort = np.zeros(a.size)
    cohort_family = np.zeros(a.size, dtype=np.int64)
    cohort_n = np.zeros(a.size, dtype=np.int64)
    cohort_df = np.zeros(a.size, dtype=np.int64)
    for k, family in enumerate(COHORT_FAMILIES):
        sh = shared[family]
        best = np.where(sh.strength >= cfg.content_min, sh.best, -1)
        n_in, df, expected = cohort_onsets(prof, prof.tokens[family], best, a, b, new, cfg)
        share = n_in / np.maximum(df, 1)
        ok = (
            (n_in >= cfg.cohort_min_holders)
            & (share >= cfg.cohort_min_share)
            & (share >= cfg.cohort_concentration * expected)
            & (profile >= cfg.cohort_min_profile)
        )
        s_k = np.where(ok, np.minimum(share, 1.0) * (0.5 + 0.5 * profile), 0.0)
        better = s_k > cohort
        cohort = np.where(better, s_k, cohort)
        cohort_family = np.where(better, k, cohort_family)
        cohort_n = np.where(better, n_in, cohort_n)
        cohort_df = np.where(better, df, cohort_df)
    cohort_dt = np.abs(prof.first_ts[a] - prof.first_ts[b])
    cohort_day = np.floor((np.minimum(prof.first_ts[a], prof.first_ts[b]) - start) / 86_400.0) + 1
    timing = np.maximum(np.maximum(minute, new_model), cohort)
    # onset, stop and hourly correlation happen by chance too (an office opens at nine):
    # they only support a link that two kinds already make
    support = SUPPORT_WEIGHT * ((onset > 0).astype(float) + (stop > 0) + (hourly > 0))

    kinds = np.stack(
        [
            np.where(infra >= cfg.infra_min, infra, 0.0),
            np.where(content >= cfg.content_min, content, 0.0),
            np.where(timing > 0.0, timing, 0.0),
        ],
        axis=1,
    )
    weight = kinds.sum(axis=1) + support
    return PairEvidence(
        a=a,
        b=b,
        weight=weight,
        kinds=kinds,
        shared=shared,
        minute_j=j,
        minute_j0=j0,
        minute=minute,
        onset_dt=onset_dt,
        stop_dt=stop_dt,
        hourly_r=np.where(hourly > 0, hourly_r, np.nan),
        new_model=nm_best,
        new_model_dt=nm_dt,
        cohort=cohort,
        cohort_family=cohort_family,
        cohort_n=cohort_n,
        cohort_df=cohort_df,
        cohort_dt=np.where(cohort > 0, cohort_dt, np.nan),
        cohort_day=np.where(cohort > 0, cohort_day, np.nan),
        topic_sim=topic_sim,
        behaviour_sim=behaviour_sim,
        models=models,
        tables=prof.tokens,
    )


def keep_edges(evidence: PairEvidence, cfg: LinkConfig) -> PairEvidence:
    """The pairs that become edges: two or more kinds agree and the weight suffices.

    Parameters
    ----------
    evidence : PairEvidence
        Output of :func:`score_pairs`.
    cfg : LinkConfig
        Thresholds.

    Returns
    -------
    PairEvidence
        The edges only.
    """
    n_kinds = (evidence.kinds > 0).sum(axis=1)
    return evidence.select((n_kinds >= 2) & (evidence.weight >= cfg.min_edge_weight))


def kind_names(row: Sequence[float]) -> list[str]:
    """Names of the kinds with a positive strength in one ``kinds`` row."""
    return [k for k, v in zip(KINDS, row, strict=True) if v > 0]
