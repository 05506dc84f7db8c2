"""Turn the timestamp shapes found in real exports into epoch seconds.

Logs carry time as epoch seconds (LiteLLM ``startTime``), numeric strings (CSV),
RFC 3339 / ISO 8601 strings (OpenAI-style exports, hand-written canonical files) or
native datetimes (Parquet ``timestamp`` columns). Everything becomes a float of seconds
since the Unix epoch, UTC; a naive datetime or string without an offset is read as UTC.
The range check (2000..2100) stays in :func:`detector.events.validate_event`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from detector.events import EventError

__all__ = ["format_rfc3339", "to_epoch"]


def to_epoch(value: Any) -> Any:
    """Convert a timestamp to epoch seconds, leaving numbers and missing values as they are.

    Parameters
    ----------
    value : Any
        Epoch seconds (int / float / numeric string), an RFC 3339 / ISO 8601 string,
        a :class:`datetime.datetime`, or ``None`` / ``""`` for a missing time.

    Returns
    -------
    float or int or None
        Epoch seconds (numbers are returned unchanged, the validator checks their range),
        or ``None`` when the value is missing.

    Raises
    ------
    EventError
        ``bad_timestamp`` when the value is not a time at all.
    """
    kind = type(value)
    if kind is float or kind is int or value is None:
        return value
    if kind is str:
        if len(value) == 24 and value[23] == "Z":  # the common export shape: fast path
            fast = _fast_rfc3339_ms(value)
            if fast is not None:
                return fast
        text = value.strip()
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(_iso_fixups(text))
        except ValueError:
            raise EventError("bad_timestamp", f"not a time: {value[:40]!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if kind is bool:
        raise EventError("bad_timestamp", "timestamp is a boolean")
    if isinstance(value, (int, float)):  # numpy scalars and other number subclasses
        return float(value)
    raise EventError(
        "bad_timestamp", f"timestamp must be a number or a string, got {kind.__name__}"
    )


_HOURS: dict[str, int] = {}  # "YYYY-MM-DDTHH" -> epoch seconds of that hour


def _fast_rfc3339_ms(value: str) -> float | None:
    """``YYYY-MM-DDTHH:MM:SS.fffZ`` to epoch seconds, bit for bit as the general path
    (``datetime.timestamp``: whole microseconds divided by 10**6); None for anything
    else (left to the general path)."""
    if value[10] != "T" or value[13] != ":" or value[16] != ":" or value[19] != ".":
        return None
    minute, second, milli = value[14:16], value[17:19], value[20:23]
    if not (minute.isdigit() and second.isdigit() and milli.isdigit() and minute.isascii()):
        return None
    if not second.isascii() or not milli.isascii() or minute >= "60" or second >= "60":
        return None
    hour = value[:13]
    base = _HOURS.get(hour)
    if base is None:
        try:
            parsed = datetime.fromisoformat(hour + ":00:00+00:00")
        except ValueError:
            return None
        base = int(parsed.timestamp())
        if len(_HOURS) >= 65536:
            _HOURS.clear()
        _HOURS[hour] = base
    micros = (base + int(minute) * 60 + int(second)) * 1_000_000 + int(milli) * 1000
    return micros / 1_000_000


def _iso_fixups(text: str) -> str:
    # fromisoformat (3.11) accepts "Z" but not a lower-case "t" / "z" (RFC 3339 allows both).
    if text[-1:] == "z":
        text = text[:-1] + "Z"
    if len(text) > 10 and text[10] == "t":
        text = text[:10] + "T" + text[11:]
    return text


def format_rfc3339(ts: float | None) -> str | None:
    """Format epoch seconds as RFC 3339 in UTC (``2026-05-01T12:00:00Z``).

    Parameters
    ----------
    ts : float or None
        Epoch seconds.

    Returns
    -------
    str or None
        The timestamp with a ``Z`` suffix (fractional seconds only when present),
        ``None`` for ``None``.
    """
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
