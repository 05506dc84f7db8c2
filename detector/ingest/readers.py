"""Readers: files, stdin and HTTP bodies in, chunks of validated events (and quarantine) out.

Containers (decided per file by extension, else by sniffing the first bytes; ``.gz`` is
recognised by its magic bytes and read transparently):

``jsonl``
    One JSON value per line: an object, or an array of objects (LiteLLM's
    ``json_array`` callback posts appended one per line). Blank lines are skipped.
``json``
    One JSON document spread over several lines: an array of objects (LiteLLM
    ``logging/*.json``), one object, or several pretty-printed objects one after
    another (``jq .`` output). Read whole (these are small in practice).
``csv`` / ``parquet``
    Flat rows, read in chunks (``csv`` module / ``pyarrow.parquet.iter_batches``).

The record format (litellm / openai / canonical) is detected per record from its keys
(:func:`detector.ingest.adapters.detect_record_format`); a record matching none is read
with the format last seen in the same file, so a LiteLLM line without ``startTime``
is quarantined as ``missing_time`` rather than ``unknown_format``. ``fmt=`` forces
one format for every record.

Nothing here raises on bad *content*: every bad line, element, row or unreadable file
becomes a :class:`detector.ingest.quarantine.QuarantineRecord` and reading goes on.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import sys
import zlib
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import orjson

from detector.events import EventError
from detector.ingest.adapters import (
    ADAPTERS,
    FORMATS,
    AccountChain,
    detect_record_format,
    parse_account_field,
)
from detector.ingest.quarantine import RAW_LIMIT, QuarantineRecord, raw_text

__all__ = [
    "CONTAINERS",
    "EventChunk",
    "expand_paths",
    "iter_event_chunks",
    "parse_payload",
    "read_events",
]

CONTAINERS: tuple[str, ...] = ("jsonl", "json", "csv", "parquet")
_EXTENSIONS: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",  # may turn out to be a multi-line document: sniffed
    ".log": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
#: Largest multi-line JSON document read whole (a bigger one is read line by line).
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_BUFFER = 1 << 20  # read buffer: LiteLLM lines are 5-40 KB; an 8 KB buffer costs 4x per line
_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


@dataclass(slots=True)
class EventChunk:
    """A batch of events and quarantined records from one source, with progress.

    Parameters
    ----------
    events : list of dict
        Validated canonical events.
    quarantined : list of QuarantineRecord
        Records rejected in this chunk.
    file : str
        The source: a file path, ``"-"`` for stdin, or the ``source`` name of an HTTP body.
    container : str
        ``jsonl``, ``json``, ``csv`` or ``parquet``.
    compression : str or None
        ``"gzip"`` or ``None``.
    formats : dict
        Record formats seen in this chunk, ``{"litellm": 1200, ...}``.
    records : int
        Records read in this chunk (``len(events) + len(quarantined)``).
    bytes_done : int
        Bytes of the file consumed so far (compressed bytes for ``.gz``).
    bytes_total : int or None
        Size of the file in bytes (``None`` for stdin).
    done : bool
        True on the last chunk of a file.
    """

    events: list[dict[str, Any]]
    quarantined: list[QuarantineRecord]
    file: str
    container: str
    compression: str | None
    formats: dict[str, int] = field(default_factory=dict)
    records: int = 0
    bytes_done: int = 0
    bytes_total: int | None = None
    done: bool = False

    @property
    def format(self) -> str | None:
        """The record format seen most in this chunk (``None`` if none was recognised)."""
        if not self.formats:
            return None
        return max(self.formats, key=self.formats.__getitem__)


class _Converter:
    """Accumulates events / quarantine for one source; the per-record hot path."""

    __slots__ = (
        "account",
        "events",
        "forced",
        "formats",
        "line",
        "quarantined",
        "raw_limit",
        "source",
        "sticky",
    )

    def __init__(
        self, source: str, fmt: str | None, account: AccountChain | None, raw_limit: int
    ) -> None:
        self.source = source
        self.forced = fmt
        self.sticky: str | None = None
        self.account = account
        self.raw_limit = raw_limit
        self.events: list[dict[str, Any]] = []
        self.quarantined: list[QuarantineRecord] = []
        self.formats: dict[str, int] = {}
        self.line = 0  # last line / row number seen, for read errors

    @property
    def pending(self) -> int:
        return len(self.events) + len(self.quarantined)

    def take(self) -> tuple[list[dict[str, Any]], list[QuarantineRecord], dict[str, int]]:
        # copy-and-clear (not replace): the read loops keep references to these lists
        out = self.events.copy(), self.quarantined.copy(), self.formats.copy()
        self.events.clear()
        self.quarantined.clear()
        self.formats.clear()
        return out

    def quarantine(
        self, reason: str, detail: str, raw: Any, line: int | None, index: int | None = None
    ) -> None:
        if self.raw_limit <= 0:
            text, size, cut = "", 0, False
        else:
            if raw is not None and not isinstance(raw, (bytes, str)):
                raw = _dump(raw)
            text, size, cut = raw_text(raw, self.raw_limit)
        self.quarantined.append(
            QuarantineRecord(self.source, line, reason, detail, text, index, size, cut)
        )

    def add(self, obj: Any, line: int | None, index: int | None, raw: Any) -> None:
        """Adapt one parsed record; ``raw`` (bytes / str) is kept only if it is rejected."""
        if type(obj) is not dict:
            self.quarantine(
                "not_an_object",
                f"a JSON {_kind(obj)}, not an object",
                obj if raw is None else raw,
                line,
                index,
            )
            return
        fmt = self.forced
        if fmt is None:
            fmt = detect_record_format(obj) or self.sticky
            if fmt is None:
                keys = ", ".join(list(obj)[:8])
                self.quarantine(
                    "unknown_format",
                    f"keys match none of litellm / openai / canonical: {keys[:200]}",
                    obj if raw is None else raw,
                    line,
                    index,
                )
                return
            self.sticky = fmt
        formats = self.formats
        formats[fmt] = formats.get(fmt, 0) + 1
        try:
            self.events.append(ADAPTERS[fmt](obj, self.account))
        except EventError as exc:
            self.quarantine(exc.reason, exc.detail, obj if raw is None else raw, line, index)
        except Exception as exc:  # a bug in an adapter must not stop a read
            detail = f"{type(exc).__name__}: {exc}"[:300]
            self.quarantine("adapter_error", detail, obj if raw is None else raw, line, index)

    def add_bad_line(self, line: bytes, lineno: int, exc: ValueError) -> None:
        """Quarantine a JSONL line that did not parse (blank lines are skipped)."""
        if line.strip():
            reason, detail = _json_error(exc, line)
            self.quarantine(reason, detail, line, lineno)


def _kind(obj: Any) -> str:
    if obj is None:
        return "null"
    return {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(obj), type(obj).__name__
    )


def _dump(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return repr(obj).encode("utf-8", "backslashreplace")


def _json_error(exc: ValueError, data: bytes) -> tuple[str, str]:
    """Reason code for a JSON parse failure of ``data``."""
    msg = str(exc)
    if "UTF-8" in msg:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as uexc:
            return "invalid_utf8", f"invalid UTF-8 at byte {uexc.start}"
    stripped = data.rstrip()
    if len(stripped) != len(data) or not isinstance(exc, _JSONDecodeError):
        # a cut-off line still holds its newline (inside an open string it is a control
        # character, not the end of data): classify the bytes without it, with orjson
        try:
            _loads(stripped)
        except _JSONDecodeError as exc2:
            msg = str(exc2)
        else:
            return "invalid_json", msg
    if msg.startswith(("unexpected end of data", "EOF while parsing")):
        return "truncated_json", msg
    return "invalid_json", msg


class _GzipRaw(io.RawIOBase):
    """Streaming gzip decompression (multi-member) that hands over every byte it could
    decompress before reporting a truncated stream, so no complete line is lost."""

    def __init__(self, fileobj: IO[bytes], chunk: int = 1 << 16) -> None:
        self._f = fileobj
        self._chunk = chunk
        self._d = zlib.decompressobj(31)
        self._buf = memoryview(b"")
        self._done = False
        self._truncated = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            if self._done:
                if self._truncated:
                    raise EOFError("gzip stream ended before its end-of-stream marker")
                return 0
            data = self._f.read(self._chunk)
            if not data:
                self._done = True
                self._truncated = not self._d.eof
                self._buf = memoryview(self._d.flush())
                continue
            out = []
            while data:
                if self._d.eof:  # next member of a multi-member file
                    self._d = zlib.decompressobj(31)
                out.append(self._d.decompress(data))
                data = self._d.unused_data if self._d.eof else b""
            self._buf = memoryview(b"".join(out))
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


# ---------------------------------------------------------------------------- JSON


def _split_lines(buffer: bytes, rest: Iterable[bytes]) -> Iterator[bytes]:
    """Lines of ``buffer`` then of ``rest``, re-joining a line cut at the buffer's end."""
    start = 0
    find = buffer.find
    while True:
        nl = find(b"\n", start)
        if nl < 0:
            break
        yield buffer[start : nl + 1]
        start = nl + 1
    tail = buffer[start:]
    it = iter(rest)
    if tail:
        yield tail + next(it, b"")
    yield from it


def _probe_lines(fh: IO[bytes], wanted: int = 5, limit: int = 4 * 1024 * 1024) -> list[bytes]:
    """Read lines until ``wanted`` non-blank ones (or ``limit`` bytes) have been seen."""
    lines: list[bytes] = []
    seen = size = 0
    for line in fh:
        lines.append(line)
        size += len(line)
        if line.strip():
            seen += 1
        if seen >= wanted or size >= limit:
            break
    return lines


def _any_record_line(lines: list[bytes]) -> bool:
    """Whether one of ``lines`` is a JSON object or array on its own (a JSONL record)."""
    for line in lines:
        try:
            value = _loads(line)
        except _JSONDecodeError:
            continue
        if type(value) is dict or type(value) is list:
            return True
    return False


def _read_json(
    fh: IO[bytes], conv: _Converter, chunk_size: int, state: dict[str, Any]
) -> Iterator[None]:
    """JSONL (objects or arrays per line) or one multi-line JSON document; yields when
    ``chunk_size`` records are pending in ``conv``."""
    lineno = 0
    first = b""
    for first in fh:
        lineno += 1
        if first.strip():
            break
    else:
        return
    if first.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte order mark
        first = first[3:]
    lines: Iterable[bytes] = itertools.chain((first,), fh)
    try:
        _loads(first)
    except _JSONDecodeError:
        # A first line that does not parse: a JSONL file with a bad first line, or one
        # JSON document spread over lines (pretty-printed array / object, ``jq .`` output)?
        if first.lstrip()[:1] in (b"[", b"{"):
            probe = _probe_lines(fh)
            if _any_record_line(probe):
                lines = itertools.chain((first,), probe, fh)
            else:
                rest = fh.read(MAX_DOCUMENT_BYTES)
                doc = b"".join((first, *probe, rest))
                if len(rest) < MAX_DOCUMENT_BYTES and any(line.strip() for line in probe):
                    # the whole document is in memory
                    handled = yield from _read_document(doc, lineno, conv, chunk_size, state)
                    if handled:
                        return
                lines = _split_lines(doc, fh)
    add = conv.add
    events, quarantined = conv.events, conv.quarantined
    loads, decode_error = _loads, _JSONDecodeError
    lineno -= 1
    try:
        for line in lines:
            lineno += 1
            try:
                obj = loads(line)
            except decode_error as exc:
                conv.add_bad_line(line, lineno, exc)
                continue
            if type(obj) is list:
                for i, element in enumerate(obj):
                    add(element, lineno, i, None)
            else:
                add(obj, lineno, None, line)
            if len(events) + len(quarantined) >= chunk_size:
                conv.line = lineno
                yield
    finally:
        conv.line = lineno  # where a read error happened


def _read_document(
    doc: bytes, lineno: int, conv: _Converter, chunk_size: int, state: dict[str, Any]
) -> Generator[None, None, bool]:
    """A multi-line JSON document (or several). Returns False to fall back to lines."""
    try:
        obj = _loads(doc)
    except _JSONDecodeError as exc:
        error: ValueError = exc
    else:
        state["container"] = "json"
        yield from _add_values([(obj, lineno)], conv, chunk_size, doc)
        return True
    # Several pretty-printed documents one after another (``jq .`` output)? Only when the
    # first one spans lines: a one-line first value means a JSONL file with a bad line.
    if str(error).startswith("unexpected content after document"):
        try:
            text = doc.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        values, tail_at, tail_error = _raw_decode_all(text, lineno)
        if values and values[0][2]:
            state["container"] = "json"
            yield from _add_values([(v, line) for v, line, _ in values], conv, chunk_size, None)
            if tail_at is not None and tail_error is not None:
                tail = text[tail_at:].encode("utf-8")
                reason, detail = _json_error(tail_error, tail)  # re-parsed with orjson
                conv.quarantine(reason, detail, tail, lineno + text.count("\n", 0, tail_at))
            return True
    state["container"] = "json"
    reason, detail = _json_error(error, doc)
    conv.quarantine(reason, f"multi-line JSON document: {detail}", doc, lineno)
    return True


def _raw_decode_all(
    text: str, lineno: int
) -> tuple[list[tuple[Any, int, bool]], int | None, ValueError | None]:
    """Decode concatenated JSON values: ``([(value, line, spans_lines)], tail_at, error)``."""
    decoder = json.JSONDecoder()
    values: list[tuple[Any, int, bool]] = []
    pos, n, line = 0, len(text), lineno
    while True:
        while pos < n and text[pos] in " \t\r\n":
            if text[pos] == "\n":
                line += 1
            pos += 1
        if pos >= n:
            return values, None, None
        try:
            value, end = decoder.raw_decode(text, pos)
        except ValueError as exc:
            return values, pos, exc
        newlines = text.count("\n", pos, end)
        values.append((value, line, newlines > 0))
        line += newlines
        pos = end


def _add_values(
    values: list[tuple[Any, int]], conv: _Converter, chunk_size: int, raw: bytes | None
) -> Iterator[None]:
    for value, line in values:
        conv.line = line
        if type(value) is list:
            for i, element in enumerate(value):
                conv.add(element, line, i, None)
                if len(conv.events) + len(conv.quarantined) >= chunk_size:
                    yield
        else:
            conv.add(value, line, None, raw)
            if len(conv.events) + len(conv.quarantined) >= chunk_size:
                yield


# ---------------------------------------------------------------------------- CSV

#: Cells read as missing (what pandas, Spark and databases write for null).
_CSV_MISSING = frozenset({"", "NaN", "nan", "NULL", "null", "None", "<NA>"})


def _read_csv(
    fh: IO[bytes], conv: _Converter, chunk_size: int, state: dict[str, Any]
) -> Iterator[None]:
    buf: list[bytes] = []
    bad_utf8: list[int] = []

    def lines() -> Iterator[str]:
        for raw in fh:
            buf.append(raw)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad_utf8.append(exc.start)
                yield raw.decode("utf-8", "replace")

    csv.field_size_limit(2**31 - 1)
    reader = csv.reader(lines())
    header: list[str] | None = None
    width = 0
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            conv.quarantine("bad_csv_row", f"CSV error: {exc}", b"".join(buf), start)
            buf.clear()
            bad_utf8.clear()
            if reader.line_num < start:  # no progress: stop rather than loop
                break
            continue
        conv.line = start
        raw = b"".join(buf) if len(buf) != 1 else buf[0]
        buf.clear()
        if header is None:
            if not row:
                continue
            header = [h.strip() for h in row]
            header[0] = header[0].lstrip("\ufeff")
            width = len(header)
            bad_utf8.clear()
            continue
        if bad_utf8:
            conv.quarantine("invalid_utf8", f"invalid UTF-8 at byte {bad_utf8[0]}", raw, start)
            bad_utf8.clear()
        elif not row:
            continue
        elif len(row) != width:
            conv.quarantine(
                "bad_csv_row", f"{len(row)} cells where the header has {width}", raw, start
            )
        else:
            cells = [None if c in _CSV_MISSING else c for c in row]
            conv.add(dict(zip(header, cells, strict=True)), start, None, raw)
        if len(conv.events) + len(conv.quarantined) >= chunk_size:
            yield


# ---------------------------------------------------------------------------- Parquet


def _read_parquet(
    fh: IO[bytes], conv: _Converter, chunk_size: int, state: dict[str, Any]
) -> Iterator[None]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if not fh.seekable():
        fh = io.BytesIO(fh.read())
    pf = pq.ParquetFile(fh)
    total_rows = max(pf.metadata.num_rows, 1)
    size = state["bytes_total"] or 0
    row = 0
    for batch in pf.iter_batches(batch_size=chunk_size):
        columns = []
        for column in batch.columns:
            if pa.types.is_floating(column.type) and pc.any(pc.is_nan(column)).as_py():
                column = pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)
            columns.append(column)
        if any(a is not b for a, b in zip(columns, batch.columns, strict=True)):
            batch = pa.RecordBatch.from_arrays(columns, names=batch.schema.names)
        for record in batch.to_pylist():
            row += 1
            conv.line = row
            conv.add(record, row, None, None)
        state["bytes_done"] = size * row // total_rows
        yield


_READERS = {"jsonl": _read_json, "json": _read_json, "csv": _read_csv, "parquet": _read_parquet}


# ---------------------------------------------------------------------------- sources


def _sniff_container(name: str, head: bytes) -> str:
    lower = name.lower()
    for suffix in (".gz", ".gzip"):
        if lower.endswith(suffix):
            lower = lower[: -len(suffix)]
    ext = os.path.splitext(lower)[1]
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    if head.startswith(b"PAR1"):
        return "parquet"
    stripped = head.lstrip(b" \t\r\n\xef\xbb\xbf")
    if stripped[:1] in (b"{", b"["):
        return "jsonl"
    if b"," in stripped.split(b"\n", 1)[0]:
        return "csv"
    return "jsonl"


def _peek(fh: IO[bytes], n: int) -> bytes:
    peek = getattr(fh, "peek", None)
    if peek is None:
        return b""
    data = peek(n)
    return data[:n]


def _source_name(path: str | os.PathLike[str]) -> str:
    return os.fspath(path)


def expand_paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[str]:
    """Normalise ``paths`` to a list of files; a directory gives its supported files, sorted.

    Parameters
    ----------
    paths : path or iterable of paths
        Files, directories (their ``.jsonl`` / ``.ndjson`` / ``.json`` / ``.log`` /
        ``.csv`` / ``.parquet`` / ``.pq`` files, optionally ``.gz``, recursively, hidden
        ones skipped) or ``"-"`` (stdin).

    Returns
    -------
    list of str

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[str] = []
    for path in paths:
        name = _source_name(path)
        if name == "-":
            out.append(name)
            continue
        p = Path(name)
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                if any(part.startswith(".") for part in child.relative_to(p).parts):
                    continue  # hidden files and folders (.git, .cache, ...)
                lower = child.name.lower().removesuffix(".gz")
                if child.is_file() and os.path.splitext(lower)[1] in _EXTENSIONS:
                    out.append(str(child))
        elif p.exists():
            out.append(name)
        else:
            raise FileNotFoundError(f"no such file: {name}")
    return out


def _iter_source(
    name: str,
    fmt: str | None,
    account: AccountChain | None,
    chunk_size: int,
    raw_limit: int,
) -> Iterator[EventChunk]:
    conv = _Converter(name, fmt, account, raw_limit)
    state: dict[str, Any] = {
        "container": "jsonl",
        "compression": None,
        "bytes_done": 0,
        "bytes_total": None,
    }
    raw: IO[bytes] | None = None
    fh: IO[bytes] | None = None
    reader: Iterator[None] | None = None

    def position() -> int:
        if state["container"] == "parquet":
            return state["bytes_done"]
        try:
            return raw.tell() if raw is not None else 0
        except (OSError, ValueError):
            return state["bytes_done"]

    def chunk(done: bool) -> EventChunk:
        events, quarantined, formats = conv.take()
        total = state["bytes_total"]
        state["bytes_done"] = total if done and total is not None else position()
        return EventChunk(
            events,
            quarantined,
            name,
            state["container"],
            state["compression"],
            formats,
            len(events) + len(quarantined),
            state["bytes_done"],
            state["bytes_total"],
            done,
        )

    try:
        if name == "-":
            raw = sys.stdin.buffer
            if not hasattr(raw, "peek"):
                raw = io.BufferedReader(raw)  # type: ignore[type-var]
        else:
            raw = open(name, "rb", buffering=_BUFFER)  # noqa: SIM115 (closed in finally)
            state["bytes_total"] = os.fstat(raw.fileno()).st_size
        fh = raw
        if _peek(raw, 2) == _GZIP_MAGIC:
            fh = io.BufferedReader(_GzipRaw(raw), _BUFFER)
            state["compression"] = "gzip"
        state["container"] = _sniff_container(name, _peek(fh, 512))
        reader = _READERS[state["container"]](fh, conv, chunk_size, state)
        for _ in reader:
            yield chunk(False)
    except Exception as exc:  # I/O error, corrupt gzip / Parquet: keep what was read
        detail = f"{type(exc).__name__}: {exc}"[:300]
        line = conv.line + 1 if state["container"] != "parquet" else None
        conv.quarantine("read_error", detail, None, line)
    finally:
        if reader is not None and hasattr(reader, "close"):
            reader.close()
        if raw is not None and name != "-":
            raw.close()
    yield chunk(True)


def _check_fmt(fmt: str | None) -> str | None:
    if fmt is None or fmt == "auto":
        return None
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return fmt


def iter_event_chunks(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    fmt: str | None = None,
    account_field: str | Sequence[str] | None = None,
    chunk_size: int = 20_000,
    raw_limit: int = RAW_LIMIT,
) -> Iterator[EventChunk]:
    """Read log files into chunks of validated events, quarantining bad records.

    Parameters
    ----------
    paths : path or iterable of paths
        JSONL / JSON / CSV / Parquet files, optionally ``.gz``; directories (their
        supported files, recursively); ``"-"`` for stdin.
    fmt : {None, "auto", "litellm", "openai", "canonical"}
        Force the record format; ``None`` detects it per record.
    account_field : str or sequence of str, optional
        Dotted path or comma-separated chain of dotted paths giving the account
        (see :func:`detector.ingest.adapters.parse_account_field`).
    chunk_size : int
        Records per chunk (events + quarantined); each source ends with a chunk
        with ``done=True`` (possibly empty).
    raw_limit : int
        Bytes of each rejected record kept in its quarantine entry (0: none).

    Yields
    ------
    EventChunk

    Raises
    ------
    FileNotFoundError
        If a path does not exist (checked before anything is read).
    ValueError
        For an unknown ``fmt`` or an invalid ``account_field``.
    """
    fmt = _check_fmt(fmt)
    account = parse_account_field(account_field)
    files = expand_paths(paths)
    chunk_size = max(int(chunk_size), 1)
    for name in files:
        yield from _iter_source(name, fmt, account, chunk_size, raw_limit)


def read_events(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    fmt: str | None = None,
    account_field: str | Sequence[str] | None = None,
    raw_limit: int = RAW_LIMIT,
) -> tuple[list[dict[str, Any]], list[QuarantineRecord]]:
    """Read everything into memory: ``(events, quarantined)``. For small inputs and tests.

    Parameters
    ----------
    paths, fmt, account_field, raw_limit
        As for :func:`iter_event_chunks`.

    Returns
    -------
    (list of dict, list of QuarantineRecord)
    """
    events: list[dict[str, Any]] = []
    quarantined: list[QuarantineRecord] = []
    for chunk in iter_event_chunks(paths, fmt, account_field, raw_limit=raw_limit):
        events.extend(chunk.events)
        quarantined.extend(chunk.quarantined)
    return events, quarantined


def parse_payload(
    body: bytes | str,
    fmt: str | None = None,
    account_field: str | Sequence[str] | None = None,
    source: str = "http",
    raw_limit: int = RAW_LIMIT,
) -> tuple[list[dict[str, Any]], list[QuarantineRecord]]:
    """Parse an HTTP body as a gateway's logging callback posts it.

    Accepts what LiteLLM's generic logger sends (``json_array``: one array;
    ``ndjson``: one record per line; ``single``: one object) and the same shapes
    holding OpenAI-style or canonical records. Never raises on bad content.

    Parameters
    ----------
    body : bytes or str
        The request body (already decompressed).
    fmt : {None, "auto", "litellm", "openai", "canonical"}
        Force the record format; ``None`` detects it per record.
    account_field : str or sequence of str, optional
        Account field chain (see :func:`iter_event_chunks`).
    source : str
        Name recorded in quarantine entries.
    raw_limit : int
        Bytes of each rejected record kept in its quarantine entry (0: none).

    Returns
    -------
    (list of dict, list of QuarantineRecord)
        Validated events and rejected records.

    Raises
    ------
    ValueError
        For an unknown ``fmt`` or an invalid ``account_field`` (not for bad content).
    """
    conv = _Converter(source, _check_fmt(fmt), parse_account_field(account_field), raw_limit)
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    state: dict[str, Any] = {"container": "jsonl", "bytes_total": len(body)}
    try:
        for _ in _read_json(io.BytesIO(body), conv, 1 << 62, state):
            pass
    except Exception as exc:  # defensive: bad content must never escape
        conv.quarantine("read_error", f"{type(exc).__name__}: {exc}"[:300], body, conv.line or None)
    events, quarantined, _ = conv.take()
    return events, quarantined


# ------------------------------------------------------------------- line blocks


@dataclass(slots=True)
class LineBlock:
    """A run of whole JSONL lines read from one file, for parsing in another process.

    Parameters
    ----------
    data : bytes
        The lines (decompressed), each ending at a line boundary.
    first_line : int
        1-based number of the first line of ``data`` in the file.
    bytes_done, bytes_total : int
        Progress in the file (compressed bytes for ``.gz``).
    compression : str or None
        ``"gzip"`` or None.
    error : str or None
        Set on the last block when the file could not be read to its end (a cut-off
        ``.gz``): the complete lines before the fault are in ``data``.
    """

    data: bytes
    first_line: int
    bytes_done: int
    bytes_total: int
    compression: str | None
    error: str | None = None


class NotLineDelimited(ValueError):
    """The file is not JSONL (CSV, Parquet, or one multi-line JSON document)."""


def iter_line_blocks(path: str, block_bytes: int = 64 << 20) -> Iterator[LineBlock]:
    """Read a JSONL(.gz) file as blocks of whole lines of about ``block_bytes``.

    The offline audit hands the blocks to worker processes (:func:`parse_block`), so
    parsing and featurisation use every core while this process only decompresses.

    Raises
    ------
    NotLineDelimited
        Before yielding anything, when the file is not line-delimited JSON; read it
        with :func:`iter_event_chunks` instead.
    """
    with open(path, "rb", buffering=_BUFFER) as raw:
        total = os.fstat(raw.fileno()).st_size
        fh: IO[bytes] = raw
        compression = None
        if _peek(raw, 2) == _GZIP_MAGIC:
            fh = io.BufferedReader(_GzipRaw(raw), _BUFFER)
            compression = "gzip"
        if _sniff_container(path, _peek(fh, 512)) != "jsonl":
            raise NotLineDelimited(path)
        probe = _probe_lines(fh, wanted=3)
        firsts = [line for line in probe if line.strip()]
        if not firsts or not _any_record_line(firsts[:1]):
            raise NotLineDelimited(path)
        parts: list[bytes] = list(probe)
        size = sum(len(p) for p in parts)
        first_line = 1
        count = len(parts)
        try:
            for line in fh:
                parts.append(line)
                size += len(line)
                count += 1
                if size >= block_bytes:
                    yield LineBlock(b"".join(parts), first_line, raw.tell(), total, compression)
                    first_line += count
                    parts, size, count = [], 0, 0
        except (OSError, EOFError, zlib.error) as exc:
            yield LineBlock(
                b"".join(parts),
                first_line,
                total,
                total,
                compression,
                f"{type(exc).__name__}: {exc}"[:300],
            )
            return
        yield LineBlock(b"".join(parts), first_line, total, total, compression)


def parse_block(
    block: LineBlock,
    source: str,
    fmt: str | None = None,
    account_field: str | Sequence[str] | None = None,
    raw_limit: int = RAW_LIMIT,
) -> tuple[list[dict[str, Any]], list[QuarantineRecord], dict[str, int]]:
    """Parse one :class:`LineBlock`: events, quarantined records (file line numbers) and
    the record formats seen. Never raises on bad content."""
    conv = _Converter(source, _check_fmt(fmt), parse_account_field(account_field), raw_limit)
    state: dict[str, Any] = {"container": "jsonl", "bytes_total": len(block.data)}
    try:
        for _ in _read_json(io.BytesIO(block.data), conv, 1 << 62, state):
            pass
    except Exception as exc:  # defensive: bad content must never escape
        conv.quarantine("read_error", f"{type(exc).__name__}: {exc}"[:300], None, conv.line or None)
    events, quarantined, formats = conv.take()
    offset = block.first_line - 1
    if offset:
        quarantined = [
            replace(q, line=q.line + offset) if q.line is not None else q for q in quarantined
        ]
    if block.error:
        line = block.first_line + block.data.count(b"\n")
        quarantined.append(QuarantineRecord(source, line, "read_error", block.error, ""))
    return events, quarantined, formats
