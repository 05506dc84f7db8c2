"""Account kinds: who the simulated accounts are and how each kind sends requests.

A *plan* is columnar: each planner returns a :data:`Block`, a dict of equal-length
numpy arrays (one row per request) with the columns of :data:`COLUMNS`. Texts are not
materialised here; rows point into the prompt pools (``pool``, ``item``), the system
prompt table (``sysp``) and the template table (``tmpl``) of the :class:`Context`, and
the writers render them. All randomness comes from the generator passed in.

Volumes are "requests per account per day at ``scale`` 1"; the engine multiplies them
by ``scale`` (``--events-scale`` / ``--target-events``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from distillsim.legacy import corpora as C
from distillsim.legacy import infra
from distillsim.legacy.traces import (
    TraceShapes,
    gamma_renewal,
    human_profile,
    intensity_grid,
    session_arrivals,
)

__all__ = [
    "BENIGN_KINDS",
    "BLATANT_KINDS",
    "COLUMNS",
    "DEFAULT_MIX",
    "DISTILL_KINDS",
    "KINDS",
    "MODELS",
    "Account",
    "Block",
    "Campaign",
    "Context",
    "ModelSpec",
    "build_population",
    "kind_counts",
    "new_account",
    "plan_account",
    "plan_campaign",
]

Block = dict[str, np.ndarray]

BENIGN_KINDS: tuple[str, ...] = ("chat", "saas", "batch", "eval", "coding_agent", "researcher")
DISTILL_KINDS: tuple[str, ...] = (
    "cot_harvest",
    "hydra",
    "logprob_harvest",
    "logit_bias_probe",
    "math_harvest",
    "mixed",
    "reseller",
)
KINDS: tuple[str, ...] = BENIGN_KINDS + DISTILL_KINDS
# Opt-in distillation kinds (``SimConfig.blatant``), never part of a mix: accounts that
# harvest at dozens to hundreds of requests per minute from their first minute. They are
# planned from their own random streams, so adding them leaves every other account (and
# the committed samples) unchanged.
BLATANT_KINDS: tuple[str, ...] = ("blatant_cot_harvest", "blatant_logprob_harvest")

# Share of accounts per kind (sums to 1).
DEFAULT_MIX: dict[str, float] = {
    "chat": 0.55,
    "saas": 0.04,
    "batch": 0.04,
    "eval": 0.03,
    "coding_agent": 0.05,
    "researcher": 0.03,
    "cot_harvest": 0.02,
    "hydra": 0.15,
    "logprob_harvest": 0.02,
    "logit_bias_probe": 0.015,
    "math_harvest": 0.02,
    "mixed": 0.02,
    "reseller": 0.015,
}

# column -> (dtype, default)
COLUMNS: dict[str, tuple[str, Any]] = {
    "ts": ("f8", 0.0),
    "acct": ("i4", 0),
    "key": ("i2", 0),
    "eu": ("i4", -1),
    "ip": ("i2", 0),
    "client": ("i2", 0),
    "model": ("i1", 0),
    "sysp": ("i4", -1),
    "pool": ("i1", 0),
    "item": ("i4", 0),
    "tmpl": ("i2", -1),
    "turn": ("i2", 0),
    "fup": ("i2", -1),
    "ptok": ("i4", 0),
    "ctok": ("i4", 0),
    "rtok": ("i4", 0),
    "maxt": ("i4", -1),
    "temp": ("f4", np.nan),
    "top_p": ("f4", np.nan),
    "n": ("i1", 1),
    "lp": ("?", False),
    "tlp": ("i1", 0),
    "lb": ("i2", 0),
    "lbo": ("i4", 0),
    "seed": ("i4", -1),
    "stream": ("?", False),
    "tools": ("i1", 0),
    "toolset": ("i1", 0),
    "rf": ("i1", 0),
    "finish": ("i1", 0),
    "status": ("i1", 0),
    "lat": ("f4", 0.0),
    "ttft": ("f4", 0.0),
}
FINISH = ("stop", "length", "tool_calls")
RESPONSE_FORMATS = (None, "json_object", "text")
FUP_SOURCE = -2  # follow-up taken from the source corpus (hh-rlhf next turn, mt-bench turn 2)
FUP_AGENT = -3  # coding-agent loop step (assistant tool call + tool result in the history)
STATUS = ("success", "rate_limited", "unknown_model")
BAD_MODELS = ("gpt-4o-mini-2024", "gpt5", "claude-3-5-sonnet", "gpt-4-turbo-preview")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model served by the simulated gateway.

    Parameters
    ----------
    name : str
        Model name clients ask for (LiteLLM ``model_group``).
    deployment : str
        Provider model (LiteLLM ``model``).
    max_output : int
        Largest allowed ``max_tokens``.
    max_input : int
        Context window.
    input_cost, output_cost : float
        USD per token.
    reasoning : bool
        Whether it emits hidden reasoning tokens.
    tps : float
        Output tokens per second.
    ttft : float
        Median time to first token, seconds.
    """

    name: str
    deployment: str
    max_output: int
    max_input: int
    input_cost: float
    output_cost: float
    reasoning: bool
    tps: float
    ttft: float


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("gpt-4o-mini", "openai/gpt-4o-mini", 16384, 128000, 1.5e-7, 6e-7, False, 95.0, 0.35),
    ModelSpec("gpt-4o", "openai/gpt-4o", 16384, 128000, 2.5e-6, 1e-5, False, 70.0, 0.5),
    ModelSpec("o3-mini", "openai/o3-mini", 100000, 200000, 1.1e-6, 4.4e-6, True, 110.0, 0.6),
    ModelSpec("gpt-next", "openai/gpt-next", 32768, 256000, 3e-6, 1.2e-5, True, 80.0, 0.7),
)
M_MINI, M_4O, M_O3, M_NEXT = range(4)


@dataclass(slots=True)
class Account:
    """A simulated account with its ground truth and its network identity."""

    index: int
    account_id: str
    kind: str
    label: str
    campaign: str
    placement: str
    org_id: str | None
    org_alias: str | None
    team_id: str | None
    team_alias: str | None
    user_id: str | None
    keys: list[str]
    key_hashes: list[str]
    key_aliases: list[str]
    ips: list[str]
    clients: list[infra.Client]
    tz: float
    end_user_prefix: str = ""
    n_end_users: int = 0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Campaign:
    """A hydra campaign: many small accounts run by one operator."""

    campaign_id: str
    members: list[int]
    slash24: str
    ips: list[str]
    client: infra.Client
    templates: list[int]
    pool_mix: dict[str, float]
    model: int
    switches: bool
    onset: float
    params: dict[str, Any]


@dataclass(slots=True)
class Context:
    """Everything planners share: the period, the prompt pack, traces and tables.

    Parameters
    ----------
    start : float
        Period start, epoch seconds.
    days : float
        Period length in days.
    release : float
        When ``gpt-next`` becomes available (epoch seconds).
    scale : float
        Volume multiplier.
    pack : corpora.PromptPack
    traces : traces.TraceShapes
    """

    start: float
    days: float
    release: float
    scale: float
    pack: C.PromptPack
    traces: TraceShapes
    systems: list[str] = field(default_factory=list)
    sys_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    templates: list[str] = field(default_factory=list)
    tmpl_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    sys_index: dict[str, list[int]] = field(default_factory=dict)
    tmpl_index: dict[str, list[int]] = field(default_factory=dict)
    bias_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    followup_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    hh_followups: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    @property
    def end(self) -> float:
        """Period end, epoch seconds."""
        return self.start + self.days * 86400.0

    @classmethod
    def create(
        cls,
        start: float,
        days: float,
        release: float,
        scale: float,
        pack: C.PromptPack,
        traces: TraceShapes,
    ) -> Context:
        """Build the context and its system prompt / template tables."""
        ctx = cls(start=start, days=days, release=release, scale=scale, pack=pack, traces=traces)
        orca = pack.by_name("openorca").extra["system"][0]
        groups = {
            "generic": list(C.GENERIC_SYSTEM_PROMPTS),
            "saas": list(C.SAAS_SYSTEM_PROMPTS),
            "cot": [orca, *C.COT_SYSTEM_PROMPTS[1:]],
            "agent": list(C.AGENT_SYSTEM_PROMPTS),
        }
        for name, texts in groups.items():
            ctx.sys_index[name] = list(range(len(ctx.systems), len(ctx.systems) + len(texts)))
            ctx.systems += texts
        tgroups = {
            "hydra": list(C.HYDRA_TEMPLATES),
            "math": list(C.MATH_HARVEST_TEMPLATES),
            "batch": list(C.BATCH_TEMPLATES),
            "eval": [C.EVAL_TEMPLATES[k] for k in ("gsm8k_cot", "math_cot", "mt_bench", "mcq")],
            "cot_suffix": ["{q}" + s for s in C.COT_USER_SUFFIXES[1:]],
        }
        for name, texts in tgroups.items():
            ctx.tmpl_index[name] = list(range(len(ctx.templates), len(ctx.templates) + len(texts)))
            ctx.templates += texts
        ctx.sys_tokens = np.array([C.estimate_tokens(t) for t in ctx.systems], dtype=np.int32)
        ctx.tmpl_tokens = np.array(
            [C.estimate_tokens(t.replace("{q}", "")) if t != "{q}" else 0 for t in ctx.templates],
            dtype=np.int32,
        )
        ctx.tmpl_tokens[ctx.tmpl_index["eval"][3]] = 45  # MCQ wrapper and four options
        ctx.followup_tokens = np.array([C.estimate_tokens(t) for t in C.FOLLOWUPS], np.int32)
        ctx.hh_followups = np.array(
            [len(f) for f in pack.by_name("hh_rlhf").extra["followups"]], dtype=np.int32
        )
        brng = np.random.default_rng(1234567)
        ctx.bias_tokens = brng.integers(10, 199_000, size=1 << 16).astype(np.int32)
        return ctx


# --- helpers ----------------------------------------------------------------------------


def empty_block(n: int) -> Block:
    """Return a block of ``n`` rows with every column at its default."""
    return {k: np.full(n, d, dtype=t) for k, (t, d) in COLUMNS.items()}


def concat_blocks(blocks: list[Block]) -> Block:
    """Concatenate blocks row-wise (an empty list gives an empty block)."""
    blocks = [b for b in blocks if len(b["ts"])]
    if not blocks:
        return empty_block(0)
    return {k: np.concatenate([b[k] for b in blocks]) for k in COLUMNS}


def _hex(rng: np.random.Generator, n: int) -> str:
    return rng.bytes((n + 1) // 2).hex()[:n]


def _choice(rng: np.random.Generator, seq: list[Any] | tuple[Any, ...]) -> Any:
    return seq[int(rng.integers(len(seq)))]


def _weighted(rng: np.random.Generator, weights: dict[Any, float], size: int) -> np.ndarray:
    keys = list(weights)
    p = np.asarray([weights[k] for k in keys], dtype=np.float64)
    idx = rng.choice(len(keys), size=size, p=p / p.sum())
    return np.asarray(keys, dtype=object)[idx] if size else np.empty(0, dtype=object)


def _rate_grid(
    ctx: Context,
    daily: float,
    profile: np.ndarray | None = None,
    tz: float = 0.0,
    floor: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges and per-bin rate (req/s) for ``daily`` requests/day shaped by a profile."""
    edges = intensity_grid(ctx.start, ctx.end)
    mids = edges[:-1] + 30.0
    if profile is None:
        shape = np.ones(len(mids))
    else:
        hour = ((mids - ctx.start) / 3600.0 + tz) % 24.0
        if profile.shape == (144,):
            shape = profile[(hour * 6.0).astype(int) % 144]
        else:
            raise ValueError("profile must have 144 bins")
        shape = floor + (1.0 - floor) * shape / max(shape.mean(), 1e-9)
    rate = daily * ctx.scale / 86400.0 * shape / max(shape.mean(), 1e-9)
    return edges, rate


def _profile_bins(fn: Any, **kw: Any) -> np.ndarray:
    return fn(np.arange(144) / 6.0 + 1.0 / 12.0, **kw)


def _prompts(
    rng: np.random.Generator, ctx: Context, mix: dict[str, float], n: int
) -> tuple[np.ndarray, np.ndarray]:
    names = _weighted(rng, mix, n)
    pool = np.zeros(n, np.int8)
    item = np.zeros(n, np.int32)
    for name in mix:
        sel = names == name
        k = int(sel.sum())
        if k:
            pool[sel] = C.PromptPack.pool_id(name)
            item[sel] = rng.integers(0, len(ctx.pack.by_name(name)), size=k)
    return pool, item


def user_tokens(ctx: Context, pool: np.ndarray, item: np.ndarray, tmpl: np.ndarray) -> np.ndarray:
    """Estimated tokens of the (templated) user text of each row."""
    out = np.zeros(len(pool), np.int32)
    for pid in np.unique(pool):
        sel = pool == pid
        out[sel] = ctx.pack.pools[int(pid)].tokens[item[sel]]
    has_t = tmpl >= 0
    out[has_t] += ctx.tmpl_tokens[tmpl[has_t]]
    return out


def resp_tokens(
    rng: np.random.Generator, ctx: Context, pool: np.ndarray, item: np.ndarray, fallback: str
) -> np.ndarray:
    """Reference-answer length per row where the corpus has one, else a trace draw."""
    out = ctx.traces.sample(rng, fallback, len(pool))
    for pid in np.unique(pool):
        p = ctx.pack.pools[int(pid)]
        if p.resp_tokens is not None:
            sel = pool == pid
            out[sel] = p.resp_tokens[item[sel]] * rng.lognormal(0.0, 0.25, int(sel.sum()))
    return np.maximum(out, 1.0)


def finalize_tokens(
    rng: np.random.Generator,
    b: Block,
    visible: np.ndarray,
) -> None:
    """Fill ``ctok``, ``rtok``, ``finish`` and latencies from the visible answer length.

    Reasoning models add hidden reasoning tokens (counted in ``ctok`` as the API does);
    output is clipped at ``maxt`` (``finish`` = length).
    """
    n = len(visible)
    if n == 0:
        return
    model = b["model"].astype(np.int64)
    reasoning = np.array([m.reasoning for m in MODELS])[model]
    if reasoning.any():
        # reasoning models reject sampling parameters, logprobs and logit_bias: clients drop them
        b["temp"][reasoning] = np.nan
        b["top_p"][reasoning] = np.nan
        b["lp"][reasoning] = False
        b["tlp"][reasoning] = 0
        b["lb"][reasoning] = 0
    vis = np.maximum(np.rint(visible), 1).astype(np.int64)
    rtok = np.where(reasoning, np.rint(vis * rng.uniform(0.3, 2.5, n)), 0).astype(np.int64)
    nn = b["n"].astype(np.int64)
    per_choice = vis + rtok
    maxt = b["maxt"].astype(np.int64)
    limited = (maxt > 0) & (per_choice >= maxt)
    per_choice = np.where(limited, maxt, per_choice)
    rtok = np.minimum(rtok, per_choice)
    b["ctok"] = (per_choice * nn).astype(np.int32)
    b["rtok"] = (rtok * nn).astype(np.int32)
    keep = b["finish"] == 2  # tool calls stay tool calls unless truncated
    b["finish"] = np.where(limited, 1, np.where(keep, 2, 0)).astype(np.int8)
    tps = np.array([m.tps for m in MODELS])[model] * rng.lognormal(0.0, 0.18, n)
    ttft = np.array([m.ttft for m in MODELS])[model] * rng.lognormal(0.0, 0.45, n)
    ttft = ttft + b["ptok"] / 40000.0 + rtok / tps
    b["ttft"] = ttft.astype(np.float32)
    b["lat"] = (ttft + (per_choice - rtok) / tps + rng.uniform(0.005, 0.03, n)).astype(np.float32)


def base_prompt_tokens(ctx: Context, b: Block) -> np.ndarray:
    """System + user + message-overhead tokens of each row (no history)."""
    ut = user_tokens(ctx, b["pool"], b["item"], b["tmpl"])
    has_sys = b["sysp"] >= 0
    st = np.where(has_sys, ctx.sys_tokens[np.maximum(b["sysp"], 0)], 0)
    return (ut + st + 3 + 4 * (1 + has_sys)).astype(np.int32)


def assign_models(
    rng: np.random.Generator,
    ts: np.ndarray,
    base: dict[int, float],
    adopt_at: float,
    next_share: float,
) -> np.ndarray:
    """Pick a model per row: ``base`` mix, then ``gpt-next`` with ``next_share`` after adoption."""
    n = len(ts)
    keys = list(base)
    p = np.asarray([base[k] for k in keys], dtype=np.float64)
    model = np.asarray(keys, dtype=np.int8)[rng.choice(len(keys), size=n, p=p / p.sum())]
    if np.isfinite(adopt_at):
        switch = (ts >= adopt_at) & (rng.random(n) < next_share)
        model[switch] = M_NEXT
    return model


def _adoption(
    rng: np.random.Generator, ctx: Context, p_adopt: float, mean_delay_h: float
) -> tuple[float, float]:
    if rng.random() >= p_adopt:
        return float("inf"), 0.0
    return ctx.release + rng.exponential(mean_delay_h * 3600.0), float(rng.uniform(0.25, 0.9))


def _ensure_one(rng: np.random.Generator, ctx: Context, ts: np.ndarray, tz: float) -> np.ndarray:
    """Guarantee at least one request (a low-volume account still shows up once)."""
    if len(ts):
        return ts
    day = int(rng.integers(0, max(1, int(ctx.days))))
    hour = (rng.uniform(9.0, 21.0) - tz) % 24.0
    t = ctx.start + day * 86400.0 + hour * 3600.0
    return np.array([min(t, ctx.end - 1.0)])


def _failures(rng: np.random.Generator, b: Block, p_rate: float, p_unknown: float) -> None:
    n = len(b["ts"])
    if not n:
        return
    u = rng.random(n)
    status = np.where(u < p_rate, 1, np.where(u < p_rate + p_unknown, 2, 0)).astype(np.int8)
    b["status"] = status


def _end_user_zipf(
    rng: np.random.Generator, n_users: int, size: int, a: float = 1.15
) -> np.ndarray:
    ranks = np.arange(1, n_users + 1, dtype=np.float64)
    p = ranks**-a
    perm = rng.permutation(n_users)
    return perm[rng.choice(n_users, size=size, p=p / p.sum())].astype(np.int32)


# --- population -------------------------------------------------------------------------


def kind_counts(n_accounts: int, mix: dict[str, float] | None = None) -> dict[str, int]:
    """Split ``n_accounts`` into kinds by largest remainder (every kind >= 1 when possible).

    Parameters
    ----------
    n_accounts : int
        Total accounts.
    mix : dict, optional
        Kind -> share; :data:`DEFAULT_MIX` by default.

    Returns
    -------
    dict
        Kind -> count, summing to ``n_accounts``.
    """
    mix = dict(mix or DEFAULT_MIX)
    total = sum(mix.values())
    raw = {k: n_accounts * v / total for k, v in mix.items()}
    counts = {k: int(np.floor(v)) for k, v in raw.items()}
    if n_accounts >= len(mix):
        for k in counts:
            if mix[k] > 0 and counts[k] == 0:
                counts[k] = 1
    rest = n_accounts - sum(counts.values())
    order = sorted(mix, key=lambda k: (-(raw[k] - np.floor(raw[k])), KINDS.index(k)))
    i = 0
    while rest > 0:
        counts[order[i % len(order)]] += 1
        rest -= 1
        i += 1
    while rest < 0:  # the forced minimum of 1 overshot: take from the largest kinds
        k = max(counts, key=lambda q: (counts[q], -KINDS.index(q)))
        counts[k] -= 1
        rest += 1
    return counts


_ALIASES = (
    "default",
    "prod",
    "production",
    "backend",
    "dev",
    "staging",
    "worker",
    "main",
    "api",
    "app",
    "server",
    "local",
    "test",
    "service",
    "pipeline",
    "my-key",
    "key-1",
    "key-2",
    "integration",
    "laptop",
)
_TEAM_WORDS = ("Core", "Platform", "Research", "Data", "Apps", "Growth", "Labs", "Ops", "AI", "ML")
_TZS = (-8.0, -7.0, -6.0, -5.0, -5.0, -3.0, 0.0, 1.0, 1.0, 2.0, 3.0, 5.5, 8.0, 8.0, 9.0, 10.0)


def _identity(rng: np.random.Generator) -> dict[str, Any]:
    placement = _weighted(rng, {"org": 0.8, "team": 0.12, "user": 0.08}, 1)[0]
    org = f"org-{_hex(rng, 10)}"
    team = f"team-{_hex(rng, 8)}"
    user = f"user-{_hex(rng, 8)}"
    word = _choice(rng, _TEAM_WORDS)
    if placement == "org":
        ident = dict(
            account_id=org,
            org_id=org,
            org_alias=f"Org {_hex(rng, 4).upper()}",
            team_id=team if rng.random() < 0.7 else None,
            user_id=user if rng.random() < 0.8 else None,
        )
    elif placement == "team":
        ident = dict(account_id=team, org_id=None, org_alias=None, team_id=team, user_id=user)
    else:
        ident = dict(account_id=user, org_id=None, org_alias=None, team_id=None, user_id=user)
    ident["team_alias"] = f"{word} {_hex(rng, 3)}" if ident["team_id"] else None
    ident["placement"] = placement
    return ident


def _keys(rng: np.random.Generator, k: int) -> tuple[list[str], list[str], list[str]]:
    alphabet = np.frombuffer(
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "S1"
    )
    keys, hashes, aliases = [], [], []
    for _ in range(k):
        key = "sk-" + b"".join(alphabet[rng.integers(0, len(alphabet), 40)]).decode()
        keys.append(key)
        hashes.append(hashlib.sha256(key.encode()).hexdigest())
        aliases.append(_choice(rng, _ALIASES) if rng.random() < 0.85 else None)
    return keys, hashes, aliases


def _network(
    rng: np.random.Generator, kind: str, tz: float
) -> tuple[list[str], list[infra.Client]]:
    res = infra.residential_prefixes(tz)
    dc = infra.DATACENTER_PREFIXES

    def client(fam: str) -> infra.Client:
        return infra.make_client(rng, fam)

    def fam(weights: dict[str, float]) -> str:
        return str(_weighted(rng, weights, 1)[0])

    if kind == "chat":
        ips = infra.random_ips(rng, res, int(rng.integers(1, 4)))
        f = fam({"browser": 0.45, "openai-js": 0.25, "openai-python": 0.25, "generic": 0.05})
        return ips, [client(f)]
    if kind in ("saas", "reseller"):
        sub = [dc[int(rng.integers(len(dc)))] for _ in range(int(rng.integers(1, 3)))]
        n = int(rng.integers(6, 31)) if kind == "saas" else int(rng.integers(3, 11))
        f = fam(
            {"openai-python-async": 0.4, "openai-js": 0.35, "okhttp/4.12.0": 0.1, "generic": 0.15}
        )
        return infra.random_ips(rng, sub, n), [client(f)]
    if kind == "batch":
        f = fam({"openai-python": 0.5, "generic": 0.5})
        return infra.random_ips(rng, dc, int(rng.integers(1, 3))), [client(f)]
    if kind == "eval":
        pref = dc if rng.random() < 0.6 else infra.CAMPUS_PREFIXES
        f = fam({"openai-python": 0.6, "openai-python-async": 0.3, "generic": 0.1})
        return infra.random_ips(rng, pref, int(rng.integers(1, 3))), [client(f)]
    if kind == "coding_agent":
        f = fam({"openai-js": 0.55, "openai-python": 0.35, "generic": 0.1})
        return infra.random_ips(rng, res, int(rng.integers(1, 4))), [client(f)]
    if kind == "researcher":
        f = fam({"openai-python": 0.85, "generic": 0.15})
        return infra.random_ips(rng, infra.CAMPUS_PREFIXES, int(rng.integers(1, 3))), [client(f)]
    if kind == "mixed":
        ips = infra.random_ips(rng, res, int(rng.integers(1, 3))) + infra.random_ips(rng, dc, 1)
        return ips, [client("browser"), client("openai-python")]
    # automated harvesters
    f = fam({"openai-python": 0.45, "openai-python-async": 0.25, "generic": 0.3})
    return infra.random_ips(rng, dc, int(rng.integers(2, 7))), [client(f)]


def new_account(rng: np.random.Generator, index: int, kind: str) -> Account:
    """Create one account of ``kind`` (identity, keys, network) from ``rng``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    index : int
        Position of the account in the population (the ``acct`` column).
    kind : str
        One of :data:`KINDS` or :data:`BLATANT_KINDS`.

    Returns
    -------
    Account
    """
    return _account(rng, index, kind)


def _account(rng: np.random.Generator, index: int, kind: str) -> Account:
    ident = _identity(rng)
    tz = float(_choice(rng, _TZS))
    n_keys = 1
    if kind in ("saas", "batch", "eval", "coding_agent", "reseller", "cot_harvest"):
        n_keys = int(rng.choice([1, 1, 2, 3]))
    keys, hashes, aliases = _keys(rng, n_keys)
    ips, clients = _network(rng, kind, tz)
    acct = Account(
        index=index,
        kind=kind,
        label="benign" if kind in BENIGN_KINDS else "distill",
        campaign="",
        keys=keys,
        key_hashes=hashes,
        key_aliases=aliases,
        ips=ips,
        clients=clients,
        tz=tz,
        **ident,
    )
    if kind in ("saas", "reseller"):
        acct.end_user_prefix = _choice(rng, ("usr_", "cust-", "u-", "member_", "uid:"))
        acct.n_end_users = (
            int(rng.integers(150, 1500)) if kind == "saas" else int(rng.integers(200, 800))
        )
    elif kind == "chat" and rng.random() < 0.25:
        acct.end_user_prefix = _choice(rng, ("", "user-", "me-"))
        acct.n_end_users = 1
    return acct


_CAMPAIGN_UAS: tuple[str, ...] = (
    "Go-http-client/2.0",
    "Python/3.10 aiohttp/3.8.6",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "okhttp/4.12.0",
    "Apache-HttpClient/4.5.14 (Java/17.0.12)",
    "python-httpx/0.25.1",
    "reqwest/0.11.27",
)


def _campaign(
    rng: np.random.Generator, cid: str, members: list[int], ctx: Context, ua: str
) -> Campaign:
    slash24 = infra.random_slash24(rng)
    base = slash24.split("/")[0].rsplit(".", 1)[0]
    hosts = rng.choice(np.arange(2, 254), size=int(rng.integers(3, 9)), replace=False)
    ips = [f"{base}.{int(h)}" for h in sorted(hosts)]
    focus = _choice(rng, ("math", "instruct", "code"))
    pool_mix = {
        "math": {"gsm8k_train": 0.6, "math": 0.4},
        "instruct": {
            "gpteacher_roleplay": 0.2,
            "wizardlm_evol": 0.1,
            "openorca": 0.3,
            "sharegpt": 0.4,
        },
        "code": {"gpteacher_code": 0.8, "gpteacher_tool": 0.2},
    }[focus]
    tids = ctx.tmpl_index["hydra"]
    templates = list(rng.choice(tids, size=int(rng.integers(1, 3)), replace=False))
    onset = ctx.start + rng.uniform(0.0, min(0.4, ctx.days / 4.0)) * 86400.0
    return Campaign(
        campaign_id=cid,
        members=members,
        slash24=slash24,
        ips=ips,
        client=infra.make_client(rng, ua),
        templates=[int(t) for t in templates],
        pool_mix=pool_mix,
        model=int(_choice(rng, (M_4O, M_4O, M_O3))),
        switches=False,
        onset=float(onset),
        params={
            "temp": float(_choice(rng, (0.7, 0.8, 1.0))),
            "maxt": int(_choice(rng, (2048, 4096, 4096, 8192))),
            "daily": float(rng.uniform(6.0, 12.0)),
            "on_minutes": float(rng.uniform(2.0, 6.0)),
            "period_h": float(rng.uniform(3.0, 6.0)),
            "focus": focus,
        },
    )


def build_population(
    rng: np.random.Generator,
    n_accounts: int,
    ctx: Context,
    mix: dict[str, float] | None = None,
) -> tuple[list[Account], list[Campaign]]:
    """Create the accounts (shuffled kinds) and the hydra campaigns.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    n_accounts : int
        Number of accounts.
    ctx : Context
        Simulation context (period, tables).
    mix : dict, optional
        Kind shares (:data:`DEFAULT_MIX` by default).

    Returns
    -------
    accounts, campaigns : list
    """
    counts = kind_counts(n_accounts, mix)
    kinds = [k for k in KINDS for _ in range(counts.get(k, 0))]
    kinds = [kinds[i] for i in rng.permutation(len(kinds))]
    accounts = [_account(rng, i, k) for i, k in enumerate(kinds)]
    # unique ids (collisions are astronomically unlikely, but be exact)
    seen: set[str] = set()
    for a in accounts:
        while a.account_id in seen:
            a.account_id += _hex(rng, 2)
        seen.add(a.account_id)
    hydra = [a.index for a in accounts if a.kind == "hydra"]
    campaigns: list[Campaign] = []
    if hydra:
        n_camp = max(1, min(len(hydra) // 20, max(3, int(np.ceil(len(hydra) / 60)))))
        extra = (
            rng.multinomial(len(hydra) - 20 * n_camp, [1.0 / n_camp] * n_camp)
            if len(hydra) >= 20 * n_camp
            else None
        )
        sizes = [20 + int(e) for e in extra] if extra is not None else [len(hydra)]
        pos = 0
        uas = rng.permutation(len(_CAMPAIGN_UAS))
        for c, size in enumerate(sizes):
            members = hydra[pos : pos + size]
            pos += size
            ua = _CAMPAIGN_UAS[int(uas[c % len(uas)])]
            camp = _campaign(rng, f"campaign-{c + 1:02d}", members, ctx, ua)
            campaigns.append(camp)
            for m in members:
                a = accounts[m]
                a.campaign = camp.campaign_id
                k = int(rng.integers(1, min(3, len(camp.ips)) + 1))
                a.ips = [camp.ips[int(i)] for i in rng.choice(len(camp.ips), size=k, replace=False)]
                a.clients = [camp.client]
        # at the release, most campaigns move to the new model together
        order = rng.permutation(len(campaigns))
        n_switch = max(1, round(len(campaigns) * 2 / 3))
        for i in order[:n_switch]:
            campaigns[int(i)].switches = True
    return accounts, campaigns


# --- planners ---------------------------------------------------------------------------


def _chat_like(
    rng: np.random.Generator,
    ctx: Context,
    a: Account,
    sessions_per_day: float,
    turns_mean: float,
    mix: dict[str, float],
    active_p: float = 0.85,
) -> Block:
    """Human sessions: diurnal in the account's timezone, bursts of turns then gaps."""
    shift = rng.normal(0.0, 1.5)
    prof = _profile_bins(human_profile, evening=float(rng.uniform(0.3, 1.0)))
    edges, rate = _rate_grid(ctx, sessions_per_day, prof, tz=a.tz + shift)
    # some days the person does not use the app at all
    day_idx = ((edges[:-1] - ctx.start) // 86400).astype(int)
    active = rng.random(int(ctx.days) + 2) < active_p
    rate = rate * active[day_idx]
    starts = gamma_renewal(rng, edges, rate, cv=1.0)
    starts = _ensure_one(rng, ctx, starts, a.tz)
    ts, sess, turn = session_arrivals(
        rng, starts, turns_mean, gap_median_s=float(rng.uniform(25, 90))
    )
    keep = ts < ctx.end
    ts, sess, turn = ts[keep], sess[keep], turn[keep]
    n = len(ts)
    b = empty_block(n)
    b["ts"] = ts
    b["turn"] = turn.astype(np.int16)
    n_sess = int(sess.max()) + 1 if n else 0
    spool, sitem = _prompts(rng, ctx, mix, n_sess)
    b["pool"], b["item"] = spool[sess], sitem[sess]
    # follow-up turns: the source's next turn where it has one, else a generic follow-up
    fup = np.where(turn > 0, rng.integers(0, len(C.FOLLOWUPS), n), -1).astype(np.int16)
    hh, mt = C.PromptPack.pool_id("hh_rlhf"), C.PromptPack.pool_id("mt_bench")
    n_follow = ctx.hh_followups[np.where(b["pool"] == hh, b["item"], 0)]
    src = (turn > 0) & (
        ((b["pool"] == mt) & (turn == 1)) | ((b["pool"] == hh) & (turn - 1 < n_follow))
    )
    fup[src] = FUP_SOURCE
    b["fup"] = fup
    return b


def _history_tokens(ctx: Context, b: Block, rng: np.random.Generator) -> np.ndarray:
    """Prompt tokens of rows with one earlier exchange (topic + reply + follow-up)."""
    base = base_prompt_tokens(ctx, b)
    turn = b["turn"].astype(np.int64)
    has = b["fup"] != -1
    prev_reply = ctx.traces.sample(rng, "azure_conv_generated", len(base))
    fup_tok = np.where(b["fup"] >= 0, ctx.followup_tokens[np.maximum(b["fup"], 0)], 20)
    # real clients resend the whole conversation: every earlier turn counts
    hist = (prev_reply + fup_tok + 8) * turn
    return np.where(has, base + hist, base).astype(np.int32)


def _common_params(rng: np.random.Generator, b: Block, a: Account) -> None:
    n = len(b["ts"])
    temps = np.array([np.nan, 0.7, 1.0, 0.5, 0.2, 0.0], dtype=np.float32)
    pt = a.params.setdefault("temp_pref", rng.dirichlet(np.ones(len(temps)) * 0.6))
    b["temp"] = temps[rng.choice(len(temps), size=n, p=pt)]
    maxes = np.array([-1, -1, 1024, 2048, 4096, 512], dtype=np.int32)
    pm = a.params.setdefault("max_pref", rng.dirichlet(np.ones(len(maxes)) * 0.6))
    b["maxt"] = maxes[rng.choice(len(maxes), size=n, p=pm)]


def plan_chat(
    rng: np.random.Generator, a: Account, ctx: Context, sessions_per_day: float | None = None
) -> Block:
    """Human users of a chat app: sessions, diurnal, varied prompts and parameters."""
    spd = float(np.clip(rng.lognormal(np.log(0.9), 0.7), 0.15, 8.0))
    if sessions_per_day is not None:
        spd = sessions_per_day
    mix = {
        "sharegpt": 0.4,
        "arena_hard": 0.12,
        "alpaca_eval": 0.16,
        "hh_rlhf": 0.22,
        "mt_bench": 0.1,
    }
    b = _chat_like(rng, ctx, a, spd, float(rng.uniform(2.0, 4.5)), mix)
    n = len(b["ts"])
    if rng.random() < 0.45:
        b["sysp"][:] = _choice(rng, ctx.sys_index["generic"])
    _common_params(rng, b, a)
    b["stream"][:] = rng.random(n) < a.params.setdefault("p_stream", float(rng.uniform(0.2, 1.0)))
    if rng.random() < 0.1:
        b["top_p"][:] = np.float32(_choice(rng, (0.9, 0.95, 1.0)))
    if a.n_end_users:
        b["eu"][:] = 0
    adopt, share = _adoption(rng, ctx, 0.5, 30.0)
    b["model"] = assign_models(rng, b["ts"], {M_MINI: 0.55, M_4O: 0.4, M_O3: 0.05}, adopt, share)
    b["ip"] = rng.choice(len(a.ips), size=n, p=_ip_weights(len(a.ips))).astype(np.int16)
    b["ptok"] = _history_tokens(ctx, b, rng)
    vis = resp_tokens(rng, ctx, b["pool"], b["item"], "azure_conv_generated")
    finalize_tokens(rng, b, vis)
    _failures(rng, b, 0.002, 0.002)
    return b


def _ip_weights(k: int) -> np.ndarray:
    w = 0.6 ** np.arange(k)
    return w / w.sum()


def plan_saas(rng: np.random.Generator, a: Account, ctx: Context) -> Block:
    """A SaaS back end: one system prompt, many end users, 24/7 with diurnal modulation."""
    prof = ctx.traces.diurnal_clients[int(rng.integers(len(ctx.traces.diurnal_clients)))]
    daily = float(rng.lognormal(np.log(32.0), 0.7))
    edges, rate = _rate_grid(ctx, daily, prof, tz=a.tz, floor=0.15)
    cv = float(np.clip(ctx.traces.sample(rng, "servegen_client_cv", 1)[0], 0.6, 3.0))
    ts = _ensure_one(rng, ctx, gamma_renewal(rng, edges, rate, cv), a.tz)
    n = len(ts)
    b = empty_block(n)
    b["ts"] = ts
    b["sysp"][:] = _choice(rng, ctx.sys_index["saas"])
    mix = {"sharegpt": 0.45, "hh_rlhf": 0.2, "alpaca_eval": 0.25, "arena_hard": 0.1}
    b["pool"], b["item"] = _prompts(rng, ctx, mix, n)
    b["eu"] = _end_user_zipf(rng, a.n_end_users, n)
    b["key"] = rng.integers(0, len(a.keys), n).astype(np.int16)
    b["ip"] = rng.integers(0, len(a.ips), n).astype(np.int16)
    # a fraction of requests carry one earlier exchange of the end user's conversation
    second = rng.random(n) < 0.3
    b["turn"] = second.astype(np.int16)
    b["fup"] = np.where(second, rng.integers(0, len(C.FOLLOWUPS), n), -1).astype(np.int16)
    b["temp"][:] = np.float32(_choice(rng, (0.2, 0.3, 0.5, 0.7)))
    b["maxt"][:] = int(_choice(rng, (512, 800, 1024, -1)))
    b["stream"][:] = rng.random() < 0.5
    if rng.random() < 0.3:
        b["tools"][:] = int(rng.integers(2, 5))
        b["toolset"][:] = 15
    if rng.random() < 0.2:
        b["rf"][:] = 1
    adopt, share = _adoption(rng, ctx, 0.3, 40.0)
    b["model"] = assign_models(rng, ts, {M_MINI: 0.85, M_4O: 0.15}, adopt, share)
    b["ptok"] = _history_tokens(ctx, b, rng)
    vis = ctx.traces.sample(rng, "azure_conv_generated", n)
    finalize_tokens(rng, b, vis)
    _failures(rng, b, 0.006, 0.0005)
    return b


def plan_batch(rng: np.random.Generator, a: Account, ctx: Context) -> Block:
    """A nightly batch job: one template, temperature 0, short outputs, fixed hour, regular."""
    hour_utc = (float(rng.choice([0.0, 1.0, 2.0, 2.5, 3.0, 4.0])) - a.tz) % 24.0
    items = max(5, int(rng.lognormal(np.log(16.0), 0.5) * ctx.scale))
    cv = float(np.clip(ctx.traces.quantile("servegen_client_cv", rng.uniform(0.0, 0.1)), 0.12, 0.6))
    gap = float(rng.uniform(0.8, 3.0))
    times = []
    for day in range(int(np.ceil(ctx.days)) + 1):
        t0 = ctx.start + (day - 1) * 86400.0 + hour_utc * 3600.0 + rng.uniform(0.0, 4.0)
        k = int(items * rng.uniform(0.95, 1.05))
        shape = 1.0 / cv**2
        times.append(t0 + np.cumsum(rng.gamma(shape, gap / shape, size=k)))
    ts = np.concatenate(times)
    ts = ts[(ts >= ctx.start) & (ts < ctx.end)]
    ts = _ensure_one(rng, ctx, ts, a.tz)
    n = len(ts)
    b = empty_block(n)
    b["ts"] = ts
    b["tmpl"][:] = _choice(rng, ctx.tmpl_index["batch"])
    b["pool"], b["item"] = _prompts(
        rng, ctx, {"sharegpt": 0.5, "hh_rlhf": 0.3, "alpaca_eval": 0.2}, n
    )
    b["temp"][:] = 0.0
    b["maxt"][:] = int(_choice(rng, (16, 32, 64, 128, 256)))
    if rng.random() < 0.5:
        b["rf"][:] = 1
    if rng.random() < 0.4:
        b["seed"][:] = int(_choice(rng, (0, 1, 42, 1234)))
    b["model"][:] = M_MINI
    b["ip"] = rng.integers(0, len(a.ips), n).astype(np.int16)
    b["ptok"] = base_prompt_tokens(ctx, b)
    finalize_tokens(rng, b, rng.lognormal(np.log(12.0), 0.6, n))
    _failures(rng, b, 0.003, 0.0)
    return b


def _mcq_capable(ctx: Context) -> np.ndarray:
    ans = ctx.pack.by_name("gsm8k_test").extra["answer"]
    return np.flatnonzero([s.lstrip("-").isdigit() for s in ans])


def plan_eval(rng: np.random.Generator, a: Account, ctx: Context) -> Block:
    """An evaluation harness: one or two bounded benchmark runs, temperature 0."""
    bench = str(
        _weighted(rng, {"gsm8k_cot": 0.3, "math_cot": 0.25, "mt_bench": 0.1, "mcq": 0.35}, 1)[0]
    )
    n_runs = int(rng.choice([1, 2], p=[0.45, 0.55]))
    blocks = []
    eval_t = ctx.tmpl_index["eval"]
    run_model = int(_choice(rng, (M_MINI, M_4O, M_4O) if bench == "mcq" else (M_MINI, M_4O, M_O3)))
    for r in range(n_runs):
        day = float(rng.uniform(0.0, max(ctx.days - 0.3, 0.05)))
        t0 = ctx.start + np.floor(day) * 86400.0 + ((rng.uniform(9.0, 17.0) - a.tz) % 24.0) * 3600.0
        if r == 1 and ctx.release < ctx.end and rng.random() < 0.6:
            # re-run the benchmark on the newly released model
            t0 = ctx.release + rng.uniform(1.0, 20.0) * 3600.0
        if t0 >= ctx.end:
            t0 = ctx.start + rng.uniform(0.0, ctx.days * 86400.0 * 0.8)
        if bench == "mt_bench":
            size = 80
            items = np.arange(80)
        else:
            pool_n = (
                len(_mcq_capable(ctx))
                if bench == "mcq"
                else len(ctx.pack.by_name("gsm8k_test" if bench == "gsm8k_cot" else "math"))
            )
            size = int(min(pool_n, max(20, rng.lognormal(np.log(50.0), 0.4) * ctx.scale)))
            first = int(
                a.params.setdefault("first_item", int(rng.integers(0, max(1, pool_n - size))))
            )
            items = np.arange(first, first + size) % pool_n
        rate = float(rng.uniform(0.4, 3.0))
        cv = float(rng.uniform(0.3, 0.8))
        shape = 1.0 / cv**2
        turns = 2 if bench == "mt_bench" else 1
        gaps = rng.gamma(shape, 1.0 / (rate * shape), size=size * turns)
        ts = t0 + np.cumsum(gaps)
        b = empty_block(size * turns)
        b["ts"] = ts
        if bench == "mt_bench":
            b["pool"][:] = C.PromptPack.pool_id("mt_bench")
            b["item"] = np.repeat(items, 2).astype(np.int32)
            b["turn"] = np.tile([0, 1], size).astype(np.int16)
            b["fup"] = np.where(b["turn"] == 1, FUP_SOURCE, -1).astype(np.int16)
            b["maxt"][:] = 1024
        elif bench == "mcq":
            b["pool"][:] = C.PromptPack.pool_id("gsm8k_test")
            b["item"] = _mcq_capable(ctx)[items].astype(np.int32)
            b["tmpl"][:] = eval_t[3]
            b["maxt"][:] = 1
            b["lp"][:] = True
            b["tlp"][:] = int(_choice(rng, (4, 5, 5, 10)))
        else:
            name = "gsm8k_test" if bench == "gsm8k_cot" else "math"
            b["pool"][:] = C.PromptPack.pool_id(name)
            b["item"] = items.astype(np.int32)
            b["tmpl"][:] = eval_t[0] if bench == "gsm8k_cot" else eval_t[1]
            b["maxt"][:] = int(_choice(rng, (512, 1024, 2048)))
        if rng.random() < 0.3:
            b["sysp"][:] = ctx.sys_index["generic"][0]
        b["temp"][:] = 0.0
        if rng.random() < 0.3:
            b["seed"][:] = 0
        b["model"][:] = M_NEXT if (r == 1 and t0 >= ctx.release and bench != "mcq") else run_model
        blocks.append(b)
    b = concat_blocks(blocks)
    keep = b["ts"] < ctx.end
    b = {k: v[keep] for k, v in b.items()}
    if not len(b["ts"]):
        b = empty_block(1)
        b["ts"][:] = ctx.start + 3600.0
        b["pool"][:] = C.PromptPack.pool_id("mt_bench")
    n = len(b["ts"])
    b["ip"] = rng.integers(0, len(a.ips), n).astype(np.int16)
    b["key"] = rng.integers(0, len(a.keys), n).astype(np.int16)
    b["ptok"] = _history_tokens(ctx, b, rng)
    vis = resp_tokens(rng, ctx, b["pool"], b["item"], "azure_conv_generated") * 1.4
    vis = np.where(b["maxt"] == 1, 1, vis)
    finalize_tokens(rng, b, vis)
    _failures(rng, b, 0.004, 0.0)
    return b


def plan_coding_agent(rng: np.random.Generator, a: Account, ctx: Context) -> Block:
    """A coding agent: working-hours sessions of fast tool loops over a long shared context."""
    prof = _profile_bins(human_profile, evening=0.3)
    spd = float(rng.uniform(0.4, 1.2))
    edges, rate = _rate_grid(ctx, spd, prof, tz=a.tz)
    starts = _ensure_one(rng, ctx, gamma_renewal(rng, edges, rate, cv=1.0), a.tz)
    ts, sess, turn = session_arrivals(
        rng, starts, float(rng.uniform(8, 25)), float(rng.uniform(4, 12)), 0.7, 60
    )
    keep = ts < ctx.end
    ts, sess, turn = ts[keep], sess[keep], turn[keep]
    n = len(ts)
    b = empty_block(n)
    b["ts"] = ts
    b["turn"] = turn.astype(np.int16)
    b["sysp"][:] = _choice(rng, ctx.sys_index["agent"])
    n_sess = int(sess.max()) + 1
    task_pool, task_item = _prompts(rng, ctx, {"gpteacher_code": 1.0}, n_sess)
    b["pool"], b["item"] = task_pool[sess], task_item[sess]
    b["fup"] = np.where(turn > 0, FUP_AGENT, -1).astype(np.int16)
    n_tools = int(rng.integers(6, 15))
    b["tools"][:] = n_tools
    b["toolset"][:] = 0
    b["stream"][:] = True
    b["temp"][:] = np.float32(_choice(rng, (0.0, 0.2, np.nan)))
    b["maxt"][:] = int(_choice(rng, (4096, 8192, -1)))
    # context grows through the session up to a Mooncake-shaped final size
    final_ctx = ctx.traces.sample(rng, "mooncake_input", n_sess)
    base = float(ctx.sys_tokens[b["sysp"][0]] + 2200 + n_tools * 60)
    frac = np.clip(turn / np.maximum(np.bincount(sess, minlength=n_sess)[sess] - 1, 1), 0, 1)
    b["ptok"] = (base + frac * np.maximum(final_ctx[sess] - base, 0)).astype(np.int32)
    is_last = np.r_[sess[1:] != sess[:-1], True]
    b["finish"] = np.where(is_last, 0, 2).astype(np.int8)
    vis = np.where(
        is_last,
        ctx.traces.sample(rng, "mooncake_output", n),
        ctx.traces.sample(rng, "azure_code_generated", n) * 3 + 20,
    )
    adopt, share = _adoption(rng, ctx, 0.75, 8.0)
    b["model"] = assign_models(rng, ts, {M_4O: 0.6, M_O3: 0.25, M_MINI: 0.15}, adopt, share)
    b["ip"] = rng.choice(len(a.ips), size=n, p=_ip_weights(len(a.ips))).astype(np.int16)
    finalize_tokens(rng, b, vis)
    _failures(rng, b, 0.003, 0.001)
    return b


def plan_researcher(rng: np.random.Generator, a: Account, ctx: Context) -> Block:
    """A researcher: low volume, logprobs / top_logprobs on varied prompts, small logit_bias."""
    mix = {"arena_hard": 0.3, "alpaca_eval": 0.3, "sharegpt": 0.25, "mt_bench": 0.15}
    b = _chat_like(rng, ctx, a, float(rng.uniform(0.5, 1.5)), float(rng.uniform(5, 15)), mix, 0.8)
    n = len(b["ts"])
    b["fup"][:] = -1  # scripted loops: independent prompts
    b["turn"][:] = 0
    b["pool"], b["item"] = _prompts(rng, ctx, mix, n)
    b["lp"] = rng.random(n) < 0.75
    b["tlp"] = np.where(b["lp"], rng.choice([0, 1, 2, 3, 5, 5, 10, 20], size=n), 0).astype(np.int8)
    lbm = rng.random(n) < 0.15
    b["lb"] = np.where(lbm, rng.integers(1, 4, n), 0).astype(np.int16)
    b["lbo"] = rng.integers(0, len(ctx.bias_tokens) - 512, n).astype(np.int32)
    b["temp"] = rng.choice(np.array([0.0, 0.0, 0.7, 1.0], np.float32), size=n)
    b["maxt"] = rng.choice(np.array([16, 64, 256, 512], np.int32), size=n)
    b["n"] = rng.choice(np.array([1, 1, 1, 1, 2, 5], np.int8), size=n)
    adopt, share = _adoption(rng, ctx, 0.6, 20.0)
    b["model"] = assign_models(rng, b["ts"], {M_MINI: 0.5, M_4O: 0.5}, adopt, share)
    b["ip"] = rng.integers(0, len(a.ips), n).astype(np.int16)
    b["ptok"] = base_prompt_tokens(ctx, b)
    finalize_tokens(rng, b, ctx.traces.sample(rng, "azure_conv_generated", n))
    _failures(rng, b, 0.002, 0.002)
    return b


_COT_MIX = {
    "openorca": 0.3,
    "gpteacher_code": 0.15,
    "gpteacher_roleplay": 0.1,
    "gpteacher_tool": 0.05,
    "wizardlm_evol": 0.1,
    "sharegpt": 0.3,
}


def _harvest_times(
    rng: np.random.Generator, ctx: Context, a: Account, daily: float, cv: float
) -> np.ndarray:
    """24/7 automated sending, flat or slightly modulated, regular gaps."""
    prof = _profile_bins(human_profile, evening=1.0, night=float(rng.uniform(0.6, 1.0)))
    edges, rate = _rate_grid(ctx, daily, prof, tz=a.tz)
    return _ensure_one(rng, ctx, gamma_renewal(rng, edges, rate, cv), a.tz)


def _cot_rows(
    rng: np.random.Generator, ctx: Context, b: Block, a: Account, mix: dict[str, float]
) -> np.ndarray:
    """Fill CoT-harvest columns; return the visible answer lengths."""
    n = len(b["ts"])
    b["pool"], b["item"] = _prompts(rng, ctx, mix, n)
    use_sys = a.params.setdefault("cot_sys", _choice(rng, ctx.sys_index["cot"]))
    sys_share = a.params.setdefault("sys_share", float(rng.uniform(0.4, 1.0)))
    with_sys = rng.random(n) < sys_share
    b["sysp"] = np.where(with_sys, use_sys, -1).astype(np.int32)
    b["tmpl"] = np.where(with_sys, -1, rng.choice(ctx.tmpl_index["cot_suffix"], size=n)).astype(
        np.int16
    )
    maxt = a.params.setdefault("cot_maxt", int(_choice(rng, (4096, 4096, 8192, 16384))))
    b["maxt"][:] = maxt
    b["temp"][:] = np.float32(a.params.setdefault("cot_temp", _choice(rng, (0.7, 0.8, 1.0))))
    p_len = a.params.setdefault("p_len", float(rng.uniform(0.15, 0.35)))
    vis = rng.lognormal(np.log(maxt * 0.3), 0.6, n)
    vis = np.where(rng.random(n) < p_len, maxt * 1.2, np.minimum(vis, maxt * 0.97))
    return vis


def plan_cot_harvest(rng: np.random.Generator, a: Account, ctx: Context) -> Block:
    """Blatant chain-of-thought harvesting: long outputs, high sustained regular volume."""
    ts = _harvest_times(rng, ctx, a, float(rng.uniform(35, 70)), float(rng.uniform(0.25, 0.6)))
    n = len(ts)
    b = empty_block(n)
    b["ts"] = ts
    vis = _cot_rows(rng, ctx, b, a, _COT_MIX)
    if rng.random() < 0.25:
        b["n"][:] = int(rng.integers(2, 4))
        vis = vis / b["n"]
    adopt = ctx.release + rng.exponential(3 * 3600.0) if rng.random() < 0.8 else float("inf")
    b["model"] = assign_models(rng, ts, {M_4O: 0.7, M_O3: 0.3}, adopt, float(rng.uniform(0.7, 1.0)))
    b["ip"] = rng.integers(0, len(a.ips), n).astype(np.int16)
    b["key"] = rng.integers(0, len(a.keys), n).astype(np.int16)
    b["ptok"] = base_prompt_tokens(ctx, b)
    finalize_tokens(rng, b, vis)
    _failures(rng, b, float(rng.uniform(0.02, 0.06)), 0.0)
    return b


def plan_logprob_harvest(rng: np.random.Generator, a: Account, ctx: Context) -> Block:
    """Logprob harvesting: top_logprobs 5-20 on many diverse prompts at high volume."""
    ts = _harvest_times(rng, ctx, a, float(rng.uniform(30, 60)), float(rng.uniform(0.4, 1.0)))
    n = len(ts)
    b = empty_block(n)
    b["ts"] = ts
    mix = {
        "sharegpt": 0.3,
        "alpaca_eval": 0.15,
        "arena_hard": 0.15,
        "gpteacher_code": 0.1,
        "openorca": 0.15,
        "gpteacher_roleplay": 0.1,
        "wizardlm_evol": 0.05,
    }
    b["pool"], b["item"] = _prompts(rng, ctx, mix, n)
    b["lp"][:] = True
    top = int(_choice(rng, (5, 10, 20, 20)))
    b["tlp"] = np.where(rng.random(n) < 0.9, top, rng.integers(5, 21, n)).astype(np.int8)
    b["maxt"][:] = int(_choice(rng, (512, 1024, 2048)))
    b["temp"][:] = np.float32(_choice(rng, (0.0, 1.0)))
    if rng.random() < 0.5:
        b["sysp"][:] = _choice(rng, ctx.sys_index["generic"])
    b["model"] = assign_models(rng, ts, {M_4O: 0.8, M_MINI: 0.2}, *_adoption(rng, ctx, 0.6, 6.0))
    b["model"][b["model"] == M_NEXT] = M_4O  # logprobs are not offered on reasoning models
    b["ip"] = rng.integers(0, len(a.ips), n).astype(np.int16)
    b["ptok"] = base_prompt_tokens(ctx, b)
    vis = resp_tokens(rng, ctx, b["pool"], b["item"], "mooncake_output")
    finalize_tokens(rng, b, vis)
    _failures(rng, b, float(rng.uniform(0.01, 0.04)), 0.0)
    return b


def plan_logit_bias_probe(rng: np.random.Generator, a: Account, ctx: Context) -> Block:
    """Logit-bias probing: one prompt repeated with many large logit_bias maps, max_tokens 1."""
    prof = _profile_bins(human_profile, evening=0.8, night=0.3)
    edges, rate = _rate_grid(ctx, float(rng.uniform(0.3, 0.8)), prof, tz=a.tz)
    starts = _ensure_one(rng, ctx, gamma_renewal(rng, edges, rate, cv=1.0), a.tz)
    ts, _, _ = session_arrivals(
        rng, starts, float(rng.uniform(30, 70)), float(rng.uniform(0.4, 2.0)), 0.35, 400
    )
    ts = np.sort(ts[ts < ctx.end])
    n = len(ts)
    b = empty_block(n)
    b["ts"] = ts
    # the probe prompts: a couple of fixed short prompts (authored) or one real prompt
    n_probe = int(rng.integers(1, 4))
    probes = rng.choice(len(C.PROBE_PROMPTS), size=n_probe, replace=False)
    which = probes[rng.choice(n_probe, size=n, p=np.sort(rng.dirichlet(np.ones(n_probe)))[::-1])]
    b["pool"][:] = -1  # -1 = authored probe prompt, item indexes PROBE_PROMPTS
    b["item"] = which.astype(np.int32)
    b["lb"] = rng.integers(20, 101, n).astype(np.int16)
    b["lbo"] = rng.integers(0, len(ctx.bias_tokens) - 128, n).astype(np.int32)
    b["maxt"][:] = 1
    b["temp"][:] = 0.0
    if rng.random() < 0.5:
        b["lp"][:] = True
        b["tlp"][:] = 5
    b["model"] = assign_models(rng, ts, {M_4O: 0.6, M_MINI: 0.4}, float("inf"), 0.0)
    b["ip"] = rng.integers(0, len(a.ips), n).astype(np.int16)
    b["ptok"] = (np.array([C.estimate_tokens(p) for p in C.PROBE_PROMPTS])[which] + 7).astype(
        np.int32
    )
    finalize_tokens(rng, b, np.ones(n))
    _failures(rng, b, float(rng.uniform(0.005, 0.03)), 0.0)
    return b


def plan_math_harvest(rng: np.random.Generator, a: Account, ctx: Context) -> Block:
    """Math reasoning harvesting: GSM8K train + MATH with show-all-steps, narrow topic."""
    ts = _harvest_times(rng, ctx, a, float(rng.uniform(30, 60)), float(rng.uniform(0.3, 0.8)))
    n = len(ts)
    b = empty_block(n)
    b["ts"] = ts
    math_pool = ctx.pack.by_name("math")
    types = sorted(set(math_pool.extra["type"]))
    focus = set(rng.choice(types, size=int(rng.integers(1, 3)), replace=False).tolist())
    focus_items = np.flatnonzero([t in focus for t in math_pool.extra["type"]])
    gsm_share = float(rng.uniform(0.2, 0.8))
    use_gsm = rng.random(n) < gsm_share
    b["pool"] = np.where(
        use_gsm, C.PromptPack.pool_id("gsm8k_train"), C.PromptPack.pool_id("math")
    ).astype(np.int8)
    b["item"] = np.where(
        use_gsm,
        rng.integers(0, len(ctx.pack.by_name("gsm8k_train")), n),
        focus_items[rng.integers(0, len(focus_items), n)],
    ).astype(np.int32)
    tm = ctx.tmpl_index["math"]
    b["tmpl"][:] = tm[int(rng.integers(len(tm)))]
    b["maxt"][:] = int(_choice(rng, (4096, 8192)))
    b["temp"][:] = np.float32(_choice(rng, (0.7, 0.8, 1.0)))
    b["n"][:] = int(_choice(rng, (1, 1, 2, 4)))
    adopt = ctx.release + rng.exponential(4 * 3600.0) if rng.random() < 0.8 else float("inf")
    b["model"] = assign_models(rng, ts, {M_O3: 0.6, M_4O: 0.4}, adopt, float(rng.uniform(0.7, 1.0)))
    b["ip"] = rng.integers(0, len(a.ips), n).astype(np.int16)
    b["ptok"] = base_prompt_tokens(ctx, b)
    vis = resp_tokens(rng, ctx, b["pool"], b["item"], "mooncake_output") * rng.uniform(3.0, 6.0)
    finalize_tokens(rng, b, vis)
    _failures(rng, b, float(rng.uniform(0.01, 0.04)), 0.0)
    return b


def plan_mixed(rng: np.random.Generator, a: Account, ctx: Context) -> Block:
    """Benign chat use plus a scripted CoT-harvesting component (30-50% of requests)."""
    chat = plan_chat(rng, a, ctx, sessions_per_day=float(rng.uniform(3.0, 6.0)))
    n_chat = len(chat["ts"])
    share = float(rng.uniform(0.3, 0.5))
    daily = max(2.0, n_chat / max(ctx.days, 0.5) * share / (1.0 - share) / ctx.scale)
    # the script runs in the evening/night from a cloud VM
    prof = _profile_bins(human_profile, evening=1.0, night=0.5)
    edges, rate = _rate_grid(ctx, daily, np.roll(prof, 60), tz=a.tz)
    ts = _ensure_one(rng, ctx, gamma_renewal(rng, edges, rate, float(rng.uniform(0.4, 0.9))), a.tz)
    n = len(ts)
    h = empty_block(n)
    h["ts"] = ts
    vis = _cot_rows(rng, ctx, h, a, _COT_MIX)
    h["model"] = assign_models(rng, ts, {M_4O: 0.7, M_O3: 0.3}, *_adoption(rng, ctx, 0.7, 6.0))
    h["ip"][:] = len(a.ips) - 1  # the VM
    h["client"][:] = 1
    h["ptok"] = base_prompt_tokens(ctx, h)
    finalize_tokens(rng, h, vis)
    _failures(rng, h, 0.02, 0.0)
    chat["ip"] = np.minimum(chat["ip"], len(a.ips) - 2).astype(np.int16)
    return concat_blocks([chat, h])


def plan_reseller(rng: np.random.Generator, a: Account, ctx: Context) -> Block:
    """A reseller proxy: many end users, mostly chat, a few end users harvesting CoT at volume."""
    prof = ctx.traces.diurnal_clients[int(rng.integers(len(ctx.traces.diurnal_clients)))]
    daily = float(rng.uniform(25, 45))
    edges, rate = _rate_grid(ctx, daily, prof, tz=a.tz, floor=0.2)
    ts = gamma_renewal(rng, edges, rate, float(rng.uniform(0.9, 1.8)))
    n = len(ts)
    b = empty_block(n)
    b["ts"] = ts
    mix = {"sharegpt": 0.45, "arena_hard": 0.15, "alpaca_eval": 0.2, "hh_rlhf": 0.2}
    b["pool"], b["item"] = _prompts(rng, ctx, mix, n)
    n_bad = max(2, int(a.n_end_users * rng.uniform(0.03, 0.08)))
    benign_eu = n_bad + _end_user_zipf(rng, a.n_end_users - n_bad, n)
    b["eu"] = benign_eu.astype(np.int32)
    _common_params(rng, b, a)
    b["stream"] = rng.random(n) < 0.6
    b["model"] = assign_models(rng, ts, {M_MINI: 0.5, M_4O: 0.5}, *_adoption(rng, ctx, 0.8, 6.0))
    b["ptok"] = base_prompt_tokens(ctx, b)
    finalize_tokens(rng, b, ctx.traces.sample(rng, "azure_conv_generated", n))
    _failures(rng, b, 0.01, 0.001)
    # the harvesting end users: 30-45% of the account's requests, 24/7, regular
    hshare = float(rng.uniform(0.3, 0.45))
    hts = _harvest_times(rng, ctx, a, daily * hshare / (1 - hshare), float(rng.uniform(0.4, 0.8)))
    h = empty_block(len(hts))
    h["ts"] = hts
    vis = _cot_rows(rng, ctx, h, a, _COT_MIX)
    h["eu"] = rng.integers(0, n_bad, len(hts)).astype(np.int32)
    h["model"] = assign_models(rng, hts, {M_4O: 0.6, M_O3: 0.4}, *_adoption(rng, ctx, 0.8, 4.0))
    h["ptok"] = base_prompt_tokens(ctx, h)
    finalize_tokens(rng, h, vis)
    _failures(rng, h, 0.03, 0.0)
    out = concat_blocks([b, h])
    m = len(out["ts"])
    out["ip"] = rng.integers(0, len(a.ips), m).astype(np.int16)
    out["key"] = rng.integers(0, len(a.keys), m).astype(np.int16)
    return out


# Blatant harvesting: requests per minute (log-uniform) and run length in minutes.
BLATANT_RATE_PER_MIN: tuple[float, float] = (30.0, 240.0)
BLATANT_RUN_MIN: tuple[float, float] = (20.0, 90.0)


def _blatant_times(rng: np.random.Generator, ctx: Context, a: Account) -> np.ndarray:
    """One uninterrupted high-rate run: the whole account is a harvesting script.

    The rate is drawn log-uniformly from :data:`BLATANT_RATE_PER_MIN` and is not
    multiplied by ``ctx.scale`` (the rate is what makes the kind blatant). The run starts
    uniformly in ``a.params["onset_window"]`` (epoch seconds; default the whole period)
    and lasts :data:`BLATANT_RUN_MIN` minutes, or until the window ends.
    """
    lo_r, hi_r = BLATANT_RATE_PER_MIN
    rate = float(np.exp(rng.uniform(np.log(lo_r), np.log(hi_r)))) / 60.0
    run = float(rng.uniform(*BLATANT_RUN_MIN)) * 60.0
    lo, hi = a.params.get("onset_window", (ctx.start, ctx.end))
    lo, hi = max(float(lo), ctx.start), min(float(hi), ctx.end)
    onset = float(rng.uniform(lo, max(lo, hi - min(run, hi - lo)))) if hi > lo else lo
    cv = float(rng.uniform(0.3, 0.8))
    shape = 1.0 / cv**2
    n_max = int(rate * run * 1.5) + 16
    ts = onset + np.concatenate([[0.0], np.cumsum(rng.gamma(shape, 1.0 / (rate * shape), n_max))])
    ts = ts[(ts < onset + run) & (ts < hi)]
    a.params["onset"] = onset
    a.params["rate_per_min"] = rate * 60.0
    return ts


def _dataset_order(
    rng: np.random.Generator, ctx: Context, pools: tuple[str, ...], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` prompts of one pass over a shuffled dataset (the union of ``pools``).

    A harvesting script iterates over its prompt set once instead of sampling it with
    replacement, so no prompt repeats; ``n`` may not exceed the dataset's size (see
    :func:`_dataset_size`).
    """
    pid = np.concatenate(
        [np.full(len(ctx.pack.by_name(p)), C.PromptPack.pool_id(p), np.int8) for p in pools]
    )
    item = np.concatenate([np.arange(len(ctx.pack.by_name(p)), dtype=np.int32) for p in pools])
    idx = rng.permutation(len(pid))[:n]
    return pid[idx], item[idx]


def _dataset_size(ctx: Context, pools: tuple[str, ...]) -> int:
    """Number of prompts in the union of ``pools``."""
    return sum(len(ctx.pack.by_name(p)) for p in pools)


def plan_blatant_cot_harvest(rng: np.random.Generator, a: Account, ctx: Context) -> Block:
    """Blatant chain-of-thought harvesting: a script at 30-240 requests per minute.

    Every request elicits step-by-step reasoning (a CoT system prompt or suffix template)
    on instruction-data prompts with ``max_tokens`` of 4k-16k, from the first minute. The
    script makes one pass over its prompt set (about 4,800 prompts): the run ends when the
    set is exhausted or after :data:`BLATANT_RUN_MIN` minutes.
    """
    ts = _blatant_times(rng, ctx, a)[: _dataset_size(ctx, tuple(_COT_MIX))]
    n = len(ts)
    b = empty_block(n)
    b["ts"] = ts
    vis = _cot_rows(rng, ctx, b, a, _COT_MIX)
    b["pool"], b["item"] = _dataset_order(rng, ctx, tuple(_COT_MIX), n)
    b["model"] = assign_models(rng, ts, {M_4O: 0.7, M_O3: 0.3}, float("inf"), 0.0)
    b["ip"] = rng.integers(0, len(a.ips), n).astype(np.int16)
    b["key"] = rng.integers(0, len(a.keys), n).astype(np.int16)
    b["ptok"] = base_prompt_tokens(ctx, b)
    finalize_tokens(rng, b, vis)
    _failures(rng, b, float(rng.uniform(0.02, 0.1)), 0.0)
    return b


def plan_blatant_logprob_harvest(rng: np.random.Generator, a: Account, ctx: Context) -> Block:
    """Blatant soft-label harvesting: ``top_logprobs`` 20 on every request, 30-240 a minute.

    Diverse open-ended prompts with substantial outputs, the API's maximum of 20
    alternatives per token, from the first minute; one pass over about 6,100 prompts.
    """
    pools = ("sharegpt", "alpaca_eval", "arena_hard", "gpteacher_code", "openorca")
    ts = _blatant_times(rng, ctx, a)[: _dataset_size(ctx, pools)]
    n = len(ts)
    b = empty_block(n)
    b["ts"] = ts
    b["pool"], b["item"] = _dataset_order(rng, ctx, pools, n)
    b["lp"][:] = True
    b["tlp"][:] = 20
    b["maxt"][:] = int(_choice(rng, (512, 1024, 2048)))
    b["temp"][:] = np.float32(_choice(rng, (0.0, 0.7, 1.0)))
    if rng.random() < 0.5:
        b["sysp"][:] = _choice(rng, ctx.sys_index["generic"])
    b["model"] = assign_models(rng, ts, {M_4O: 0.7, M_MINI: 0.3}, float("inf"), 0.0)
    b["ip"] = rng.integers(0, len(a.ips), n).astype(np.int16)
    b["ptok"] = base_prompt_tokens(ctx, b)
    vis = resp_tokens(rng, ctx, b["pool"], b["item"], "mooncake_output")
    finalize_tokens(rng, b, vis)
    _failures(rng, b, float(rng.uniform(0.02, 0.1)), 0.0)
    return b


PLANNERS = {
    "chat": plan_chat,
    "saas": plan_saas,
    "batch": plan_batch,
    "eval": plan_eval,
    "coding_agent": plan_coding_agent,
    "researcher": plan_researcher,
    "cot_harvest": plan_cot_harvest,
    "logprob_harvest": plan_logprob_harvest,
    "logit_bias_probe": plan_logit_bias_probe,
    "math_harvest": plan_math_harvest,
    "mixed": plan_mixed,
    "reseller": plan_reseller,
    "blatant_cot_harvest": plan_blatant_cot_harvest,
    "blatant_logprob_harvest": plan_blatant_logprob_harvest,
}


def plan_account(rng: np.random.Generator, a: Account, ctx: Context) -> Block:
    """Plan every request of one (non-hydra) account.

    Parameters
    ----------
    rng : numpy.random.Generator
        The account's own generator.
    a : Account
        The account.
    ctx : Context
        Simulation context.

    Returns
    -------
    Block
        Rows in any order, ``acct`` set.
    """
    b = PLANNERS[a.kind](rng, a, ctx)
    b["acct"][:] = a.index
    return b


def plan_campaign(
    rng: np.random.Generator, camp: Campaign, accounts: list[Account], ctx: Context
) -> Block:
    """Plan a hydra campaign: synchronised small accounts on shared infrastructure.

    All members start within minutes of the campaign onset, are active in the same
    on-windows, share templates, parameters and client, and (for switching campaigns)
    move to ``gpt-next`` within a minute or two of its release.

    Parameters
    ----------
    rng : numpy.random.Generator
        The campaign's own generator.
    camp : Campaign
        The campaign.
    accounts : list of Account
        All accounts (members are looked up by index).
    ctx : Context
        Simulation context.

    Returns
    -------
    Block
    """
    p = camp.params
    period = p["period_h"] * 3600.0
    on = p["on_minutes"] * 60.0
    switch_at = float("inf")
    if camp.switches and ctx.release < ctx.end:
        switch_at = ctx.release + rng.uniform(2.0, 15.0) * 60.0
    # campaign-wide on-windows [w, w + on), every `period` seconds (+- 20 %), 24/7; the
    # operator re-launches the fleet right after switching it to the new model
    windows = []
    t = camp.onset
    while t < ctx.end:
        windows.append(t)
        t += period * rng.uniform(0.8, 1.2)
    if np.isfinite(switch_at):
        windows = sorted(
            [w for w in windows if not switch_at - on <= w < switch_at + on] + [switch_at]
        )
    windows_arr = np.asarray(windows)
    forced = np.zeros(len(windows_arr), dtype=bool)
    forced[0] = True  # simultaneous onset: every member fires in the first window
    forced[windows_arr == switch_at] = True
    per_window = p["daily"] * ctx.scale * period / 86400.0
    blocks = []
    for m in camp.members:
        a = accounts[m]
        mrng = np.random.default_rng(rng.integers(0, 2**63))
        counts = mrng.poisson(per_window, size=len(windows_arr))
        counts[forced] = np.maximum(counts[forced], 1)
        ts = np.concatenate(
            [
                w + np.sort(mrng.uniform(0.0, on, c))
                for w, c in zip(windows_arr, counts, strict=True)
            ]
        )
        ts = ts[(ts >= ctx.start) & (ts < ctx.end)]
        n = len(ts)
        b = empty_block(n)
        b["ts"] = ts
        b["acct"][:] = m
        b["pool"], b["item"] = _prompts(mrng, ctx, camp.pool_mix, n)
        b["tmpl"] = mrng.choice(camp.templates, size=n).astype(np.int16)
        b["temp"][:] = p["temp"]
        b["maxt"][:] = p["maxt"]
        model = np.full(n, camp.model, np.int8)
        model[ts >= switch_at] = M_NEXT
        b["model"] = model
        b["ip"] = mrng.integers(0, len(a.ips), n).astype(np.int16)
        b["ptok"] = base_prompt_tokens(ctx, b)
        vis = resp_tokens(mrng, ctx, b["pool"], b["item"], "mooncake_output") * 2.5
        vis = np.where(mrng.random(n) < 0.12, p["maxt"] * 1.2, np.minimum(vis, p["maxt"] * 0.97))
        finalize_tokens(mrng, b, vis)
        _failures(mrng, b, 0.004, 0.0)
        # a few premature calls to the new model just before its release fail
        if camp.switches and n and ctx.start < ctx.release - 1800 < ctx.end and mrng.random() < 0.5:
            pre = empty_block(1)
            pre["ts"][:] = ctx.release - mrng.uniform(60.0, 1800.0)
            pre["acct"][:] = m
            pre["model"][:] = M_NEXT
            pre["status"][:] = 2
            pre["pool"][:] = b["pool"][0]
            pre["item"][:] = b["item"][0]
            pre["tmpl"][:] = b["tmpl"][0]
            pre["temp"][:] = p["temp"]
            pre["maxt"][:] = p["maxt"]
            b = concat_blocks([b, pre])
        blocks.append(b)
    return concat_blocks(blocks)
