"""Leave-one-kind-out (LOKO) evaluation: does detection hold on a kind it never saw?

``python -m distillsim.loko [--generator wide|legacy] [--kinds a,b] [--out eval_out]``
(``make eval``) prints the per-kind table and writes it to ``OUT/loko.md`` and
``OUT/loko.json``.

Procedure
---------
1. Two populations are simulated from different seeds, TRAIN (``--train-seed``, 3031) and
   TEST (``--test-seed``, 3032), each written as a LiteLLM export to a temporary directory
   and audited **once** with the library (:func:`detector.audit.pipeline.build_states`
   -> :func:`detector.features.feature_frame` -> :func:`detector.linking.link_accounts`).
   States, features, cluster verdicts and rule set stay in memory; nothing is re-parsed.
2. For each kind K present in TEST (sorted), one fold:

   * the anomaly model (:class:`detector.model.AccountAnomalyModel`) is fitted on the
     TRAIN accounts with ``>= min_events`` events whose kind is not K;
   * TRAIN without K and the whole of TEST are scored with that model through
     :func:`detector.audit.pipeline.score_accounts` (the same rules, cluster verdicts
     and fusion as ``run_audit``; TRAIN without K is scored as a population of its own,
     so fusion's population percentiles do not see K either);
   * ``t_K`` = the smallest risk such that at most 1% of the TRAIN benign accounts
     (kind != K) have risk ``>= t_K`` (:func:`detector.evaluate.threshold_at_fpr`);
   * on TEST, for a distiller kind: ``recall`` = share of K's accounts with risk
     ``>= t_K`` and ``flagged`` = share with action != allow; for a benign kind:
     ``alerted`` = share of K's accounts with action != allow and ``above_t`` = share
     with risk ``>= t_K``.

   Account linking has no fitted parameters, so its clusters are computed once per
   population; in a fold the TRAIN cluster verdicts of K's accounts are dropped with
   them. Labelled accounts without any event get risk 0 and action ``allow``.
3. A full run: a model fitted on all of TRAIN scores TEST; ROC-AUC, average precision,
   recall at 1% FPR (threshold from TEST benign) and per-kind flagged share
   (:func:`detector.evaluate.evaluate`).

Targets marked in the table: a held-out distiller kind fails below 0.7 recall, a
held-out benign kind fails above 0.02 alerted; in the full run a distiller kind fails
below 0.8 flagged and a benign kind above 0.01 flagged.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from detector.audit.pipeline import AuditConfig, build_states, score_accounts
from detector.evaluate import TARGET_FPR, evaluate, join_labels, threshold_at_fpr
from detector.model import AccountAnomalyModel

__all__ = [
    "FoldResult",
    "LokoConfig",
    "LokoResult",
    "Population",
    "audit_population",
    "fit_without",
    "main",
    "run_fold",
    "run_full",
    "run_loko",
    "score_population",
    "simulate_population",
    "to_markdown",
]

HELD_OUT_RECALL_TARGET = 0.7
HELD_OUT_ALERT_TARGET = 0.02
FULL_FLAG_TARGET = 0.8
FULL_ALERT_TARGET = 0.01


@dataclass(slots=True)
class LokoConfig:
    """Options of a LOKO run.

    Parameters
    ----------
    generator : {"wide", "legacy"}
        ``wide`` = :mod:`distillsim`, ``legacy`` = :mod:`distillsim.legacy`.
    train_seed, test_seed : int
        Seeds of the two populations.
    accounts : int
        Accounts per population.
    days : float
        Simulated period per population.
    kinds : sequence of str, optional
        Folds to run (default: every kind present in TEST).
    fpr : float
        Benign share admitted above the held-out threshold.
    audit : AuditConfig
        ``min_events``, ``contamination`` and ``fusion`` of the scoring.
    workers : int, optional
        Parse processes (see :func:`detector.audit.pipeline.build_states`).
    """

    generator: str = "wide"
    train_seed: int = 3031
    test_seed: int = 3032
    accounts: int = 1500
    days: float = 3.0
    kinds: Sequence[str] | None = None
    fpr: float = TARGET_FPR
    audit: AuditConfig = field(default_factory=AuditConfig)
    workers: int | None = None


@dataclass(slots=True)
class Population:
    """One audited population kept in memory."""

    name: str
    seed: int
    labels: pd.DataFrame  # indexed by account id: label, kind, campaign_id
    features: pd.DataFrame
    clusters: dict[str, dict[str, Any]] | None
    allowed: set[str]
    n_events: int
    timings: dict[str, float] = field(default_factory=dict)

    def kinds(self) -> pd.Series:
        """Kind of every account of the feature frame (``""`` when unlabelled)."""
        return self.labels["kind"].reindex(self.features.index).fillna("").astype(str)


@dataclass(slots=True)
class FoldResult:
    """Outcome of holding one kind out."""

    kind: str
    label: str
    accounts: int
    threshold: float
    recall: float | None  # distiller kinds: share with risk >= t_K
    flagged: float | None  # distiller kinds: share with action != allow
    alerted: float | None  # benign kinds: share with action != allow
    above_t: float | None  # benign kinds: share with risk >= t_K
    n_fit: int
    seconds: float
    fit_index: pd.Index = field(repr=False, default_factory=pd.Index)

    @property
    def held_out(self) -> float:
        """The fold's headline: recall (distiller) or alerted share (benign)."""
        value = self.recall if self.label == "distill" else self.alerted
        return float(value or 0.0)

    @property
    def passed(self) -> bool:
        """Whether the held-out kind meets its target."""
        if self.label == "distill":
            return self.held_out >= HELD_OUT_RECALL_TARGET
        return self.held_out <= HELD_OUT_ALERT_TARGET

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (without the training index)."""
        return {
            "kind": self.kind,
            "label": self.label,
            "accounts": self.accounts,
            "threshold": self.threshold,
            "recall": self.recall,
            "flagged": self.flagged,
            "alerted": self.alerted,
            "above_t": self.above_t,
            "held_out": self.held_out,
            "passed": self.passed,
            "n_fit": self.n_fit,
            "seconds": round(self.seconds, 2),
        }


@dataclass(slots=True)
class LokoResult:
    """Folds, the full run and timings."""

    config: dict[str, Any]
    folds: list[FoldResult]
    full: dict[str, Any]
    timings: dict[str, float]
    train: Population | None = field(default=None, repr=False)
    test: Population | None = field(default=None, repr=False)

    def table(self) -> pd.DataFrame:
        """The per-kind table: held-out figure beside the full-run flagged share."""
        rows = []
        per_kind = self.full.get("per_kind", {})
        for fold in self.folds:
            full = per_kind.get(fold.kind, {})
            flag = full.get("flag_rate")
            full_ok = flag is None or (
                flag >= FULL_FLAG_TARGET if fold.label == "distill" else flag <= FULL_ALERT_TARGET
            )
            rows.append(
                {
                    "kind": fold.kind,
                    "label": fold.label,
                    "accounts": fold.accounts,
                    "held_out_metric": "recall@t" if fold.label == "distill" else "alerted",
                    "held_out": round(fold.held_out, 4),
                    "held_out_ok": fold.passed,
                    "full_flagged": flag,
                    "full_ok": full_ok,
                }
            )
        return pd.DataFrame(rows)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready result."""
        return {
            "config": self.config,
            "folds": [f.as_dict() for f in self.folds],
            "full": self.full,
            "timings": self.timings,
        }


def simulate_population(
    generator: str, seed: int, accounts: int, days: float, out_dir: str | Path
) -> tuple[list[str], pd.DataFrame]:
    """Simulate one population and write it as a LiteLLM export.

    Parameters
    ----------
    generator : {"wide", "legacy"}
        Which simulator.
    seed, accounts, days
        Simulation parameters.
    out_dir : path
        Where the export is written.

    Returns
    -------
    (list of str, pandas.DataFrame)
        Log paths and labels (``account_id``, ``label``, ``kind``, ``campaign_id``).
    """
    path = Path(out_dir) / f"{generator}-{seed}.jsonl.gz"
    if generator == "wide":
        try:
            from distillsim import WideConfig, generate, write
        except ImportError as exc:
            raise RuntimeError(
                "the wide generator (distillsim.generate) is not available; use --generator legacy"
            ) from exc

        sim = generate(WideConfig(seed=seed, accounts=accounts, days=days, exclude_kinds=()))
        write(sim, path, fmt="litellm")
        labels = pd.DataFrame(sim.labels).copy()
    elif generator == "legacy":
        from distillsim.legacy.generate import (
            SimConfig,
            labels_rows,
            simulate,
            write_simulation,
        )

        sim = simulate(SimConfig(seed=seed, days=days, accounts=accounts))
        write_simulation(sim, path, fmt="litellm")
        labels = pd.DataFrame(
            labels_rows(sim), columns=["account_id", "label", "kind", "campaign_id"]
        )
    else:
        raise ValueError(f"unknown generator {generator!r} (wide or legacy)")
    labels["account_id"] = labels["account_id"].astype(str)
    return [str(path)], labels


def audit_population(
    name: str,
    seed: int,
    paths: Sequence[str | Path],
    labels: pd.DataFrame,
    *,
    workers: int | None = None,
) -> Population:
    """Parse, aggregate, featurise and link one population once (as ``run_audit`` does).

    Parameters
    ----------
    name : str
        ``train`` or ``test``.
    seed : int
        The population's seed (reported).
    paths : sequence of path
        Log exports.
    labels : pandas.DataFrame
        Ground truth with an ``account_id`` column.
    workers : int, optional
        Parse processes.

    Returns
    -------
    Population
    """
    from detector.features import feature_frame
    from detector.linking import link_accounts
    from detector.rules import Allowlist, default_rules_dir

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    states, stats = build_states(paths, fmt="litellm", workers=workers)
    timings["parse"] = time.perf_counter() - t0
    as_of = stats["last_ts"]
    t0 = time.perf_counter()
    features = feature_frame(states, as_of)
    timings["features"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    clusters = link_accounts(states, features).account_verdicts() if len(features) else None
    timings["link"] = time.perf_counter() - t0
    allow = Allowlist.load(default_rules_dir() / "allowlists", missing_ok=True)
    allowed = {a for a in features.index if allow.is_allowed(a, as_of)}
    return Population(
        name=name,
        seed=seed,
        labels=labels.set_index("account_id").reindex(
            columns=["label", "kind", "campaign_id"], fill_value=""
        ),
        features=features,
        clusters=dict(clusters) if clusters is not None else None,
        allowed=allowed,
        n_events=int(stats["n_events"]),
        timings=timings,
    )


def fit_without(
    pop: Population, kind: str | None, audit: AuditConfig
) -> tuple[AccountAnomalyModel, pd.Index]:
    """Fit the anomaly model on a population's accounts, leaving one kind out.

    Parameters
    ----------
    pop : Population
        The training population.
    kind : str or None
        Kind to leave out (None: fit on everyone).
    audit : AuditConfig
        ``min_events`` and ``contamination``.

    Returns
    -------
    (AccountAnomalyModel, pandas.Index)
        The fitted model and the account ids it was fitted on.
    """
    feats = pop.features
    keep = (feats["n_events"] >= audit.min_events).to_numpy(dtype=bool)
    if kind is not None:
        keep = keep & (pop.kinds() != kind).to_numpy(dtype=bool)
    train = feats[keep]
    model = AccountAnomalyModel(contamination=audit.contamination).fit(train)
    return model, train.index


def score_population(
    pop: Population,
    rules: Any,
    model: AccountAnomalyModel,
    audit: AuditConfig,
    *,
    exclude_kind: str | None = None,
) -> pd.DataFrame:
    """Score a population (optionally without one kind) and join its labels.

    Returns
    -------
    pandas.DataFrame
        :func:`detector.evaluate.join_labels` output: label, kind, risk, action, flagged.
    """
    feats = pop.features
    labels = pop.labels
    clusters = pop.clusters
    if exclude_kind is not None:
        feats = feats[(pop.kinds() != exclude_kind).to_numpy()]
        labels = labels[labels["kind"] != exclude_kind]
        if clusters is not None:
            clusters = {a: v for a, v in clusters.items() if a in feats.index}
    verdicts, _, _ = score_accounts(
        feats,
        rules=rules,
        allowlisted=pop.allowed & set(feats.index),
        model=model,
        contamination=audit.contamination,
        min_events=audit.min_events,
        clusters=clusters,
        fusion=audit.fusion,
    )
    frame = pd.DataFrame(
        {"risk": [v.risk for v in verdicts], "action": [v.action for v in verdicts]},
        index=pd.Index([v.account_id for v in verdicts], name="account_id"),
    )
    return join_labels(frame, labels)


def _share(mask: pd.Series) -> float | None:
    return round(float(mask.mean()), 4) if len(mask) else None


def run_fold(
    train: Population,
    test: Population,
    kind: str,
    rules: Any,
    audit: AuditConfig,
    fpr: float = TARGET_FPR,
) -> FoldResult:
    """Hold ``kind`` out of TRAIN, fit model and threshold, measure the kind on TEST.

    Returns
    -------
    FoldResult
    """
    t0 = time.perf_counter()
    model, fit_index = fit_without(train, kind, audit)
    scored_train = score_population(train, rules, model, audit, exclude_kind=kind)
    benign_risk = scored_train.loc[scored_train["label"] == "benign", "risk"]
    threshold = threshold_at_fpr(benign_risk.to_numpy(), fpr)
    scored_test = score_population(test, rules, model, audit)
    group = scored_test[scored_test["kind"] == kind]
    label = str(group["label"].iloc[0]) if len(group) else "benign"
    above = group["risk"] >= threshold
    distill = label == "distill"
    return FoldResult(
        kind=kind,
        label=label,
        accounts=len(group),
        threshold=float(threshold),
        recall=_share(above) if distill else None,
        flagged=_share(group["flagged"]) if distill else None,
        alerted=None if distill else _share(group["flagged"]),
        above_t=None if distill else _share(above),
        n_fit=len(fit_index),
        seconds=time.perf_counter() - t0,
        fit_index=fit_index,
    )


def run_full(
    train: Population,
    test: Population,
    rules: Any,
    audit: AuditConfig,
    fpr: float = TARGET_FPR,
) -> dict[str, Any]:
    """Score TEST with a model fitted on all of TRAIN; :func:`detector.evaluate.evaluate`."""
    model, fit_index = fit_without(train, None, audit)
    scored = score_population(test, rules, model, audit)
    accounts = scored[scored["scored"]][["risk", "action"]]
    out = evaluate(accounts, test.labels, fpr=fpr)
    out["n_fit"] = len(fit_index)
    return out


def run_loko(
    config: LokoConfig | None = None,
    *,
    log: Callable[[str], Any] | None = None,
) -> LokoResult:
    """Simulate, audit and run every fold plus the full run (see the module docstring).

    Parameters
    ----------
    config : LokoConfig, optional
        Options.
    log : callable, optional
        Receives progress lines (e.g. ``print``).

    Returns
    -------
    LokoResult
    """
    from detector.rules import RuleSet, default_rules_dir

    cfg = config or LokoConfig()
    say = log or (lambda _msg: None)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    pops: dict[str, Population] = {}
    for name, seed in (("train", cfg.train_seed), ("test", cfg.test_seed)):
        with tempfile.TemporaryDirectory(prefix=f"loko-{name}-") as tmp:
            t0 = time.perf_counter()
            paths, labels = simulate_population(cfg.generator, seed, cfg.accounts, cfg.days, tmp)
            timings[f"{name}_simulate"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            pop = audit_population(name, seed, paths, labels, workers=cfg.workers)
            timings[f"{name}_audit"] = time.perf_counter() - t0
        pops[name] = pop
        say(
            f"{name}: seed {seed}, {len(labels)} accounts, {pop.n_events} events; "
            f"simulate {timings[f'{name}_simulate']:.1f}s, audit {timings[f'{name}_audit']:.1f}s"
        )
    train, test = pops["train"], pops["test"]
    rules = RuleSet.load(default_rules_dir())
    present = sorted(test.labels["kind"].astype(str).unique())
    kinds = [k for k in present if cfg.kinds is None or k in set(cfg.kinds)]
    unknown = sorted(set(cfg.kinds or ()) - set(present))
    if unknown:
        say(f"kinds not in TEST, skipped: {', '.join(unknown)}")
    folds = []
    t0 = time.perf_counter()
    for kind in kinds:
        fold = run_fold(train, test, kind, rules, cfg.audit, cfg.fpr)
        folds.append(fold)
        say(
            f"fold {kind:<24} {fold.label:<8} held-out {fold.held_out:.3f} "
            f"(t={fold.threshold:.4f}, fit on {fold.n_fit}) {fold.seconds:.1f}s"
        )
    timings["folds"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    full = run_full(train, test, rules, cfg.audit, cfg.fpr)
    timings["full"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - start
    meta = {
        "generator": cfg.generator,
        "train_seed": cfg.train_seed,
        "test_seed": cfg.test_seed,
        "accounts": cfg.accounts,
        "days": cfg.days,
        "fpr": cfg.fpr,
        "min_events": cfg.audit.min_events,
        "contamination": cfg.audit.contamination,
        "train_events": train.n_events,
        "test_events": test.n_events,
    }
    timings = {k: round(v, 2) for k, v in timings.items()}
    return LokoResult(config=meta, folds=folds, full=full, timings=timings, train=train, test=test)


def _num(value: Any) -> str:
    return (
        "-" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.3f}"
    )


def to_markdown(result: LokoResult) -> str:
    """The LOKO table, the full-run metrics and timings as markdown."""
    c = result.config
    full = result.full
    lines = [
        f"Leave-one-kind-out, generator `{c['generator']}`, TRAIN seed {c['train_seed']} "
        f"({c['train_events']} events), TEST seed {c['test_seed']} ({c['test_events']} "
        f"events), {c['accounts']} accounts x {c['days']} days each.",
        "",
        "| kind | label | accounts | held-out recall@t (distill) / alerted (benign) "
        "| flagged share, full run | |",
        "|---|---|---:|---:|---:|---|",
    ]
    for row in result.table().itertuples(index=False):
        marks = []
        if not row.held_out_ok:
            marks.append(
                f"held-out < {HELD_OUT_RECALL_TARGET}"
                if row.label == "distill"
                else f"held-out alerted > {HELD_OUT_ALERT_TARGET}"
            )
        if not row.full_ok:
            marks.append(
                f"full flagged < {FULL_FLAG_TARGET}"
                if row.label == "distill"
                else f"full flagged > {FULL_ALERT_TARGET}"
            )
        mark = "**FAIL** " + "; ".join(marks) if marks else "ok"
        lines.append(
            f"| {row.kind} | {row.label} | {row.accounts} | {_num(row.held_out)} "
            f"| {_num(row.full_flagged)} | {mark} |"
        )
    lines += [
        "",
        f"Full run (model fitted on all of TRAIN, scored on TEST): ROC-AUC "
        f"{_num(full.get('roc_auc'))}, average precision {_num(full.get('average_precision'))}, "
        f"recall at {c['fpr']:.0%} FPR {_num(full.get('recall_at_fpr'))}; flagged "
        f"(action != allow): distiller recall {_num(full.get('recall'))}, benign "
        f"{_num(full.get('fpr'))}.",
        "",
        "Timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()),
        "",
    ]
    return "\n".join(lines)


def _print_table(result: LokoResult) -> None:
    print(f"{'kind':<26}{'label':<9}{'accounts':>9}{'held-out':>10}{'full flag':>11}  status")
    for row in result.table().itertuples(index=False):
        ok = row.held_out_ok and row.full_ok
        status = (
            "ok"
            if ok
            else "FAIL"
            + ("" if row.held_out_ok else " held-out")
            + ("" if row.full_ok else " full")
        )
        print(
            f"{row.kind:<26}{row.label:<9}{row.accounts:>9}{_num(row.held_out):>10}"
            f"{_num(row.full_flagged):>11}  {status}"
        )
    full = result.full
    print(
        f"full run: ROC-AUC {_num(full.get('roc_auc'))}  AP "
        f"{_num(full.get('average_precision'))}  recall@{result.config['fpr']:.0%}FPR "
        f"{_num(full.get('recall_at_fpr'))}  flagged recall {_num(full.get('recall'))}  "
        f"benign flagged {_num(full.get('fpr'))}"
    )
    print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()))


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (``make eval``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", choices=("wide", "legacy"), default="wide")
    parser.add_argument("--train-seed", type=int, default=3031)
    parser.add_argument("--test-seed", type=int, default=3032)
    parser.add_argument("--accounts", type=int, default=1500)
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--out", default="eval_out", help="directory for loko.md / loko.json")
    parser.add_argument("--kinds", default=None, help="comma-separated folds to run")
    parser.add_argument("--workers", type=int, default=None, help="parse processes")
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()] if args.kinds else None
    cfg = LokoConfig(
        generator=args.generator,
        train_seed=args.train_seed,
        test_seed=args.test_seed,
        accounts=args.accounts,
        days=args.days,
        kinds=kinds,
        workers=args.workers,
    )
    result = run_loko(cfg, log=lambda msg: print(msg, flush=True))
    _print_table(result)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "loko.md").write_text(to_markdown(result), encoding="utf-8")
    (out / "loko.json").write_bytes(
        orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    )
    print(f"wrote {out / 'loko.md'} and {out / 'loko.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
