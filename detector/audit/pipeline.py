"""The offline audit: files -> chunked parse -> mergeable aggregates -> features -> scores.

Memory stays bounded by the number of accounts, not by the size of the export: each
chunk of events is parsed, folded into per-account :class:`AccountState` and dropped.
The same aggregates, features, rules and fusion run in the streaming workers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from detector.aggregates import (
    AccountState,
    ChunkAggregate,
    aggregate_events,
    chunk_aggregate,
    merge_into,
)
from detector.features import feature_frame
from detector.fusion import AccountVerdict, FusionConfig
from detector.model import AccountAnomalyModel
from detector.scoring import score_accounts

__all__ = ["AuditConfig", "AuditResult", "build_states", "run_audit", "score_accounts"]

ProgressFn = Callable[[int, int], None]


@dataclass(slots=True)
class AuditConfig:
    """Options of an audit run.

    Parameters
    ----------
    fmt : str, optional
        Force the input format (``litellm``, ``openai``, ``canonical``); detected per file
        when None.
    account_field : str, optional
        Dotted path (or comma-separated chain) of the field that identifies the account.
    chunk_size : int
        Events per parsed chunk (bounds memory).
    rules_dir : path, optional
        Rules directory (default: the repository's or the packaged ``rules/``).
    contamination : float
        Expected anomalous share for the isolation forest fitted on the population.
    model : AccountAnomalyModel, optional
        A trained model to score with instead of fitting one on this population.
    model_version : str
        Label reported with the scores.
    min_events : int
        Accounts with fewer events are scored by rules only (too little data to rank).
    fusion : FusionConfig
        Fusion thresholds.
    engine : {"local", "dask"}
        Where files are folded into per-account states: worker processes of this
        machine, or Dask (:mod:`detector.audit.dask_engine`). Results are the same.
    scheduler : str or distributed.Client, optional
        Dask engine only: see :func:`detector.audit.dask_engine.build_states_dask`.
    dask_reduce : {"ordered", "tree"}
        Dask engine only: how per-account aggregates are merged (``"ordered"``:
        identical to the local engine; ``"tree"``: on the workers).
    """

    fmt: str | None = None
    account_field: str | None = None
    chunk_size: int = 20_000
    rules_dir: str | Path | None = None
    contamination: float = 0.05
    model: AccountAnomalyModel | None = None
    model_version: str = "population-fit"
    min_events: int = 5
    fusion: FusionConfig = field(default_factory=FusionConfig)
    engine: str = "local"
    scheduler: Any = None
    dask_reduce: str = "ordered"


@dataclass(slots=True)
class AuditResult:
    """Everything an audit computed; writers turn it into files."""

    states: dict[str, AccountState]
    features: pd.DataFrame
    verdicts: list[AccountVerdict]
    hits: dict[str, list[Any]]
    quarantine_counts: Counter[str]
    n_records: int
    n_events: int
    files: list[dict[str, Any]]
    first_ts: float
    as_of: float
    model_version: str
    rules: Any = None
    clusters: Any = None

    def verdict_frame(self) -> pd.DataFrame:
        """Verdicts as a frame indexed by account id."""
        rows = [
            {
                "account_id": v.account_id,
                "risk": v.risk,
                "action": v.action,
                "cluster_id": v.cluster_id or "",
                "reasons": " | ".join(v.reasons),
                "rule_ids": ",".join(v.rule_ids),
                "anomaly_percentile": v.anomaly_percentile,
                "evidence": v.evidence.get("evidence", 0.0),
                "purpose": v.evidence.get("purpose", 0.0),
                "allowlisted": v.allowlisted,
            }
            for v in self.verdicts
        ]
        return pd.DataFrame(rows).set_index("account_id") if rows else pd.DataFrame()


def _parse_and_aggregate(
    block: Any,
    source: str,
    fmt: str | None,
    account_field: str | None,
    known: Sequence[tuple[bytes, np.ndarray]] = (),
) -> tuple[ChunkAggregate | None, list[Any], dict[str, int], int, float, float, Any]:
    """Worker-process step: one block of lines -> flat per-account aggregate arrays.

    Only arrays of counts and hashes travel back to the parent: no prompt text. ``known``
    brings the user-prompt signals other workers computed lately, and the ones this
    block computed go back with the result (see :func:`detector.text.share_user_cache`).
    """
    from detector.ingest.readers import parse_block
    from detector.text import share_user_cache

    share_user_cache(known)
    events, quarantined, formats = parse_block(block, source, fmt, account_field)
    if not events:
        return None, quarantined, formats, 0, np.inf, -np.inf, share_user_cache()
    ts = [e["ts"] for e in events]
    chunk = chunk_aggregate(events)
    return chunk, quarantined, formats, len(events), min(ts), max(ts), share_user_cache()


class _Run:
    """Accumulates states and statistics over chunks (serial or parallel)."""

    def __init__(self, on_quarantine: Callable[[Iterable[Any]], Any] | None) -> None:
        self.states: dict[str, AccountState] = {}
        self.quarantine: Counter[str] = Counter()
        self.n_events = 0
        self.files: dict[str, dict[str, Any]] = {}
        self.first_ts, self.last_ts = np.inf, -np.inf
        self.on_quarantine = on_quarantine

    def add(
        self,
        file: str,
        fmt: str | None,
        states: dict[str, AccountState] | ChunkAggregate,
        quarantined: list[Any],
        n_events: int,
        first: float,
        last: float,
    ) -> None:
        info = self.files.setdefault(
            file, {"file": file, "format": fmt, "events": 0, "quarantined": 0}
        )
        if fmt and not info.get("format"):
            info["format"] = fmt
        if n_events:
            if isinstance(states, ChunkAggregate):
                states.merge_into(self.states)
            else:
                merge_into(self.states, states)
            self.n_events += n_events
            info["events"] += n_events
            self.first_ts = min(self.first_ts, first)
            self.last_ts = max(self.last_ts, last)
        if quarantined:
            info["quarantined"] += len(quarantined)
            self.quarantine.update(q.reason for q in quarantined)
            if self.on_quarantine is not None:
                self.on_quarantine(quarantined)

    def stats(self) -> dict[str, Any]:
        return {
            "n_events": self.n_events,
            "n_records": self.n_events + sum(self.quarantine.values()),
            "quarantine": self.quarantine,
            "files": list(self.files.values()),
            "first_ts": float(self.first_ts) if np.isfinite(self.first_ts) else 0.0,
            "last_ts": float(self.last_ts) if np.isfinite(self.last_ts) else 0.0,
        }


def _serial_file(
    run: _Run,
    path: str,
    fmt: str | None,
    account_field: str | None,
    chunk_size: int,
    on_progress: ProgressFn | None,
) -> None:
    from detector.ingest import iter_event_chunks

    for chunk in iter_event_chunks(
        [path], fmt=fmt, account_field=account_field, chunk_size=chunk_size
    ):
        states = aggregate_events(chunk.events) if chunk.events else {}
        ts = [e["ts"] for e in chunk.events] or [np.inf]
        run.add(
            chunk.file,
            chunk.format,
            states,
            chunk.quarantined,
            len(chunk.events),
            min(ts),
            max(ts) if chunk.events else -np.inf,
        )
        if on_progress is not None:
            on_progress(chunk.bytes_done, chunk.bytes_total or chunk.bytes_done)


def _parallel_file(
    run: _Run,
    pool: Any,
    path: str,
    fmt: str | None,
    account_field: str | None,
    workers: int,
    on_progress: ProgressFn | None,
) -> bool:
    """Parse one JSONL file in worker processes; False if the file is not JSONL."""
    from collections import deque

    from detector.ingest.readers import NotLineDelimited, iter_line_blocks

    pending: deque[tuple[Any, int, int]] = deque()
    # user-prompt signals of the last blocks, handed to the next tasks so that each
    # worker (whichever takes a task) learns what the others computed
    learned: deque[tuple[bytes, np.ndarray]] = deque(maxlen=2 * workers)

    def drain(limit: int) -> None:
        while len(pending) > limit:
            future, done, total = pending.popleft()
            chunk, quarantined, formats, n, first, last, new = future.result()
            if len(new[1]):
                learned.append(new)
            file_fmt = max(formats, key=formats.__getitem__) if formats else None
            run.add(path, file_fmt, chunk if chunk is not None else {}, quarantined, n, first, last)
            if on_progress is not None:
                on_progress(done, total)

    try:
        for block in iter_line_blocks(path):
            future = pool.submit(
                _parse_and_aggregate, block, path, fmt, account_field, tuple(learned)
            )
            pending.append((future, block.bytes_done, block.bytes_total))
            drain(2 * workers)  # bounded in flight: memory stays bounded
    except NotLineDelimited:
        drain(0)
        return False
    drain(0)
    return True


def build_states(
    paths: Sequence[str | Path],
    *,
    fmt: str | None = None,
    account_field: str | None = None,
    chunk_size: int = 20_000,
    workers: int | None = None,
    on_progress: ProgressFn | None = None,
    on_quarantine: Callable[[Iterable[Any]], Any] | None = None,
) -> tuple[dict[str, AccountState], dict[str, Any]]:
    """Parse files chunk by chunk and fold them into per-account states.

    JSONL files are split into blocks of whole lines that worker processes parse and
    aggregate (``workers`` of them; text never leaves the worker, only states come
    back); CSV, Parquet and whole-document JSON are read in this process. Results are
    merged in file order, so the output does not depend on ``workers``.

    Parameters
    ----------
    paths : sequence of path
        Log exports (any supported format, ``.gz`` transparently).
    fmt, account_field, chunk_size
        See :class:`AuditConfig`.
    workers : int, optional
        Worker processes (default: the number of CPUs, at most 4; 1 = no pool).
    on_progress : callable, optional
        Called with (bytes done, bytes total) of the current file after each chunk.
    on_quarantine : callable, optional
        Receives each chunk's quarantined records (e.g. a quarantine file writer).

    Returns
    -------
    (dict, dict)
        account id -> state, and run statistics (records, events, quarantine counts,
        per-file summaries, time range).
    """
    import os

    from detector.ingest import expand_paths

    if workers is None:
        workers = min(os.cpu_count() or 1, 4)
    run = _Run(on_quarantine)
    files = expand_paths([str(p) for p in paths])
    pool = None
    if workers > 1 and any(f != "-" for f in files):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        for path in files:
            if (
                pool is not None
                and path != "-"
                and _parallel_file(run, pool, path, fmt, account_field, workers, on_progress)
            ):
                continue
            _serial_file(run, path, fmt, account_field, chunk_size, on_progress)
    finally:
        if pool is not None:
            pool.shutdown()
    return run.states, run.stats()


def run_audit(
    paths: Sequence[str | Path],
    config: AuditConfig | None = None,
    *,
    on_progress: ProgressFn | None = None,
    on_quarantine: Callable[[Iterable[Any]], Any] | None = None,
) -> AuditResult:
    """Audit log exports end to end (no Redis, no network).

    Parameters
    ----------
    paths : sequence of path
        Log exports.
    config : AuditConfig, optional
        Options.
    on_progress, on_quarantine : callable, optional
        See :func:`build_states`.

    Returns
    -------
    AuditResult
    """
    from detector.rules import default_rules_dir, load_rules

    cfg = config or AuditConfig()
    build: Callable[..., tuple[dict[str, AccountState], dict[str, Any]]] = build_states
    extra: dict[str, Any] = {}
    if cfg.engine == "dask":
        from detector.audit.dask_engine import build_states_dask

        build = build_states_dask
        extra = {"scheduler": cfg.scheduler, "reduce": cfg.dask_reduce}
    elif cfg.engine != "local":
        raise ValueError(f"unknown engine {cfg.engine!r}; expected 'local' or 'dask'")
    states, stats = build(
        paths,
        **extra,
        fmt=cfg.fmt,
        account_field=cfg.account_field,
        chunk_size=cfg.chunk_size,
        on_progress=on_progress,
        on_quarantine=on_quarantine,
    )
    as_of = stats["last_ts"]
    features = feature_frame(states, as_of)
    rules_dir = Path(cfg.rules_dir) if cfg.rules_dir else default_rules_dir()
    rules, allow = load_rules(rules_dir)
    allowed = {a for a in features.index if allow.is_allowed(a, as_of)}
    from detector.linking import link_accounts

    clusters = link_accounts(states, features) if len(features) else None
    cluster_verdicts = clusters.account_verdicts() if clusters is not None else None
    verdicts, hits, model = score_accounts(
        features,
        rules=rules,
        allowlisted=allowed,
        model=cfg.model,
        contamination=cfg.contamination,
        min_events=cfg.min_events,
        clusters=cluster_verdicts,
        fusion=cfg.fusion,
    )
    version = cfg.model_version if cfg.model is not None or model is None else "population-fit"
    return AuditResult(
        states=states,
        features=features,
        verdicts=verdicts,
        hits=hits,
        quarantine_counts=stats["quarantine"],
        n_records=stats["n_records"],
        n_events=stats["n_events"],
        files=stats["files"],
        first_ts=stats["first_ts"],
        as_of=as_of,
        model_version=version,
        rules=rules,
        clusters=clusters,
    )
