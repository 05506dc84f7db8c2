"""Synthetic account states for linking tests and benchmarks (no events, no text).

:func:`build_states` turns compact :class:`AccountSpec` descriptions into
:class:`~detector.aggregates.AccountState` objects directly (vectorised MinHash over all
accounts at once), so a population of 100,000 accounts builds in seconds.
:func:`synthetic_population` draws a realistic mix: independent accounts (residential
and cloud prefixes, SDK user agents, their own templates, diurnal timing, a shared
default system prompt), corporate NATs (one prefix, unrelated employees), SaaS back ends
(many end users) and hydra campaigns (a few rented ``/24`` s, one template, synchronised
bursts, chain-of-thought harvesting).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from detector.aggregates import ADDITIVE, HOUR_S, MINHASH_PERM, AccountState
from detector.sketches import hash_ints, hash_strings

__all__ = ["AccountSpec", "build_states", "synthetic_population"]

_IDX = {name: i for i, name in enumerate(ADDITIVE)}
SDK_USER_AGENTS: tuple[str, ...] = (
    "OpenAI/Python 1.54.4",
    "OpenAI/Python 1.82.1",
    "AsyncOpenAI/Python 1.63.2",
    "OpenAI/JS 4.77.0",
    "python-requests/2.32.3",
    "python-httpx/0.27.2",
    "litellm/1.52.0",
)
DEFAULT_SYSTEM_FP = 0x5EED5EED5EED5EED  # "You are a helpful assistant."


@dataclass(slots=True)
class AccountSpec:
    """Compact description of one synthetic account.

    Parameters
    ----------
    account_id : str
        Account id.
    times : numpy.ndarray
        Request times, epoch seconds.
    ips : list of str
        Client IPs (each request picks one, round robin).
    user_agent : str
        User agent.
    skeletons : list of int
        Template skeleton fingerprints (requests spread evenly).
    system : int or None
        System prompt fingerprint.
    model : str
        Model name.
    cot_share, mcq_share, tools_share, logprobs_share, temp0_share : float
        Shares of requests with each property.
    completion_mean : float
        Mean completion tokens.
    end_users : int
        Distinct end users named.
    distinct_prompt_ratio : float
        Distinct prompts / requests.
    model_switch : tuple of (str, float), optional
        A second model and the time from which the account uses it.
    topics : list of float
        Share of prompts on topic ids 0, 1, 2, ... (empty: no topic counts).
    """

    account_id: str
    times: np.ndarray
    ips: list[str]
    user_agent: str
    skeletons: list[int]
    system: int | None = None
    model: str = "gpt-4o"
    cot_share: float = 0.0
    mcq_share: float = 0.0
    tools_share: float = 0.0
    logprobs_share: float = 0.0
    temp0_share: float = 0.0
    completion_mean: float = 300.0
    end_users: int = 0
    distinct_prompt_ratio: float = 0.9
    model_switch: tuple[str, float] | None = None
    api_keys: list[str] = field(default_factory=list)
    topics: list[float] = field(default_factory=list)


def _prefix(ip: str) -> str:
    return ip.rpartition(".")[0] + ".0/24"


def _spread(values: list[object], n: int) -> dict[object, float]:
    """Counts of ``n`` requests spread round robin over ``values``."""
    out: dict[object, float] = {}
    for i, v in enumerate(values):
        out[v] = out.get(v, 0.0) + float(n // len(values) + (1 if i < n % len(values) else 0))
    return {v: c for v, c in out.items() if c > 0}


def _minhash_rows(codes: np.ndarray, minutes: np.ndarray, n_rows: int) -> np.ndarray:
    sig = np.full((n_rows, MINHASH_PERM), np.iinfo(np.uint64).max, dtype=np.uint64)
    if codes.size == 0:
        return sig
    pairs = np.unique(codes * np.int64(1 << 32) + minutes)
    c = pairs >> np.int64(32)
    m = pairs & np.int64((1 << 32) - 1)
    for i in range(MINHASH_PERM):
        np.minimum.at(sig[:, i], c, hash_ints(m, seed=i))
    return sig


def build_states(specs: list[AccountSpec]) -> dict[str, AccountState]:
    """Build one :class:`AccountState` per spec.

    Parameters
    ----------
    specs : list of AccountSpec
        The accounts (each with at least one request).

    Returns
    -------
    dict
        account id -> state, as :func:`~detector.aggregates.aggregate_events` would give
        for the described traffic (counters, the sketches and heavy hitters linking
        reads, MinHash of active minutes, hourly buckets).
    """
    n_acc = len(specs)
    lens = np.array([s.times.size for s in specs], dtype=np.int64)
    codes = np.repeat(np.arange(n_acc, dtype=np.int64), lens)
    times = np.concatenate([np.asarray(s.times, dtype=np.float64) for s in specs])
    order = np.lexsort((times, codes))
    times = times[order]
    bounds = np.r_[0, np.cumsum(lens)]
    sig = _minhash_rows(codes, (times // 60).astype(np.int64), n_acc)

    def per_account(attr: str) -> np.ndarray:
        return np.array([float(getattr(s, attr)) for s in specs])

    n = lens.astype(np.float64)
    comp = per_account("completion_mean")
    table = np.zeros((n_acc, len(ADDITIVE)))
    table[:, _IDX["n"]] = n
    table[:, _IDX["sum_prompt_tokens"]] = 200.0 * n
    table[:, _IDX["sum_completion_tokens"]] = comp * n
    table[:, _IDX["sumsq_completion_tokens"]] = comp * comp * 1.2 * n
    table[:, _IDX["n_cot"]] = np.round(per_account("cot_share") * n)
    table[:, _IDX["sum_cot_score"]] = per_account("cot_share") * n * 0.8
    table[:, _IDX["n_mcq"]] = np.round(per_account("mcq_share") * n)
    table[:, _IDX["n_tools"]] = np.round(per_account("tools_share") * n)
    table[:, _IDX["n_temp0"]] = np.round(per_account("temp0_share") * n)
    lp = np.round(per_account("logprobs_share") * n)
    table[:, _IDX["n_logprobs"]] = lp
    table[:, _IDX["n_top_logprobs_ge5"]] = lp
    table[:, _IDX["sum_top_logprobs"]] = 5.0 * lp
    table[:, _IDX["n_has_system"]] = np.array([s.system is not None for s in specs]) * n
    table[:, _IDX["n_has_end_user"]] = np.array([s.end_users > 0 for s in specs]) * n
    table[:, _IDX["sum_prompt_words"]] = 120.0 * n
    same = codes[1:] == codes[:-1]
    gaps = np.diff(times)[same]
    gcode = codes[1:][same]
    table[:, _IDX["gap_n"]] = np.bincount(gcode, minlength=n_acc)
    table[:, _IDX["gap_sum"]] = np.bincount(gcode, weights=gaps, minlength=n_acc)
    table[:, _IDX["gap_sumsq"]] = np.bincount(gcode, weights=gaps * gaps, minlength=n_acc)
    hod = np.zeros((n_acc, 24), dtype=np.int64)
    np.add.at(hod, (codes, ((times // HOUR_S) % 24).astype(np.int64)), 1)
    hour_keys, hour_counts = np.unique(
        codes * np.int64(1 << 32) + (times // HOUR_S).astype(np.int64), return_counts=True
    )
    hour_code = hour_keys >> np.int64(32)
    hour_of = (hour_keys & np.int64((1 << 32) - 1)).tolist()
    hour_bounds = np.searchsorted(hour_code, np.arange(n_acc + 1))
    per_hour = hour_counts.astype(np.float64)
    hourly_rows = np.stack(
        [
            per_hour,
            per_hour * comp[hour_code],
            per_hour * np.array([s.cot_share for s in specs])[hour_code],
        ],
        axis=1,
    )

    strings: set[str] = set()
    for s in specs:
        strings.update(s.ips or ["198.51.100.7"])
        strings.update(s.api_keys)
    ordered = sorted(strings)
    hashed = dict(zip(ordered, hash_strings(ordered).tolist(), strict=True))
    states: dict[str, AccountState] = {}
    for k, s in enumerate(specs):
        st = AccountState()
        st.counts = table[k]
        st.hour_of_day = hod[k]
        if s.topics:
            share = np.zeros(st.topic_hist.size)
            share[: len(s.topics)] = np.asarray(s.topics[: share.size], dtype=np.float64)
            st.topic_hist = np.round(share / max(share.sum(), 1e-12) * lens[k]).astype(np.int64)
        t = times[bounds[k] : bounds[k + 1]]
        st.first_ts = float(t[0])
        st.last_ts = float(t[-1])
        lo, hi = hour_bounds[k], hour_bounds[k + 1]
        st.hourly = dict(zip(hour_of[lo:hi], hourly_rows[lo:hi], strict=True))
        total = int(lens[k])
        ips = s.ips or ["198.51.100.7"]
        st.tops["ip_prefix"].update(_spread([_prefix(ip) for ip in ips], total))
        st.tops["user_agent"].update({s.user_agent: float(total)})
        if s.skeletons:
            st.tops["skeleton"].update(_spread([np.uint64(x) for x in s.skeletons], total))
        if s.system is not None:
            st.tops["system"].update({np.uint64(s.system): float(total)})
        first_use = {s.model: st.first_ts}
        if s.model_switch is not None:
            new, at = s.model_switch
            later = t[t >= at]
            use = {s.model: float(total - later.size), new: float(later.size)}
            st.tops["model"].update({m: v for m, v in use.items() if v > 0})
            first_use = {m: st.first_ts for m, v in use.items() if v > 0}
            if later.size:
                first_use[new] = float(later[0])
        else:
            st.tops["model"].update({s.model: float(total)})
        if hasattr(st, "model_first"):
            st.model_first = first_use
        sk = st.sketches
        # the distinct counters linking reads (prefix / UA / model counts are not used)
        sk["ip"].add_hashes(np.array([hashed[v] for v in sorted(set(ips))], dtype=np.uint64))
        if s.api_keys:
            sk["api_key"].add_hashes(np.array([hashed[v] for v in s.api_keys], dtype=np.uint64))
        base = np.uint64(k) << np.uint64(32)
        if s.end_users:
            sk["end_user"].add_hashes(hash_ints(base + np.arange(s.end_users, dtype=np.uint64), 1))
        distinct = max(1, round(s.distinct_prompt_ratio * total))
        sk["prompt"].add_hashes(hash_ints(base + np.arange(distinct, dtype=np.uint64), 2))
        if s.skeletons:
            sk["skeleton"].add_hashes(np.array(s.skeletons, dtype=np.uint64))
        if s.system is not None:
            sk["system"].add_hashes(np.array([s.system], dtype=np.uint64))
        st.minutes.values = sig[k].copy()
        states[s.account_id] = st
    return states


def _diurnal_times(
    rng: np.random.Generator,
    lo: np.ndarray,
    hi: np.ndarray,
    counts: np.ndarray,
    diurnal: np.ndarray,
) -> list[np.ndarray]:
    """Request times for many accounts at once (uniform, or mostly in working hours)."""
    code = np.repeat(np.arange(counts.size), counts)
    t = lo[code] + rng.random(code.size) * (hi[code] - lo[code])
    tz = rng.integers(0, 24, counts.size)[code] * HOUR_S
    day = np.floor((t + tz) / 86_400.0)
    office = day * 86_400.0 - tz + (8.0 + 11.0 * rng.random(code.size)) * HOUR_S
    move = diurnal[code] & (rng.random(code.size) < 0.85)
    t = np.where(move, np.clip(office, lo[code], hi[code]), t)
    order = np.lexsort((t, code))
    return np.split(t[order], np.cumsum(counts)[:-1])


def _ips(rng: np.random.Generator, firsts: np.ndarray) -> list[str]:
    rest = rng.integers(0, 256, (firsts.size, 3))
    return [
        f"{a}.{b}.{c}.{d % 254 + 1}"
        for a, (b, c, d) in zip(firsts.tolist(), rest.tolist(), strict=True)
    ]


def synthetic_population(
    n_accounts: int,
    *,
    campaign_share: float = 0.05,
    campaign_size: tuple[int, int] = (20, 200),
    nat_groups: int = 0,
    seed: int = 0,
    start: float = 1_735_689_600.0,
    days: float = 2.0,
) -> tuple[list[AccountSpec], dict[str, str]]:
    """Draw a population of independent accounts, corporate NATs and hydra campaigns.

    Parameters
    ----------
    n_accounts : int
        Total accounts.
    campaign_share : float
        Share of accounts that belong to hydra campaigns.
    campaign_size : (int, int)
        Smallest and largest campaign.
    nat_groups : int
        Corporate NATs of 20-60 unrelated employees each (default: one per 2,000
        accounts).
    seed : int
        Random seed.
    start : float
        Start of the window, epoch seconds.
    days : float
        Length of the window.

    Returns
    -------
    (list of AccountSpec, dict)
        The specs, and account id -> ground truth (``benign``, ``nat``, ``saas`` or the
        campaign id ``hydra-<k>``).
    """
    rng = np.random.default_rng(seed)
    end = start + days * 86_400.0
    specs: list[AccountSpec] = []
    truth: dict[str, str] = {}
    remaining = int(n_accounts * campaign_share)
    k = 0
    while remaining >= 2:
        size = min(int(rng.integers(campaign_size[0], campaign_size[1] + 1)), remaining)
        remaining -= size
        nets = [
            f"{int(rng.choice([45, 51, 95, 141, 159, 167]))}.{rng.integers(0, 256)}."
            f"{rng.integers(0, 256)}"
            for _ in range(int(rng.integers(2, 6)))
        ]
        skeleton = int(rng.integers(1, 2**63))
        system = int(rng.integers(1, 2**63))
        ua = str(rng.choice(SDK_USER_AGENTS)) if rng.random() < 0.6 else f"harvest-kit/{k}.0"
        c_start = rng.uniform(start + 3600, start + 0.5 * (end - start))
        c_end = min(end, c_start + rng.uniform(6, 30) * HOUR_S)
        # the orchestrator fires bursts; each account joins most of them
        bursts = np.sort(rng.uniform(c_start, c_end, int(rng.integers(20, 80))))
        for j in range(size):
            net = nets[j % len(nets)]
            ips = [f"{net}.{rng.integers(1, 255)}" for _ in range(int(rng.integers(1, 4)))]
            take = bursts[rng.random(bursts.size) < 0.7]
            if take.size == 0:
                take = bursts[:1]
            t = (take[:, None] + rng.uniform(0, 50, (take.size, 2))).ravel()
            aid = f"hydra{k:03d}-{j:04d}-{rng.integers(1 << 30):08x}"
            specs.append(
                AccountSpec(
                    aid,
                    np.sort(t),
                    ips,
                    ua,
                    [skeleton],
                    system,
                    cot_share=float(rng.uniform(0.6, 0.95)),
                    completion_mean=float(rng.uniform(900, 2500)),
                    distinct_prompt_ratio=1.0,
                )
            )
            truth[aid] = f"hydra-{k}"
        k += 1
    # corporate NATs: unrelated employees behind one prefix, office hours, SDK clients
    nat_groups = nat_groups or max(1, n_accounts // 2000)
    for g in range(nat_groups):
        net = f"{int(rng.choice([12, 38, 63, 144, 192]))}.{rng.integers(0, 256)}.{g % 256}"
        size = int(rng.integers(20, 61))
        counts = rng.integers(10, 120, size)
        times = _diurnal_times(
            rng, np.full(size, start), np.full(size, end), counts, np.ones(size, dtype=bool)
        )
        for j in range(size):
            aid = f"corp{g:03d}-{j:03d}"
            specs.append(
                AccountSpec(
                    aid,
                    times[j],
                    [f"{net}.{rng.integers(1, 5)}"],
                    str(rng.choice(SDK_USER_AGENTS)),
                    [int(x) for x in rng.integers(1, 2**63, int(rng.integers(1, 4)))],
                    DEFAULT_SYSTEM_FP if rng.random() < 0.5 else None,
                    cot_share=float(rng.uniform(0.0, 0.2)),
                )
            )
            truth[aid] = "nat"
    # independent accounts: residential or cloud prefixes, mostly SDK user agents
    m = max(n_accounts - len(specs), 0)
    counts = np.minimum(rng.lognormal(3.0, 1.2, m) + 3, 3000).astype(np.int64)
    datacenter = rng.random(m) < 0.3
    a0 = rng.uniform(start, end - 3600, m)
    a1 = a0 + 600 + rng.random(m) * (end - a0 - 600)
    times = _diurnal_times(rng, a0, np.minimum(a1, end), counts, ~datacenter)
    n_ips = rng.integers(1, 3, m)
    firsts = np.where(
        np.repeat(datacenter, n_ips),
        rng.choice([3, 18, 34, 35, 52, 54, 104, 143, 159, 167], n_ips.sum()),
        rng.choice([24, 67, 71, 73, 79, 86, 90, 98, 108, 126], n_ips.sum()),
    )
    ips = _ips(rng, firsts)
    ip_bounds = np.r_[0, np.cumsum(n_ips)]
    uas = rng.choice(np.array(SDK_USER_AGENTS, dtype=object), m)
    custom = rng.random(m) >= 0.85
    saas = rng.random(m) < 0.03
    n_sk = rng.integers(1, 4, m)
    skeletons = rng.integers(1, 2**63, (m, 3))
    has_default = rng.random(m) < 0.3
    cot = rng.beta(1, 8, m)
    mcq = (rng.random(m) < 0.05) * 0.8
    tools = (rng.random(m) < 0.1) * 0.7
    end_users = np.where(saas, rng.integers(60, 400, m), 0)
    tags = rng.integers(1 << 30, size=m)
    for i in range(m):
        aid = f"acct-{i:06d}-{tags[i]:08x}"
        specs.append(
            AccountSpec(
                aid,
                times[i],
                ips[ip_bounds[i] : ip_bounds[i + 1]],
                f"my-app/{i % 997}.0" if custom[i] else str(uas[i]),
                skeletons[i, : n_sk[i]].tolist(),
                DEFAULT_SYSTEM_FP if has_default[i] else None,
                cot_share=float(cot[i]),
                mcq_share=float(mcq[i]),
                tools_share=float(tools[i]),
                end_users=int(end_users[i]),
            )
        )
        truth[aid] = "saas" if saas[i] else "benign"
    return specs, truth
