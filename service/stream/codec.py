"""Events as they travel on the Redis stream, and the column arrays the aggregator needs.

A stream entry is one event without its raw text: prompt text is turned into text
signals (fingerprints, chain-of-thought score, topic, ...) at ingest and dropped, so no
prompt ever reaches Redis. The entry holds one field ``e``: an orjson array laid out
as :data:`STREAM_FIELDS` (arrays are smaller and faster to decode than objects).

:func:`columns_from_rows` rebuilds exactly the arrays that
:func:`detector.aggregates.event_columns` builds from full events, so the workers run
the same vectorised :func:`detector.aggregates.aggregate_events` as the offline audit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import orjson

from detector.aggregates import columns_from_fields
from detector.events import EVENT_FIELD_NAMES, TEXT_FIELDS

__all__ = [
    "SIGNAL_FIELDS",
    "STREAM_FIELDS",
    "STREAM_VERSION",
    "columns_from_rows",
    "decode_entries",
    "decode_entry",
    "encode_events",
]

STREAM_VERSION = 1
#: Text signals computed at ingest (see :func:`detector.text.text_signals_batch`).
SIGNAL_FIELDS: tuple[str, ...] = (
    "exact_fp",
    "skeleton_fp",
    "nd_key",
    "system_fp",
    "cot_score",
    "is_cot",
    "topic",
    "is_mcq",
    "answer_format_short",
    "prompt_words",
)
_CANON = tuple(f for f in EVENT_FIELD_NAMES if f not in TEXT_FIELDS)
#: Layout of the array in a stream entry: version, canonical fields without text,
#: ``has_system``, then the text signals.
STREAM_FIELDS: tuple[str, ...] = ("v", *_CANON, "has_system", *SIGNAL_FIELDS)
_POS = {name: i for i, name in enumerate(STREAM_FIELDS)}
_PY = {
    "exact_fp": int,
    "skeleton_fp": int,
    "nd_key": int,
    "system_fp": int,
    "cot_score": float,
    "is_cot": bool,
    "topic": int,
    "is_mcq": bool,
    "answer_format_short": bool,
    "prompt_words": int,
}


def encode_events(events: Sequence[Mapping[str, Any]]) -> list[bytes]:
    """Encode validated events for the stream, computing their text signals.

    Parameters
    ----------
    events : sequence of dict
        Validated canonical events (with ``system_prompt`` / ``user_prompt``).

    Returns
    -------
    list of bytes
        One orjson array per event (no prompt text), laid out as :data:`STREAM_FIELDS`.
    """
    if not events:
        return []
    from detector.text import text_signals_batch

    systems = [e.get("system_prompt") for e in events]
    signals = text_signals_batch(systems, [e.get("user_prompt") for e in events])
    sig_lists = [signals[name].tolist() for name in SIGNAL_FIELDS]
    dumps = orjson.dumps
    out = []
    for i, event in enumerate(events):
        row: list[Any] = [STREAM_VERSION]
        row.extend(event.get(name) for name in _CANON)
        row.append(bool(systems[i]))
        row.extend(col[i] for col in sig_lists)
        out.append(dumps(row))
    return out


def decode_entry(payload: bytes) -> list[Any]:
    """Decode one stream entry's ``e`` field; raises ``ValueError`` if malformed."""
    row = orjson.loads(payload)
    if type(row) is not list or len(row) != len(STREAM_FIELDS) or row[0] != STREAM_VERSION:
        raise ValueError("not a stream event of this version")
    if type(row[_POS["ts"]]) not in (int, float) or not row[_POS["account_id"]]:
        raise ValueError("stream event without time or account")
    return row


def decode_entries(
    entries: Sequence[tuple[Any, Mapping[bytes, bytes]]],
) -> tuple[list[list[Any]], list[tuple[Any, Mapping[bytes, bytes], str]]]:
    """Decode a batch of stream entries at once (one orjson call when all are well formed).

    Parameters
    ----------
    entries : sequence of (id, fields)
        Entries as XREADGROUP returns them.

    Returns
    -------
    rows : list of list
        Decoded rows of the good entries (:func:`decode_entry`), in order.
    bad : list of (id, fields, reason)
        Entries that cannot be decoded, with the reason (for the dead-letter stream).
    """
    try:
        rows = orjson.loads(b"[" + b",".join(f[b"e"] for _id, f in entries) + b"]")
    except (KeyError, TypeError, orjson.JSONDecodeError):
        rows = None
    if rows is not None and len(rows) == len(entries) and _well_formed(rows):
        return rows, []
    rows, bad = [], []
    for entry_id, fields in entries:
        try:
            rows.append(decode_entry(fields[b"e"]))
        except Exception as exc:
            bad.append((entry_id, fields, f"decode_error: {exc}"[:200]))
    return rows, bad


_VERSION_OF = itemgetter(0)
_TS_OF = itemgetter(_POS["ts"])
_ACCOUNT_OF = itemgetter(_POS["account_id"])
_NUMBER_TYPES = frozenset({int, float})


def _well_formed(rows: list[Any]) -> bool:
    """:func:`decode_entry`'s checks on every row at once (C-level loops)."""
    if not rows:
        return True
    if set(map(type, rows)) != {list} or set(map(len, rows)) != {len(STREAM_FIELDS)}:
        return False
    if set(map(_VERSION_OF, rows)) != {STREAM_VERSION}:
        return False
    return _NUMBER_TYPES.issuperset(map(type, map(_TS_OF, rows))) and all(map(_ACCOUNT_OF, rows))


def columns_from_rows(rows: Sequence[Sequence[Any]]) -> dict[str, np.ndarray]:
    """The arrays of :func:`detector.aggregates.event_columns`, from decoded stream rows.

    Parameters
    ----------
    rows : sequence of list
        Decoded entries (:func:`decode_entry`).

    Returns
    -------
    dict of numpy.ndarray
        Same keys, dtypes and semantics as ``event_columns`` on the original events.
    """
    cols_t = list(zip(*rows, strict=True)) if rows else [() for _ in STREAM_FIELDS]
    raw = {name: cols_t[i] for name, i in _POS.items()}
    signals = {name: raw[name] for name in SIGNAL_FIELDS}
    return columns_from_fields(raw, raw["has_system"], signals)


def row_value(row: Sequence[Any], name: str) -> Any:
    """One field of a decoded row by name."""
    return row[_POS[name]]


def field_index(name: str) -> int:
    """Position of a field in a decoded row."""
    return _POS[name]
