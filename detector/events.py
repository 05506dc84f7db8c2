"""The canonical event: one API call, whatever log format it came from.

Every adapter (LiteLLM ``StandardLoggingPayload``, OpenAI request/response pairs,
the flat canonical schema in JSONL / CSV / Parquet) maps its records onto this one
flat shape. Downstream code (aggregates, features, streaming) sees nothing else.

An event is a plain ``dict`` keyed by the names in :data:`EVENT_FIELDS` (plain dicts
are the fastest thing to build per record in CPython; the schema below is the
contract). Text fields (``system_prompt``, ``user_prompt``) are used only to compute
fingerprints and text signals; they are never written to Redis or to reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EVENT_FIELDS",
    "EVENT_FIELD_NAMES",
    "TEXT_FIELDS",
    "EventError",
    "EventField",
    "new_event",
    "validate_event",
]


@dataclass(frozen=True, slots=True)
class EventField:
    """One column of the canonical event.

    Parameters
    ----------
    name : str
        Column name.
    dtype : str
        One of ``str``, ``float``, ``int``, ``bool``.
    required : bool
        Whether a record without it is rejected (quarantined).
    meaning : str
        One line for humans.
    """

    name: str
    dtype: str
    required: bool
    meaning: str


EVENT_FIELDS: tuple[EventField, ...] = (
    EventField("ts", "float", True, "request start, seconds since the Unix epoch (UTC)"),
    EventField("request_id", "str", True, "provider/gateway request id; idempotency key"),
    EventField("account_id", "str", True, "the billing identity the detector scores"),
    EventField("api_key", "str", False, "API key id or hash (never the secret itself)"),
    EventField("end_user", "str", False, "end-user id the caller passed (`user` field)"),
    EventField("ip", "str", False, "client IP address as seen by the gateway"),
    EventField("user_agent", "str", False, "client User-Agent header"),
    EventField("endpoint", "str", False, "API route, e.g. /v1/chat/completions"),
    EventField("model", "str", False, "model name the client asked for"),
    EventField("status", "str", False, "success or failure"),
    EventField("latency_s", "float", False, "end time minus start time, seconds"),
    EventField("prompt_tokens", "int", False, "input tokens"),
    EventField("completion_tokens", "int", False, "output tokens, summed over the n choices"),
    EventField("reasoning_tokens", "int", False, "hidden reasoning tokens, if reported"),
    EventField("temperature", "float", False, "sampling temperature, if set"),
    EventField("top_p", "float", False, "nucleus sampling parameter, if set"),
    EventField("n", "int", False, "number of choices requested (1 when absent)"),
    EventField("max_tokens", "int", False, "max_tokens / max_completion_tokens, if set"),
    EventField("logprobs", "bool", False, "whether token logprobs were requested"),
    EventField("top_logprobs", "int", False, "number of alternatives per token (0 when absent)"),
    EventField("logit_bias_size", "int", False, "number of entries in logit_bias (0 when absent)"),
    EventField("seed", "bool", False, "whether a sampling seed was set"),
    EventField("stream", "bool", False, "whether the response was streamed"),
    EventField("tools_count", "int", False, "number of tools offered to the model"),
    EventField("response_format", "str", False, "response_format type (text, json_object, ...)"),
    EventField("n_messages", "int", False, "messages in the request"),
    EventField("system_prompt", "str", False, "system prompt text (fingerprinted, never stored)"),
    EventField("user_prompt", "str", False, "last user message text (fingerprinted, never stored)"),
    EventField("finish_reason", "str", False, "finish reason of the first choice"),
)

EVENT_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in EVENT_FIELDS)
TEXT_FIELDS: tuple[str, ...] = ("system_prompt", "user_prompt")
_BY_NAME = {f.name: f for f in EVENT_FIELDS}
_COUNT_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "n",
    "max_tokens",
    "top_logprobs",
    "logit_bias_size",
    "tools_count",
    "n_messages",
)
_OPTIONAL_STR_FIELDS = tuple(
    f.name for f in EVENT_FIELDS if f.dtype == "str" and f.name not in ("account_id", "request_id")
)
# 2000-01-01 .. 2100-01-01: anything outside is a unit error (ms vs s) or garbage.
_TS_MIN = 946_684_800.0
_TS_MAX = 4_102_444_800.0


class EventError(ValueError):
    """A record that cannot become a valid event; ``reason`` is a short stable code.

    Parameters
    ----------
    reason : str
        Machine-readable reason code used for quarantine counts
        (e.g. ``missing_account``, ``bad_timestamp``, ``negative_count``).
    detail : str
        Human-readable explanation.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def new_event() -> dict[str, Any]:
    """Return an event dict with every field present and set to its empty value."""
    return dict.fromkeys(EVENT_FIELD_NAMES)


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise EventError("bad_type", f"{name} must be a number, got a boolean")
    if isinstance(value, int):
        out = value
    elif isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise EventError("bad_type", f"{name} must be a whole number, got {value!r}")
        out = int(value)
    elif isinstance(value, str):
        try:
            out = int(float(value)) if value.strip() else 0
        except (ValueError, OverflowError):  # "abc", "nan" / "inf", "1e400"
            raise EventError("bad_type", f"{name} must be a number, got {value[:40]!r}") from None
    else:
        raise EventError("bad_type", f"{name} must be a number, got {type(value).__name__}")
    if out < 0:
        raise EventError("negative_count", f"{name} is negative ({out})")
    return out


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise EventError("bad_type", f"{name} must be a number, got a boolean")
    if isinstance(value, (int, float)):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(value)
        except ValueError:
            raise EventError("bad_type", f"{name} must be a number, got {value[:40]!r}") from None
    else:
        raise EventError("bad_type", f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(out):
        raise EventError("bad_value", f"{name} is not finite")
    return out


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", ""}:
        return value.strip().lower() in {"true", "1"}
    raise EventError("bad_type", f"{name} must be a boolean, got {value!r:.40}")


def _as_str(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise EventError("bad_type", f"{name} must be a string, got {type(value).__name__}")


def validate_event(event: dict[str, Any]) -> dict[str, Any]:
    """Coerce and check an event in place; raise :class:`EventError` on bad input.

    Identity and time are required; counts must be non-negative whole numbers;
    the timestamp must be epoch seconds between 2000 and 2100. Missing optional
    fields get their neutral value (``n`` = 1, counts = 0, flags = False).

    Parameters
    ----------
    event : dict
        Output of an adapter, keyed by canonical names.

    Returns
    -------
    dict
        The same dict, normalised.
    """
    ts = event.get("ts")
    if ts is None or ts == "":
        raise EventError("missing_time", "no timestamp")
    try:
        ts = _as_float("ts", ts)
    except EventError as exc:
        raise EventError("bad_timestamp", exc.detail) from None
    if not _TS_MIN <= ts <= _TS_MAX:
        raise EventError("bad_timestamp", f"timestamp {ts!r} is outside 2000..2100 (epoch seconds)")
    event["ts"] = ts

    for name, reason in (("account_id", "missing_account"), ("request_id", "missing_request_id")):
        value = event.get(name)
        if value is None or value == "":
            raise EventError(reason, f"no {name}")
        value = _as_str(name, value).strip()
        if not value:
            raise EventError(reason, f"empty {name}")
        event[name] = value

    for name in _COUNT_FIELDS:
        value = event.get(name)
        if type(value) is int and value >= 0:  # fast path: already valid
            continue
        if value is None or value == "":
            event[name] = 1 if name == "n" else (None if name == "max_tokens" else 0)
        else:
            event[name] = _as_int(name, value)
    for name in ("latency_s", "temperature", "top_p"):
        value = event.get(name)
        if value is None or value == "":
            event[name] = None
        else:
            value = _as_float(name, value)
            if value < 0:
                raise EventError("negative_value", f"{name} is negative ({value})")
            event[name] = value
    for name in ("logprobs", "seed", "stream"):
        value = event.get(name)
        if type(value) is not bool:  # fast path: already valid
            event[name] = False if value is None else _as_bool(name, value)
    for name in _OPTIONAL_STR_FIELDS:
        value = event.get(name)
        if type(value) is str and value:  # fast path: already valid
            continue
        if value == "" or value is None:
            event[name] = None
        else:
            event[name] = _as_str(name, value)
    return event


def field(name: str) -> EventField:
    """Return the schema entry for ``name`` (``KeyError`` if unknown)."""
    return _BY_NAME[name]
