"""The Dask engine of the offline audit: files as partitions, per-account states merged
in a tree, then the local engine's features, linking and scoring.

Layout (``docs/scaling.md``):

1. one partition per file (a ``.gz`` file cannot be split; a plain JSONL file is one
   partition too, so quarantine line numbers stay file line numbers);
2. each partition is folded exactly as the local engine folds one file
   (:func:`fold_file`: blocks of whole lines -> :class:`~detector.aggregates.ChunkAggregate`
   -> per-account :class:`~detector.aggregates.AccountState`), on a Dask worker;
3. the per-account results are merged in one of two ways (``reduce``):

   - ``"ordered"`` (default): each partition returns its blocks' aggregates
     (:func:`fold_file_blocks`), and the client merges them in file and block order,
     streaming, exactly as the local engine's parent process merges its workers'
     blocks: results are bit-identical to the local engine's whatever the export;
   - ``"tree"``: each partition folds its file into per-account states
     (:func:`fold_file`) and the partition results (:class:`PartitionResult`) are
     merged on the workers with a tree reduction that keeps file order
     (:func:`merge_results`); the client receives one state per account. Counts,
     histograms, HyperLogLogs and MinHash merge exactly in any grouping, but float
     sums can differ in the last bits and a Misra-Gries heavy-hitter summary that
     overflows depends on the grouping (within its error bound), so outputs can
     differ slightly from the local engine's when a file spans several blocks;

4. the client runs the same features, linking and scoring as the local engine
   (:func:`detector.audit.pipeline.run_audit` with ``engine="dask"``).

Dask is an optional dependency (``pip install 'distillwatch[dask]'``); it is imported
only when this engine runs.
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detector.aggregates import AccountState, merge_into

__all__ = [
    "LOCAL_SCHEDULERS",
    "REDUCTIONS",
    "FileBlocks",
    "PartitionResult",
    "build_states_dask",
    "dask_available",
    "expand_globs",
    "fold_file",
    "fold_file_blocks",
    "merge_results",
]

REDUCTIONS = ("ordered", "tree")

# --scheduler values that do not name a distributed scheduler's address
LOCAL_SCHEDULERS = ("synchronous", "sync", "threads", "processes")
_GLOB_CHARS = ("*", "?", "[")


def dask_available() -> bool:
    """Whether ``dask[distributed]`` is importable."""
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def expand_globs(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Expand shell-style patterns (sorted matches); other paths are kept as given.

    Parameters
    ----------
    paths : iterable of path
        Files, directories or patterns such as ``logs/2026-11-*.jsonl.gz``.

    Returns
    -------
    list of str

    Raises
    ------
    FileNotFoundError
        When a pattern matches nothing.
    """
    out: list[str] = []
    for path in paths:
        name = os.fspath(path)
        if any(c in name for c in _GLOB_CHARS) and not os.path.exists(name):
            matches = sorted(glob.glob(name, recursive=True))
            if not matches:
                raise FileNotFoundError(f"no file matches {name}")
            out.extend(matches)
        else:
            out.append(name)
    return out


@dataclass(slots=True)
class PartitionResult:
    """What one partition (or a merge of several, in file order) sends back.

    Attributes
    ----------
    states : dict[str, AccountState]
        Per-account mergeable aggregates (insertion order = first appearance).
    quarantined : list of QuarantineRecord
        Rejected records in file order (raw text truncated as in the local engine).
    quarantine : collections.Counter
        Rejected records by reason.
    files : list of dict
        Per-file summaries (file, format, events, quarantined), in order.
    n_events : int
        Valid events folded.
    first_ts, last_ts : float
        Time range of the events (``inf`` / ``-inf`` when there are none).
    """

    states: dict[str, AccountState] = field(default_factory=dict)
    quarantined: list[Any] = field(default_factory=list)
    quarantine: Counter[str] = field(default_factory=Counter)
    files: list[dict[str, Any]] = field(default_factory=list)
    n_events: int = 0
    first_ts: float = np.inf
    last_ts: float = -np.inf


def fold_file(
    path: str,
    fmt: str | None = None,
    account_field: str | None = None,
    chunk_size: int = 20_000,
) -> PartitionResult:
    """Fold one file into per-account states, as the local engine folds it.

    JSONL(.gz) files are read in the local engine's blocks of whole lines, each parsed
    and aggregated into a :class:`~detector.aggregates.ChunkAggregate` and merged in
    order; CSV, Parquet and whole-document JSON go through the local engine's serial
    reader. Runs on a Dask worker: only aggregates and quarantined records come back.

    Parameters
    ----------
    path : str
        One log export.
    fmt, account_field, chunk_size
        See :class:`detector.audit.pipeline.AuditConfig`.

    Returns
    -------
    PartitionResult
    """
    from detector.audit.pipeline import _parse_and_aggregate, _Run, _serial_file
    from detector.ingest.readers import NotLineDelimited, iter_line_blocks

    quarantined: list[Any] = []
    run = _Run(quarantined.extend)
    try:
        for block in iter_line_blocks(path):
            chunk, rejected, formats, n, first, last, _ = _parse_and_aggregate(
                block, path, fmt, account_field
            )
            file_fmt = max(formats, key=formats.__getitem__) if formats else None
            run.add(path, file_fmt, chunk if chunk is not None else {}, rejected, n, first, last)
    except NotLineDelimited:
        _serial_file(run, path, fmt, account_field, chunk_size, None)
    return PartitionResult(
        states=run.states,
        quarantined=quarantined,
        quarantine=run.quarantine,
        files=list(run.files.values()),
        n_events=run.n_events,
        first_ts=float(run.first_ts),
        last_ts=float(run.last_ts),
    )


class FileBlocks:
    """One file's blocks, each as the arguments of the local engine's ``_Run.add``.

    Duck-types ``_Run`` for :func:`detector.audit.pipeline._serial_file`, so CSV,
    Parquet and whole-document JSON files are chunked exactly as the local engine does.
    """

    __slots__ = ("blocks", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self.blocks: list[tuple[Any, ...]] = []

    def add(self, *args: Any) -> None:
        """Record one block (file, format, aggregate, quarantined, n, first, last)."""
        self.blocks.append(args)


def fold_file_blocks(
    path: str,
    fmt: str | None = None,
    account_field: str | None = None,
    chunk_size: int = 20_000,
) -> FileBlocks:
    """Parse and aggregate one file block by block, keeping each block's aggregate.

    The worker-side half of the ``"ordered"`` reduction: the client merges the blocks
    in order (as the local engine's parent process does), so results are identical.

    Parameters
    ----------
    path : str
        One log export.
    fmt, account_field, chunk_size
        See :class:`detector.audit.pipeline.AuditConfig`.

    Returns
    -------
    FileBlocks
    """
    from detector.audit.pipeline import _parse_and_aggregate, _serial_file
    from detector.ingest.readers import NotLineDelimited, iter_line_blocks

    out = FileBlocks(path)
    try:
        for block in iter_line_blocks(path):
            chunk, rejected, formats, n, first, last, _ = _parse_and_aggregate(
                block, path, fmt, account_field
            )
            file_fmt = max(formats, key=formats.__getitem__) if formats else None
            out.add(path, file_fmt, chunk if chunk is not None else {}, rejected, n, first, last)
    except NotLineDelimited:
        _serial_file(out, path, fmt, account_field, chunk_size, None)  # type: ignore[arg-type]
    return out


def merge_results(left: PartitionResult, right: PartitionResult) -> PartitionResult:
    """Merge ``right`` (the later files) into ``left``; returns ``left``.

    ``left`` is modified in place: in the reduction tree every intermediate result has
    exactly one consumer, so no copy is needed. The states merge with the same
    :func:`detector.aggregates.merge_into` as the local engine.
    """
    merge_into(left.states, right.states)
    left.quarantined.extend(right.quarantined)
    left.quarantine.update(right.quarantine)
    by_name = {info["file"]: info for info in left.files}
    for info in right.files:
        mine = by_name.get(info["file"])
        if mine is None:
            left.files.append(info)
            by_name[info["file"]] = info
            continue
        # the same file named twice: the local engine sums into one summary too
        mine["events"] += info["events"]
        mine["quarantined"] += info["quarantined"]
        if info.get("format") and not mine.get("format"):
            mine["format"] = info["format"]
    left.n_events += right.n_events
    left.first_ts = min(left.first_ts, right.first_ts)
    left.last_ts = max(left.last_ts, right.last_ts)
    return left


def _merge_partition(results: Iterable[PartitionResult]) -> PartitionResult:
    """Fold a sequence of partition results in order (one node of the tree)."""
    out: PartitionResult | None = None
    for result in results:
        out = result if out is None else merge_results(out, result)
    return out if out is not None else PartitionResult()


@contextlib.contextmanager
def _scheduler(scheduler: Any, workers: int | None) -> Iterator[dict[str, Any]]:
    """Keyword arguments for ``dask.compute`` for a ``scheduler`` spec.

    None starts a private ``LocalCluster`` on loopback (closed afterwards); a name of
    :data:`LOCAL_SCHEDULERS` uses Dask's local schedulers; a ``distributed.Client`` is
    used as is; any other string is a scheduler address (``tcp://host:8786``).
    """
    if scheduler is not None and not isinstance(scheduler, str):
        yield {"scheduler": scheduler}  # a distributed.Client
        return
    if scheduler in LOCAL_SCHEDULERS:
        name = "synchronous" if scheduler == "sync" else scheduler
        yield {"scheduler": name}
        return
    from distributed import Client, LocalCluster

    if scheduler is None:
        n = workers or min(os.cpu_count() or 1, 4)
        with (
            LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield {"scheduler": client}
        return
    with Client(scheduler, timeout="30s") as client:
        yield {"scheduler": client}


def _ordered(
    files: list[str],
    args: tuple[Any, ...],
    scheduler: Any,
    workers: int | None,
    run: Any,
    on_progress: Callable[[int, int], None] | None,
) -> None:
    """Fold files on the workers, merge their blocks here in file and block order."""
    from collections import deque

    def replay(part: FileBlocks) -> None:
        for block in part.blocks:
            run.add(*block)
        if on_progress is not None:  # a new file (0 done), then the file done
            size = os.path.getsize(part.path)
            on_progress(0, size)
            on_progress(size, size)

    with _scheduler(scheduler, workers) as kwargs:
        client = kwargs["scheduler"]
        if isinstance(client, str):  # dask's local schedulers: one compute, then merge
            import dask
            import dask.bag as db

            bag = db.from_sequence(files, npartitions=len(files)).map(fold_file_blocks, *args)
            (parts,) = dask.compute(bag, **kwargs)
            for part in parts:
                replay(part)
            return
        # distributed: bounded in flight, results taken in file order and released
        ahead = 2 * max(len(client.scheduler_info().get("workers", {})), 1)
        pending: deque[Any] = deque()
        for path in files:
            pending.append(client.submit(fold_file_blocks, path, *args, pure=False))
            while len(pending) > ahead:
                future = pending.popleft()
                replay(future.result())
                future.release()
        while pending:
            future = pending.popleft()
            replay(future.result())
            future.release()


def build_states_dask(
    paths: Sequence[str | Path],
    *,
    fmt: str | None = None,
    account_field: str | None = None,
    chunk_size: int = 20_000,
    scheduler: Any = None,
    workers: int | None = None,
    reduce: str = "ordered",
    split_every: int = 8,
    on_progress: Callable[[int, int], None] | None = None,
    on_quarantine: Callable[[Iterable[Any]], Any] | None = None,
) -> tuple[dict[str, AccountState], dict[str, Any]]:
    """:func:`detector.audit.pipeline.build_states` on Dask: same return value.

    Parameters
    ----------
    paths : sequence of path
        Files, directories or glob patterns; one partition per file.
    fmt, account_field, chunk_size
        See :class:`detector.audit.pipeline.AuditConfig`.
    scheduler : str or distributed.Client, optional
        None: a private ``LocalCluster`` of ``workers`` processes on 127.0.0.1;
        ``"synchronous"`` / ``"threads"`` / ``"processes"``: Dask's local schedulers;
        a ``distributed.Client``; or a scheduler address such as ``tcp://10.0.0.5:8786``.
    workers : int, optional
        Worker processes of the private cluster (default: CPUs, at most 4).
    reduce : {"ordered", "tree"}
        ``"ordered"``: the client merges every file's block aggregates in order (results
        identical to the local engine); ``"tree"``: the workers merge per-file states in
        a tree and the client receives one state per account (see the module docs).
    split_every : int
        Fan-in of the reduction tree (``reduce="tree"``).
    on_progress : callable, optional
        Called with (0, file size) then (file size, file size) as each file is merged
        (once with the total for ``reduce="tree"``).
    on_quarantine : callable, optional
        Receives the quarantined records, in file order (as the local engine does).

    Returns
    -------
    (dict, dict)
        account id -> state, and run statistics (as :func:`build_states`).

    Raises
    ------
    ImportError
        When ``dask[distributed]`` is not installed.
    ValueError
        For an unknown ``reduce`` or stdin (``"-"``) among the paths.
    """
    from detector.audit.pipeline import _Run
    from detector.ingest import expand_paths
    from detector.ingest.readers import _check_fmt

    if reduce not in REDUCTIONS:
        raise ValueError(f"unknown reduce {reduce!r}; expected one of {', '.join(REDUCTIONS)}")
    fmt = _check_fmt(fmt)
    files = expand_paths(expand_globs(paths))
    if "-" in files:
        raise ValueError("the dask engine reads files, not stdin")
    args = (fmt, account_field, chunk_size)
    if reduce == "ordered":
        run = _Run(on_quarantine)
        if files:
            _ordered(files, args, scheduler, workers, run, on_progress)
        return run.states, run.stats()

    import dask
    import dask.bag as db

    result = PartitionResult()
    if files:
        bag = db.from_sequence(files, npartitions=len(files)).map(fold_file, *args)
        merged = bag.reduction(_merge_partition, _merge_partition, split_every=max(split_every, 2))
        with _scheduler(scheduler, workers) as kwargs:
            (result,) = dask.compute(merged, **kwargs)
    if on_quarantine is not None and result.quarantined:
        on_quarantine(result.quarantined)
    if on_progress is not None:
        total = sum(os.path.getsize(f) for f in files)
        on_progress(total, total)
    first, last = result.first_ts, result.last_ts
    stats = {
        "n_events": result.n_events,
        "n_records": result.n_events + sum(result.quarantine.values()),
        "quarantine": result.quarantine,
        "files": result.files,
        "first_ts": float(first) if np.isfinite(first) else 0.0,
        "last_ts": float(last) if np.isfinite(last) else 0.0,
    }
    return result.states, stats
