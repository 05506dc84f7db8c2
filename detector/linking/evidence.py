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
    two independent accounts with the same activity densities would show), or the same
    newly released model adopted within minutes. A simultaneous onset or stop and
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

from detector.linking.blocking import generic_user_agents
from detector.linking.config import KINDS, LinkConfig
from detector.linking.profiles import Profiles, TokenTable

__all__ = [
    "CONTENT_ITEMS",
    "INFRA_ITEMS",
    "PairEvidence",
    "SharedTokens",
    "keep_edges",
    "score_pairs",
    "specificity",
]

INFRA_ITEMS: tuple[str, ...] = ("ip_prefix", "ip", "api_key", "end_user", "user_agent")
CONTENT_ITEMS: tuple[str, ...] = ("skeleton", "system")
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
    timing = np.maximum(minute, new_model)
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
