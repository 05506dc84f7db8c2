"""Write a :class:`~distillsim.generate.WideSimulation` as logs plus label / parameter sidecars.

Formats: ``litellm`` (LiteLLM proxy ``StandardLoggingPayload``, one JSON object per line,
in completion order, as LiteLLM logs them), ``openai`` (request/response pairs) and
``canonical`` (the flat event schema), the last two in start-time order. Message lists,
tool definitions and logit-bias maps are re-created from the canonical event (texts
are the simulated ones; earlier turns and tool outputs are placeholders).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from distillsim.legacy.corpora import TOOL_LIBRARY

__all__ = ["FORMATS", "to_record", "write"]

FORMATS: tuple[str, ...] = ("litellm", "openai", "canonical")
_REPLY = "[simulated assistant reply]"
_TOOL_OUT = "[tool output elided by the simulator]"


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _messages(ev: dict[str, Any]) -> list[dict[str, Any]]:
    system, user, n = ev["system_prompt"], ev["user_prompt"], ev["n_messages"]
    msgs: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    rest = max(n - len(msgs), 1)
    if ev["tools_count"] and rest > 1:  # agent loop: task, then tool calls and results
        msgs.append({"role": "user", "content": user})
        for i in range(rest - 1):
            if i % 2 == 0:
                cid = f"call_{ev['request_id'][:8]}{i}"
                msgs.append(
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": cid,
                                "type": "function",
                                "function": {"name": "read_file", "arguments": '{"path": "x"}'},
                            }
                        ],
                    }
                )
            else:
                msgs.append({"role": "tool", "tool_call_id": cid, "content": _TOOL_OUT})
        return msgs
    prior = rest - 1
    for i in range(prior):
        role = "assistant" if (prior - i) % 2 == 1 else "user"
        msgs.append({"role": role, "content": "[earlier turn]" if role == "user" else _REPLY})
    msgs.append({"role": "user", "content": user})
    return msgs


def _tools(ev: dict[str, Any]) -> list[dict[str, Any]] | None:
    k = ev["tools_count"]
    if not k:
        return None
    off = _digest(ev["account_id"])[0]
    return [TOOL_LIBRARY[(off + i) % len(TOOL_LIBRARY)] for i in range(k)]


def _logit_bias(ev: dict[str, Any]) -> dict[str, int] | None:
    k = ev["logit_bias_size"]
    if not k:
        return None
    d = _digest(ev["request_id"])
    base = 1000 + int.from_bytes(d[:3], "big") % 90000
    step = 1 + d[3] % 97
    return {str(base + i * step): (-100 if i % 3 else 5) for i in range(k)}


def _params(ev: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("temperature", "top_p", "max_tokens"):
        if ev[name] is not None:
            out[name] = ev[name]
    if ev["n"] != 1:
        out["n"] = ev["n"]
    if ev["logprobs"]:
        out["logprobs"] = True
        if ev["top_logprobs"]:
            out["top_logprobs"] = ev["top_logprobs"]
    bias = _logit_bias(ev)
    if bias:
        out["logit_bias"] = bias
    if ev["seed"]:
        out["seed"] = int.from_bytes(_digest(ev["account_id"])[:2], "big")
    out["stream"] = ev["stream"]
    tools = _tools(ev)
    if tools:
        out["tools"] = tools
        out["tool_choice"] = "auto"
    if ev["response_format"]:
        out["response_format"] = {"type": ev["response_format"]}
    if ev["end_user"]:
        out["user"] = ev["end_user"]
    return out


def _usage(ev: dict[str, Any]) -> dict[str, Any]:
    p, c = ev["prompt_tokens"], ev["completion_tokens"]
    return {
        "completion_tokens": c,
        "prompt_tokens": p,
        "total_tokens": p + c,
        "completion_tokens_details": {"reasoning_tokens": ev["reasoning_tokens"]}
        if ev["reasoning_tokens"]
        else None,
        "prompt_tokens_details": None,
    }


def _response(ev: dict[str, Any], created: int) -> dict[str, Any]:
    if ev["status"] != "success":
        return {}
    choices = []
    for i in range(ev["n"]):
        msg: dict[str, Any] = {"content": _REPLY, "role": "assistant", "tool_calls": None}
        if ev["finish_reason"] == "tool_calls":
            msg["content"] = None
            msg["tool_calls"] = [
                {
                    "id": f"call_{ev['request_id'][8:20]}",
                    "type": "function",
                    "function": {"name": "run_command", "arguments": '{"command": "ls"}'},
                }
            ]
        ch: dict[str, Any] = {"finish_reason": ev["finish_reason"], "index": i, "message": msg}
        if ev["logprobs"]:
            k = ev["top_logprobs"]
            ch["logprobs"] = {
                "content": [
                    {
                        "token": "[",
                        "logprob": -0.01,
                        "top_logprobs": [
                            {"token": f"t{j}", "logprob": -0.01 - j} for j in range(k)
                        ],
                    }
                ]
            }
        choices.append(ch)
    return {
        "id": f"chatcmpl-{ev['request_id']}",
        "created": created,
        "model": ev["model"],
        "object": "chat.completion",
        "choices": choices,
        "usage": _usage(ev),
    }


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def to_record(ev: dict[str, Any], fmt: str) -> dict[str, Any]:
    """Render one canonical event as a record of format ``fmt``."""
    if fmt == "canonical":
        return ev
    end = ev["ts"] + (ev["latency_s"] or 0.0)
    body = _params(ev)
    if fmt == "openai":
        req = {"model": ev["model"], "messages": _messages(ev), **body}
        resp = _response(ev, int(end))
        if not resp:
            resp = {"error": {"message": "upstream error", "type": "server_error", "code": 500}}
        return {
            "timestamp": _rfc3339(ev["ts"]),
            "account_id": ev["account_id"],
            "request_id": ev["request_id"],
            "api_key": ev["api_key"],
            "end_user": ev["end_user"],
            "ip": ev["ip"],
            "user_agent": ev["user_agent"],
            "endpoint": ev["endpoint"],
            "latency_s": ev["latency_s"],
            "request": req,
            "response": resp,
        }
    if fmt != "litellm":
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    ok = ev["status"] == "success"
    acct = ev["account_id"]
    meta = {
        "user_api_key_hash": ev["api_key"],
        "user_api_key_alias": None,
        "user_api_key_team_id": None,
        "user_api_key_org_id": acct,
        "user_api_key_user_id": "user-" + acct[4:12],
        "user_api_key_end_user_id": ev["end_user"],
        "user_api_key_request_route": ev["endpoint"],
        "requester_ip_address": ev["ip"],
        "user_agent": ev["user_agent"],
        "applied_guardrails": [],
        "user_api_key_auth_metadata": {},
    }
    resp = _response(ev, int(end))
    return {
        "id": resp.get("id") or f"chatcmpl-{ev['request_id']}",
        "litellm_call_id": ev["request_id"],
        "trace_id": ev["request_id"][::-1],
        "session_id": "",
        "call_type": "acompletion",
        "cache_hit": None,
        "stream": ev["stream"],
        "status": "success" if ok else "failure",
        "status_fields": {
            "llm_api_status": "success" if ok else "failure",
            "guardrail_status": "success",
        },
        "custom_llm_provider": "openai",
        "startTime": ev["ts"],
        "endTime": round(end, 3),
        "completionStartTime": round(end, 3),
        "response_time": ev["latency_s"],
        "model": ev["model"],
        "model_group": ev["model"],
        "metadata": meta,
        "total_tokens": ev["prompt_tokens"] + ev["completion_tokens"],
        "prompt_tokens": ev["prompt_tokens"],
        "completion_tokens": ev["completion_tokens"],
        "end_user": ev["end_user"] or "",
        "requester_ip_address": ev["ip"],
        "user_agent": ev["user_agent"],
        "messages": _messages(ev),
        "response": resp,
        "model_parameters": body,
        "error_str": None if ok else "upstream error",
    }


def write(
    sim: Any, path: str | Path, fmt: str = "litellm", compress_level: int = 6
) -> dict[str, str]:
    """Write ``sim`` to ``path`` (gzip when it ends in ``.gz``) plus two sidecars.

    Parameters
    ----------
    sim : WideSimulation
        Output of :func:`distillsim.generate`.
    path : str or Path
        Log file, e.g. ``/tmp/x/wide.jsonl.gz``.
    fmt : str
        ``litellm``, ``openai`` or ``canonical``.
    compress_level : int
        gzip level.

    Returns
    -------
    dict
        ``{"events": ..., "labels": ..., "params": ...}`` paths (labels CSV
        ``<stem>.labels.csv``, parameters ``<stem>.params.json``).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    stem = out.name
    for suffix in (".gz", ".jsonl", ".ndjson", ".json"):
        stem = stem.removesuffix(suffix)
    events = sim.events
    if fmt == "litellm":  # logged when the call ends
        events = sorted(events, key=lambda e: (e["ts"] + (e["latency_s"] or 0.0), e["request_id"]))
    dumps = orjson.dumps
    data = b"".join(dumps(to_record(ev, fmt)) + b"\n" for ev in events)
    if out.name.endswith(".gz"):
        with (
            open(out, "wb") as raw,
            gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=compress_level
            ) as fh,
        ):
            fh.write(data)
    else:
        out.write_bytes(data)
    labels = out.with_name(stem + ".labels.csv")
    sim.labels.to_csv(labels, index=False, lineterminator="\n")
    params = out.with_name(stem + ".params.json")
    meta = {"config": _config(sim.config), "events": len(sim.events), "kinds": sim.params}
    params.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return {"events": str(out), "labels": str(labels), "params": str(params)}


def _config(cfg: Any) -> dict[str, Any]:
    return {
        "seed": cfg.seed,
        "accounts": cfg.accounts,
        "days": cfg.days,
        "start": cfg.start,
        "mix": cfg.mix,
        "exclude_kinds": list(cfg.exclude_kinds),
        "include_kinds": None if cfg.include_kinds is None else list(cfg.include_kinds),
    }
