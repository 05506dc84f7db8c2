"""Quarantine: records that could not become events, with a stable reason code.

A bad record never stops a read and never takes a good neighbour with it; it becomes a
:class:`QuarantineRecord` (where it came from, why, and the start of the raw text so an
operator can look at it). Privacy: ``raw`` can hold prompt text. It is kept, truncated
to :data:`RAW_LIMIT` bytes, only so that an operator who asked for a quarantine file
(``distillwatch inspect --quarantine-out``) can see what was rejected; pass
``raw_limit=0`` to the readers to keep none.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

import orjson

__all__ = [
    "RAW_LIMIT",
    "REASONS",
    "QuarantineRecord",
    "QuarantineWriter",
    "count_reasons",
    "raw_text",
]

#: Bytes of the raw record kept in a quarantine entry.
RAW_LIMIT = 2048

#: Every reason code the ingest layer emits, with its meaning.
REASONS: dict[str, str] = {
    "invalid_json": "the line (or document) is not valid JSON",
    "truncated_json": "the JSON ends early (cut-off line or file)",
    "invalid_utf8": "the bytes are not valid UTF-8",
    "not_an_object": "valid JSON, but not an object or an array of objects",
    "unknown_format": "an object matching none of the formats (litellm, openai, canonical)",
    "missing_time": "no timestamp",
    "bad_timestamp": "a timestamp that is not a time, or outside 2000..2100 (ms instead of s?)",
    "missing_account": "no account identity (see --account-field)",
    "missing_request_id": "no request id",
    "bad_type": "a field of the wrong type (e.g. a token count that is not a number)",
    "bad_value": "a number that is not finite",
    "negative_count": "a negative token count / n / max_tokens / ...",
    "negative_value": "a negative latency, temperature or top_p",
    "bad_csv_row": "a CSV row whose number of cells differs from the header's",
    "read_error": "the file could not be read (I/O error, corrupt or truncated gzip / Parquet)",
    "adapter_error": "unexpected error in an adapter (a bug: please report it)",
}


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """One rejected record.

    Parameters
    ----------
    source : str
        File path (or ``"http"`` / ``"-"`` for stdin).
    line : int or None
        1-based line number (JSONL / CSV), row number (Parquet), ``None`` for a
        multi-line JSON document.
    reason : str
        Stable reason code, a key of :data:`REASONS`.
    detail : str
        Human-readable explanation.
    raw : str
        The start of the raw record (at most ``RAW_LIMIT`` bytes, decoded with
        backslash escapes for invalid UTF-8).
    index : int or None
        Position inside a JSON array (a json_array line or a whole-file array).
    raw_size : int
        Size of the whole raw record in bytes.
    raw_truncated : bool
        Whether ``raw`` holds only the start of the record.
    """

    source: str
    line: int | None
    reason: str
    detail: str
    raw: str
    index: int | None = None
    raw_size: int = 0
    raw_truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-ready dict."""
        return {
            "source": self.source,
            "line": self.line,
            "index": self.index,
            "reason": self.reason,
            "detail": self.detail,
            "raw_size": self.raw_size,
            "raw_truncated": self.raw_truncated,
            "raw": self.raw,
        }


def raw_text(raw: bytes | str | None, limit: int = RAW_LIMIT) -> tuple[str, int, bool]:
    """Truncate and decode a raw record for a quarantine entry.

    Parameters
    ----------
    raw : bytes or str or None
        The raw line / serialized element.
    limit : int
        Bytes (or characters, for ``str``) to keep; 0 keeps nothing.

    Returns
    -------
    (str, int, bool)
        The kept text (trailing newline removed), the size of the whole raw record and
        whether the text was cut.
    """
    if raw is None:
        return "", 0, False
    size = len(raw)
    if isinstance(raw, str):
        return raw[:limit].rstrip("\r\n"), size, size > limit
    text = raw[:limit].decode("utf-8", "backslashreplace").rstrip("\r\n")
    return text, size, size > limit


def count_reasons(records: Iterable[QuarantineRecord]) -> dict[str, int]:
    """Count quarantine records by reason, most frequent first.

    Parameters
    ----------
    records : iterable of QuarantineRecord

    Returns
    -------
    dict
        ``{reason: count}``.
    """
    return dict(Counter(r.reason for r in records).most_common())


class QuarantineWriter:
    """Append quarantine records to a JSONL file (``.gz`` compressed if the name says so).

    Parameters
    ----------
    path : str or Path
        Output file; parent directories are created; an existing file is replaced.

    Examples
    --------
    >>> with QuarantineWriter("quarantine.jsonl") as qw:  # doctest: +SKIP
    ...     qw.write(chunk.quarantined)
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.count = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = gzip.open(self.path, "wb") if self.path.suffix == ".gz" else open(self.path, "wb")  # noqa: SIM115
        self._fh = cast(IO[bytes], fh)

    def write(self, records: Iterable[QuarantineRecord]) -> int:
        """Write records; return how many were written."""
        n = 0
        for record in records:
            doc = record.to_dict()
            try:
                line = orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE)
            except TypeError:  # lone surrogates in a str: write them as visible escapes
                doc = {
                    k: v.encode("utf-8", "backslashreplace").decode("utf-8")
                    if isinstance(v, str)
                    else v
                    for k, v in doc.items()
                }
                line = orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE)
            self._fh.write(line)
            n += 1
        self.count += n
        return n

    def close(self) -> None:
        """Flush and close the file."""
        self._fh.close()

    def __enter__(self) -> QuarantineWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
