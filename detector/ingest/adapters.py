"""Adapters: one raw log record (a parsed ``dict``) in, one validated canonical event out.

Three record formats are understood:

``litellm``
    LiteLLM proxy ``StandardLoggingPayload`` as its generic logging callbacks post it
    (contract: ``shared/litellm-captures/README.md``, LiteLLM 1.108.7).
``openai``
    OpenAI-style pairs ``{"timestamp", "account_id", "request": {...}, "response": {...}}``
    with optional ``request_id``, ``api_key``, ``ip``, ``user_agent``, ``end_user``,
    ``endpoint``, ``latency_s``, ``status``.
``canonical``
    The flat schema of :mod:`detector.events` itself (``ts`` may be an RFC 3339 string).

Every adapter is a pure function ``(record, account=None) -> event`` that ends with
:func:`detector.events.validate_event` and raises :class:`detector.events.EventError`
(with a stable ``reason`` code) for anything it cannot turn into a valid event. They use
plain ``dict`` access only: this is the hot path of the offline audit.

The account identity is configurable (``account=``): a dotted path into the raw record,
or a comma-separated chain of dotted paths tried in order (first non-empty value wins),
e.g. ``"metadata.user_api_key_team_id,metadata.user_api_key_hash"``. A flattened column
literally named ``"metadata.user_api_key_hash"`` (CSV / Parquet) is matched too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from detector.events import (
    _COUNT_FIELDS,
    _OPTIONAL_STR_FIELDS,
    _TS_MAX,
    _TS_MIN,
    EVENT_FIELD_NAMES,
    EventError,
    validate_event,
)
from detector.ingest.timestamps import to_epoch

__all__ = [
    "ADAPTERS",
    "DEFAULT_ACCOUNT_FIELDS",
    "FORMATS",
    "AccountChain",
    "Adapter",
    "canonical_to_event",
    "detect_record_format",
    "litellm_to_event",
    "openai_to_event",
    "parse_account_field",
    "resolve_account",
]

#: A compiled account chain: ``((dotted, (key, key, ...)), ...)``.
AccountChain = tuple[tuple[str, tuple[str, ...]], ...]
Adapter = Callable[[dict[str, Any], "AccountChain | str | None"], dict[str, Any]]

FORMATS: tuple[str, ...] = ("litellm", "openai", "canonical")

#: Default account chain per record format (before ``--account-field`` overrides it).
DEFAULT_ACCOUNT_FIELDS: dict[str, str] = {
    "litellm": (
        "metadata.user_api_key_org_id,metadata.user_api_key_team_id,"
        "metadata.user_api_key_user_id,metadata.user_api_key_hash"
    ),
    "openai": "account_id",
    "canonical": "account_id",
}

_EMPTY: dict[str, Any] = {}
_NUMBER = (int, float)


@lru_cache(maxsize=64)
def _compile(spec: str) -> AccountChain:
    paths = [p.strip() for p in spec.split(",")]
    chain = tuple((p, tuple(k.strip() for k in p.split("."))) for p in paths if p)
    if not chain or any(not all(keys) for _, keys in chain):
        raise ValueError(f"invalid account field {spec!r}: expected dotted paths separated by ','")
    return chain


def parse_account_field(spec: str | Sequence[str] | None) -> AccountChain | None:
    """Compile an account-field specification.

    Parameters
    ----------
    spec : str or sequence of str or None
        A dotted path (``metadata.user_api_key_team_id``), a comma-separated chain of
        dotted paths, or a sequence of dotted paths. ``None`` (or blank) means "use the
        format's default chain" (:data:`DEFAULT_ACCOUNT_FIELDS`).

    Returns
    -------
    AccountChain or None
        The compiled chain, or ``None`` for the defaults.

    Raises
    ------
    ValueError
        If the specification has an empty path or an empty path segment.
    """
    if spec is None:
        return None
    if not isinstance(spec, str):
        spec = ",".join(spec)
    if not spec.strip():
        return None
    return _compile(spec)


_DEFAULT_CHAINS: dict[str, AccountChain] = {
    fmt: _compile(spec) for fmt, spec in DEFAULT_ACCOUNT_FIELDS.items()
}


def _chain(account: AccountChain | str | None, fmt: str) -> AccountChain:
    if account is None:
        return _DEFAULT_CHAINS[fmt]
    if type(account) is tuple:
        return account
    return parse_account_field(account) or _DEFAULT_CHAINS[fmt]  # type: ignore[arg-type]


def resolve_account(record: dict[str, Any], chain: AccountChain) -> Any:
    """Return the first non-empty value of ``chain`` in ``record`` (``None`` if none).

    Parameters
    ----------
    record : dict
        The raw record.
    chain : AccountChain
        Output of :func:`parse_account_field`.

    Returns
    -------
    Any
        The account value as found (the validator coerces and checks it), or ``None``.
    """
    for dotted, keys in chain:
        value: Any = record
        for key in keys:
            if type(value) is not dict:
                value = None
                break
            value = value.get(key)
        if (value is None or value == "") and len(keys) > 1:
            value = record.get(dotted)  # flattened column named like the dotted path
        if value is not None and value != "":
            return value
    return None


def detect_record_format(record: dict[str, Any]) -> str | None:
    """Guess the format of one parsed record from its keys.

    Parameters
    ----------
    record : dict
        A parsed JSON object (or CSV / Parquet row).

    Returns
    -------
    str or None
        ``"litellm"`` if it has ``litellm_call_id`` (or ``metadata`` and ``startTime``),
        ``"openai"`` if it has ``request`` and ``response`` (or ``request`` and
        ``timestamp``), ``"canonical"`` if it has ``ts`` (or ``account_id`` without an
        OpenAI-style ``timestamp``); else ``None``.
    """
    if "litellm_call_id" in record or ("startTime" in record and "metadata" in record):
        return "litellm"
    if "request" in record and ("response" in record or "timestamp" in record):
        return "openai"
    if "ts" in record or ("account_id" in record and "timestamp" not in record):
        return "canonical"
    return None


# ---------------------------------------------------------------------------- helpers


def _obj(value: Any, name: str) -> dict[str, Any]:
    """A nested object, ``{}`` when absent; ``bad_type`` when it is something else."""
    if type(value) is dict:
        return value
    if value is None:
        return _EMPTY
    raise EventError("bad_type", f"{name} must be an object, got {type(value).__name__}")


def _size(value: Any, name: str) -> int:
    if value is None:
        return 0
    if type(value) is dict or type(value) is list:
        return len(value)
    raise EventError("bad_type", f"{name} must be an object or a list, got {type(value).__name__}")


def _content_text(content: Any) -> str | None:
    if type(content) is str:
        return content
    if content is None:
        return None
    if type(content) is list:  # [{"type": "text", "text": ...}, {"type": "image_url", ...}]
        parts: list[str] = [
            p["text"] if type(p) is dict else p  # type: ignore[misc]
            for p in content
            if (type(p) is dict and type(p.get("text")) is str) or type(p) is str
        ]
        return "\n".join(parts) if parts else None
    raise EventError(
        "bad_type", f"message content must be a string or a list, got {type(content).__name__}"
    )


def _messages(messages: Any) -> tuple[Any, str | None, str | None]:
    """``(n_messages, system_prompt, user_prompt)``: system / developer texts joined, and
    the text of the last user message."""
    if messages is None:
        return None, None, None
    if type(messages) is str:  # text-completion style prompt
        return 1, None, messages
    if type(messages) is not list:
        raise EventError("bad_type", f"messages must be a list, got {type(messages).__name__}")
    system: list[str] | None = None
    last_user: dict[str, Any] | None = None
    for message in messages:
        if type(message) is not dict:
            raise EventError("bad_type", "each message must be an object")
        role = message.get("role")
        if role == "user":
            last_user = message
        elif role == "system" or role == "developer":
            text = _content_text(message.get("content"))
            if text:
                if system is None:
                    system = [text]
                else:
                    system.append(text)
    system_prompt = None
    if system is not None:
        system_prompt = system[0] if len(system) == 1 else "\n".join(system)
    user_prompt = None if last_user is None else _content_text(last_user.get("content"))
    return len(messages), system_prompt, user_prompt


# temperature, top_p, n, max_tokens, logprobs, top_logprobs, logit_bias_size, seed, stream,
# tools_count, response_format
_NO_PARAMS: tuple[Any, ...] = (None, None, None, None, None, None, 0, False, None, 0, None)


def _params(params: dict[str, Any]) -> tuple[Any, ...]:
    """Sampling / output parameters of a chat completions body or LiteLLM model_parameters."""
    if not params:
        return _NO_PARAMS
    get = params.get
    max_tokens = get("max_tokens")
    if max_tokens is None:
        max_tokens = get("max_completion_tokens")
    logprobs = get("logprobs")
    top_logprobs = get("top_logprobs")
    if type(logprobs) is int and logprobs > 1:  # legacy completions: logprobs=<count>
        if top_logprobs is None:
            top_logprobs = logprobs
        logprobs = True
    logit_bias = get("logit_bias")
    tools = get("tools")
    response_format = get("response_format")
    if type(response_format) is dict:
        response_format = response_format.get("type")
    return (
        get("temperature"),
        get("top_p"),
        get("n"),
        max_tokens,
        logprobs,
        top_logprobs,
        0 if logit_bias is None else _size(logit_bias, "logit_bias"),
        get("seed") is not None,
        get("stream"),
        0 if tools is None else _size(tools, "tools"),
        response_format,
    )


def _response(response: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    """``(finish_reason, prompt_tokens, completion_tokens, reasoning_tokens)`` of a chat
    completion object (token counts from ``usage``)."""
    if not response:
        return None, None, None, None
    finish_reason = None
    choices = response.get("choices")
    if type(choices) is list:
        if choices:
            first = choices[0]
            if type(first) is dict:
                finish_reason = first.get("finish_reason")
    elif choices is not None:
        raise EventError("bad_type", "response.choices must be a list")
    usage = response.get("usage")
    if usage is None:
        return finish_reason, None, None, None
    if type(usage) is not dict:
        raise EventError("bad_type", "response.usage must be an object")
    reasoning = None
    details = usage.get("completion_tokens_details")
    if details is not None:
        reasoning = _obj(details, "usage.completion_tokens_details").get("reasoning_tokens")
    return finish_reason, usage.get("prompt_tokens"), usage.get("completion_tokens"), reasoning


def _event(
    ts: Any,
    request_id: Any,
    account_id: Any,
    api_key: Any,
    end_user: Any,
    ip: Any,
    user_agent: Any,
    endpoint: Any,
    model: Any,
    status: Any,
    latency_s: Any,
    prompt_tokens: Any,
    completion_tokens: Any,
    reasoning_tokens: Any,
    params: tuple[Any, ...],
    messages: tuple[Any, Any, Any],
    finish_reason: Any,
) -> dict[str, Any]:
    (
        temperature,
        top_p,
        n,
        max_tokens,
        logprobs,
        top_logprobs,
        logit_bias_size,
        seed,
        stream,
        tools_count,
        response_format,
    ) = params
    return {
        "ts": ts,
        "request_id": request_id,
        "account_id": account_id,
        "api_key": api_key,
        "end_user": end_user,
        "ip": ip,
        "user_agent": user_agent,
        "endpoint": endpoint,
        "model": model,
        "status": status,
        "latency_s": latency_s,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "reasoning_tokens": reasoning_tokens,
        "temperature": temperature,
        "top_p": top_p,
        "n": n,
        "max_tokens": max_tokens,
        "logprobs": logprobs,
        "top_logprobs": top_logprobs,
        "logit_bias_size": logit_bias_size,
        "seed": seed,
        "stream": stream,
        "tools_count": tools_count,
        "response_format": response_format,
        "n_messages": messages[0],
        "system_prompt": messages[1],
        "user_prompt": messages[2],
        "finish_reason": finish_reason,
    }


_COUNT_DEFAULTS: tuple[tuple[str, int | None], ...] = tuple(
    (name, 1 if name == "n" else (None if name == "max_tokens" else 0)) for name in _COUNT_FIELDS
)
_INF = float("inf")


def _validated(event: dict[str, Any]) -> dict[str, Any]:
    """:func:`detector.events.validate_event` for an event built by :func:`_event`.

    Values already in their final form (the common case) are accepted here without the
    validator's conversions; anything else goes to the validator itself, so the result
    (or the error) is always the validator's.
    """
    ts = event["ts"]
    if type(ts) is not float or not _TS_MIN <= ts <= _TS_MAX:
        return validate_event(event)
    for name in ("account_id", "request_id"):
        value = event[name]
        if type(value) is not str or not value or value[0].isspace() or value[-1].isspace():
            return validate_event(event)
    for name, default in _COUNT_DEFAULTS:
        value = event[name]
        if type(value) is int and value >= 0:
            continue
        if value is None:
            event[name] = default
            continue
        return validate_event(event)
    for name in ("latency_s", "temperature", "top_p"):
        value = event[name]
        if value is not None and (type(value) is not float or not 0.0 <= value < _INF):
            return validate_event(event)
    for name in ("logprobs", "seed", "stream"):
        value = event[name]
        if type(value) is not bool:
            if value is not None:
                return validate_event(event)
            event[name] = False
    for name in _OPTIONAL_STR_FIELDS:
        value = event[name]
        if value is not None and (type(value) is not str or not value):
            return validate_event(event)
    return event


_LITELLM_ACCOUNT_KEYS = tuple(keys[1] for _, keys in _DEFAULT_CHAINS["litellm"])


# ---------------------------------------------------------------------------- adapters


def litellm_to_event(
    record: dict[str, Any], account: AccountChain | str | None = None
) -> dict[str, Any]:
    """Map a LiteLLM ``StandardLoggingPayload`` onto the canonical event.

    Parameters
    ----------
    record : dict
        One parsed payload (an element of a json_array POST, an ndjson line, a single POST).
    account : AccountChain or str or None
        Account field chain; default ``metadata.user_api_key_org_id`` →
        ``user_api_key_team_id`` → ``user_api_key_user_id`` → ``user_api_key_hash``.

    Returns
    -------
    dict
        A validated canonical event.

    Raises
    ------
    EventError
        When the record lacks identity or time or has wrong types / impossible values.
    """
    get = record.get
    meta = get("metadata")
    if type(meta) is not dict:
        meta = _obj(meta, "metadata")
    mget = meta.get
    ts = get("startTime")
    if type(ts) is not float:
        ts = to_epoch(ts)
    request_id = get("litellm_call_id")
    if request_id is None or request_id == "":
        request_id = get("id")

    account_id = None
    if account is None:
        for key in _LITELLM_ACCOUNT_KEYS:
            account_id = mget(key)
            if account_id is not None and account_id != "":
                break
        else:
            account_id = resolve_account(record, _DEFAULT_CHAINS["litellm"])
    else:
        account_id = resolve_account(record, _chain(account, "litellm"))

    end_user = get("end_user")
    if end_user is None:
        end_user = mget("user_api_key_end_user_id")
    ip = get("requester_ip_address")
    if ip is None:
        ip = mget("requester_ip_address")
    user_agent = get("user_agent")
    if user_agent is None:
        user_agent = mget("user_agent")

    latency = get("response_time")
    if latency is None:
        end = get("endTime")
        if type(end) in _NUMBER and type(ts) in _NUMBER:
            latency = max(float(end) - float(ts), 0.0)  # type: ignore[arg-type]

    params = get("model_parameters")
    params = _NO_PARAMS if params is None else _params(_obj(params, "model_parameters"))
    stream = params[8]
    if stream is None:
        stream = get("stream")
        if stream is not None:
            params = (*params[:8], stream, *params[9:])

    finish_reason, usage_prompt, usage_completion, reasoning = _response(
        _obj(get("response"), "response")
    )
    prompt_tokens = get("prompt_tokens")
    completion_tokens = get("completion_tokens")
    if prompt_tokens is None and completion_tokens is None:
        prompt_tokens, completion_tokens = usage_prompt, usage_completion

    return _validated(
        _event(
            ts,
            request_id,
            account_id,
            mget("user_api_key_hash"),
            end_user,
            ip,
            user_agent,
            mget("user_api_key_request_route"),
            get("model_group") or get("model"),
            get("status"),
            latency,
            prompt_tokens,
            completion_tokens,
            reasoning,
            params,
            _messages(get("messages")),
            finish_reason,
        )
    )


def openai_to_event(
    record: dict[str, Any], account: AccountChain | str | None = None
) -> dict[str, Any]:
    """Map an OpenAI-style ``{"timestamp", "account_id", "request", "response"}`` pair.

    Parameters
    ----------
    record : dict
        ``timestamp`` (epoch seconds or RFC 3339), ``account_id``, ``request`` (a chat
        completions body), ``response`` (a chat completion object), and optionally
        ``request_id`` (else ``response.id``), ``api_key``, ``ip``, ``user_agent``,
        ``end_user`` (else ``request.user``), ``endpoint``, ``latency_s``, ``status``
        (else ``failure`` when the response holds an ``error``, ``success`` when it
        holds ``choices``).
    account : AccountChain or str or None
        Account field chain; default ``account_id``.

    Returns
    -------
    dict
        A validated canonical event.

    Raises
    ------
    EventError
        When the record lacks identity or time or has wrong types / impossible values.
    """
    get = record.get
    request = _obj(get("request"), "request")
    response = _obj(get("response"), "response")
    ts = get("timestamp")
    ts = to_epoch(get("ts") if ts is None else ts)
    request_id = get("request_id")
    if request_id is None or request_id == "":
        request_id = response.get("id")
    end_user = get("end_user")
    if end_user is None:
        end_user = request.get("user")
    status = get("status")
    if status is None and response:
        if response.get("error") is not None:
            status = "failure"
        elif response.get("choices") is not None:
            status = "success"
    messages = request.get("messages")
    finish_reason, prompt_tokens, completion_tokens, reasoning = _response(response)
    return _validated(
        _event(
            ts,
            request_id,
            resolve_account(record, _chain(account, "openai")),
            get("api_key"),
            end_user,
            get("ip"),
            get("user_agent"),
            get("endpoint"),
            request.get("model") or response.get("model"),
            status,
            get("latency_s"),
            prompt_tokens,
            completion_tokens,
            reasoning,
            _params(request),
            _messages(request.get("prompt") if messages is None else messages),
            finish_reason,
        )
    )


_CANONICAL_NAMES = EVENT_FIELD_NAMES


def canonical_to_event(
    record: dict[str, Any], account: AccountChain | str | None = None
) -> dict[str, Any]:
    """Validate a record already in the flat canonical schema (JSONL / CSV / Parquet row).

    Parameters
    ----------
    record : dict
        Keyed by :data:`detector.events.EVENT_FIELD_NAMES`; other keys are ignored.
        ``ts`` may be epoch seconds, a numeric string or an RFC 3339 string; CSV cells
        arrive as strings and are coerced by the validator.
    account : AccountChain or str or None
        Account field chain; default ``account_id``.

    Returns
    -------
    dict
        A validated canonical event (a new dict; ``record`` is not modified).

    Raises
    ------
    EventError
        When the record lacks identity or time or has wrong types / impossible values.
    """
    get = record.get
    event = {name: get(name) for name in _CANONICAL_NAMES}
    ts = event["ts"]
    if type(ts) is not float:
        event["ts"] = to_epoch(ts)
    if account is not None:
        event["account_id"] = resolve_account(record, _chain(account, "canonical"))
    return validate_event(event)


ADAPTERS: dict[str, Adapter] = {
    "litellm": litellm_to_event,
    "openai": openai_to_event,
    "canonical": canonical_to_event,
}
