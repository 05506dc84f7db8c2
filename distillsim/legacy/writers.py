"""Render planned events as log records: LiteLLM, OpenAI-style pairs, canonical events.

* ``litellm``: LiteLLM proxy 1.108.7 ``StandardLoggingPayload`` records with every
  top-level key the real captures carry (``/work/shared/litellm-captures``), one JSON
  object per line, in completion order (LiteLLM logs a request when it ends).
  ``model_map_information`` is a compact version of LiteLLM's ~8 KB cost-map entry.
* ``openai``: ``{"timestamp", "account_id", "request_id", "api_key", "ip",
  "user_agent", "endpoint", "status_code", "latency_s", "request": {chat completions body},
  "response": {chat.completion object, or {"error": ...} for failures}}`` in
  start-time order.
* ``canonical``: the flat fields of :data:`detector.events.EVENT_FIELD_NAMES`, in
  start-time order. Request parameters are kept for failures (the request was known);
  token counts of failures are 0.

Assistant texts are short placeholders; ``usage`` carries the realistic token counts.
Output is written in chunks of :data:`CHUNK` events. Per-chunk work (ids, times,
costs) is vectorised with numpy; with a ``.gz`` path each chunk becomes an independent
gzip member (a valid multi-member gzip file, as ``pigz`` writes) compressed on a worker
thread while the next chunk is rendered.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from detector.events import EVENT_FIELD_NAMES
from distillsim.legacy import corpora as C
from distillsim.legacy.profiles import (
    BAD_MODELS,
    FINISH,
    FUP_AGENT,
    M_NEXT,
    MODELS,
    RESPONSE_FORMATS,
    Account,
    Context,
)

__all__ = ["CHUNK", "FORMATS", "iter_records", "render_chunk", "write_events"]

FORMATS: tuple[str, ...] = ("litellm", "openai", "canonical")
CHUNK = 4096
RAND_BYTES = 64  # random bytes per event (ids)
ROUTE = "/v1/chat/completions"
GUARDRAIL = "distillwatch-precall"
API_BASE = "https://api.openai.com/v1"
SNAPSHOT = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "o3-mini": "o3-mini-2025-01-31",
    "gpt-next": "gpt-next-2026-11-02",
}
_REASONING = [m.reasoning for m in MODELS]
_ALT_WORDS = (
    " the",
    " a",
    " The",
    " and",
    " to",
    " of",
    " in",
    " is",
    " it",
    " that",
    " for",
    " on",
    " with",
    " as",
    " I",
    " this",
    " be",
    " at",
    " by",
    " or",
)
_LP_VALUES = (
    -0.02,
    -1.7,
    -2.9,
    -3.6,
    -4.4,
    -5.0,
    -5.5,
    -6.1,
    -6.6,
    -7.0,
    -7.5,
    -7.9,
    -8.3,
    -8.8,
    -9.1,
    -9.6,
    -10.0,
    -10.4,
    -10.9,
    -11.3,
)
_HIST_REPLY = "[earlier assistant reply elided by the simulator]"
_TOOL_CALL_ARGS = ('{"path": "src/app.py"}', '{"command": "pytest -q"}', '{"pattern": "TODO"}')
_HEXCH = np.frombuffer(b"0123456789abcdef", dtype="S1")
_UUID_POS = np.r_[0:8, 9:13, 14:18, 19:23, 24:36]

# constant sub-objects shared by every record (orjson serialises shared objects fine)
_OK_ERROR_INFO = {
    "error_code": "",
    "error_class": "",
    "llm_provider": "",
    "traceback": "",
    "error_message": "",
    "error_provider_request_id": None,
    "error_rate_limit_category": None,
    "error_rate_limit_type": None,
    "error_budget_entity_type": None,
    "error_budget_entity_id": None,
    "error_budget_limit": None,
    "error_budget_spend": None,
    "normalized_error": None,
}
_NULL_HIDDEN = {
    "model_id": None,
    "cache_key": None,
    "api_base": None,
    "response_cost": 0.0,
    "additional_headers": None,
    "litellm_overhead_time_ms": None,
    "batch_models": None,
    "batch_successful_requests": None,
    "batch_failed_requests": None,
    "litellm_model_name": None,
    "usage_object": None,
}
_STATUS_OK = {"llm_api_status": "success", "guardrail_status": "success"}
_STATUS_FAIL = {"llm_api_status": "failure", "guardrail_status": "success"}
_BUILTIN_TOOLS = {"web_search_options": None, "file_search": None}
_GUARDS = [GUARDRAIL]
_NO_MODEL_MAP = {"model_map_key": "", "model_map_value": None}
_STREAM_OPTIONS = {"include_usage": True}


# --- vectorised helpers -----------------------------------------------------------------


def _hex_matrix(raw: np.ndarray) -> np.ndarray:
    """(n, k) bytes -> (n, 2k) hex characters (dtype S1)."""
    out = np.empty((raw.shape[0], raw.shape[1] * 2), dtype="S1")
    out[:, 0::2] = _HEXCH[raw >> 4]
    out[:, 1::2] = _HEXCH[raw & 15]
    return out


def _as_str(chars: np.ndarray) -> list[str]:
    width = chars.shape[1]
    return np.ascontiguousarray(chars).view(f"S{width}").ravel().astype(f"U{width}").tolist()


def uuid4_strings(raw: np.ndarray) -> list[str]:
    """Format rows of 16 random bytes as version-4 UUID strings.

    Parameters
    ----------
    raw : numpy.ndarray
        uint8 array of shape ``(n, 16)``.

    Returns
    -------
    list of str
    """
    b = raw.copy()
    b[:, 6] = (b[:, 6] & 0x0F) | 0x40
    b[:, 8] = (b[:, 8] & 0x3F) | 0x80
    out = np.full((b.shape[0], 36), b"-", dtype="S1")
    out[:, _UUID_POS] = _hex_matrix(b)
    return _as_str(out)


def _hex_strings(raw: np.ndarray) -> list[str]:
    return _as_str(_hex_matrix(raw))


def _rfc3339_ms(ts: np.ndarray) -> list[str]:
    ms = np.floor(ts * 1000.0).astype("int64").astype("datetime64[ms]")
    return [s + "Z" for s in np.datetime_as_string(ms, unit="ms").tolist()]


_HTTP_DAYS: dict[int, str] = {}


def _http_dates(ts: np.ndarray) -> list[str]:
    sec = np.floor(ts).astype("int64")
    day = sec // 86400
    hms = np.datetime_as_string(sec.astype("datetime64[s]"), unit="s")
    out = []
    for d, s in zip(day.tolist(), hms.tolist(), strict=True):
        pre = _HTTP_DAYS.get(d)
        if pre is None:
            pre = datetime.fromtimestamp(d * 86400, UTC).strftime("%a, %d %b %Y ")
            _HTTP_DAYS[d] = pre
        out.append(f"{pre}{s[11:]} GMT")
    return out


def _opt_float(values: np.ndarray, digits: int) -> list[float | None]:
    v = np.round(values.astype(np.float64), digits)
    return [None if x != x else x for x in v.tolist()]


# --- texts ------------------------------------------------------------------------------


class _Texts:
    """Renders and caches prompt texts (templated pool items, MCQ items, follow-ups)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.pack = ctx.pack
        self.cache: dict[tuple[int, int, int], str] = {}
        self.msg_cache: dict[tuple[int, ...], tuple[list[dict[str, Any]], str | None, str]] = {}
        self.mcq_tmpl = ctx.tmpl_index["eval"][3]
        self.gsm_id = C.PromptPack.pool_id("gsm8k_test")
        self.gsm_answers = self.pack.by_name("gsm8k_test").extra["answer"]
        self.hh_id = C.PromptPack.pool_id("hh_rlhf")
        self.mt_id = C.PromptPack.pool_id("mt_bench")

    def user(self, pool: int, item: int, tmpl: int) -> str:
        key = (pool, item, tmpl)
        got = self.cache.get(key)
        if got is not None:
            return got
        text = C.PROBE_PROMPTS[item] if pool < 0 else self.pack.pools[pool].texts[item]
        if tmpl == self.mcq_tmpl and pool == self.gsm_id:
            text = self._mcq(item, text)
        elif tmpl >= 0:
            text = self.ctx.templates[tmpl].replace("{q}", text)
        self.cache[key] = text
        return text

    def _mcq(self, item: int, question: str) -> str:
        ans = int(self.gsm_answers[item])
        step = 1 + item % 7
        opts: list[str] = []
        for v in (ans + step, abs(ans - step), ans * 2 + 1):
            while v == ans or str(v) in opts:
                v += 1
            opts.append(str(v))
        pos = item % 4
        opts.insert(pos, str(ans))
        return C.mcq_prompt(question, opts)

    def followup(self, fup: int, pool: int, item: int, turn: int) -> str:
        if fup >= 0:
            return C.FOLLOWUPS[fup]
        if pool == self.mt_id:
            return self.pack.pools[pool].extra["turn2"][item]
        if pool == self.hh_id:
            fl = self.pack.pools[pool].extra["followups"][item]
            if 0 <= turn - 1 < len(fl):
                return fl[turn - 1]
        return C.FOLLOWUPS[(item + turn) % len(C.FOLLOWUPS)]

    def messages(
        self, sysp: int, pool: int, item: int, tmpl: int, fup: int, turn: int, ptok: int, call: str
    ) -> tuple[list[dict[str, Any]], str | None, str]:
        """Return (messages, system prompt, last user message) of one request.

        Message lists without per-request content are cached and shared between
        records (they are never mutated).
        """
        if fup != FUP_AGENT:
            key = (sysp, pool, item, tmpl, fup, turn)
            got = self.msg_cache.get(key)
            if got is None:
                got = self._messages(sysp, pool, item, tmpl, fup, turn, ptok, call)
                self.msg_cache[key] = got
            return got
        return self._messages(sysp, pool, item, tmpl, fup, turn, ptok, call)

    def _messages(
        self, sysp: int, pool: int, item: int, tmpl: int, fup: int, turn: int, ptok: int, call: str
    ) -> tuple[list[dict[str, Any]], str | None, str]:
        system = self.ctx.systems[sysp] if sysp >= 0 else None
        user = self.user(pool, item, tmpl)
        msgs: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
        msgs.append({"role": "user", "content": user})
        if fup == -1:
            return msgs, system, user
        if fup == FUP_AGENT:
            cid = "call_" + call
            msgs.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": cid,
                            "type": "function",
                            "function": {
                                "name": ("read_file", "run_command", "grep")[turn % 3],
                                "arguments": _TOOL_CALL_ARGS[turn % 3],
                            },
                        }
                    ],
                }
            )
            msgs.append(
                {
                    "role": "tool",
                    "tool_call_id": cid,
                    "content": f"[tool output and earlier turns: about {ptok:,} tokens of context "
                    "elided by the simulator]",
                }
            )
            return msgs, system, user
        last = self.followup(fup, pool, item, turn)
        msgs.append({"role": "assistant", "content": _HIST_REPLY})
        msgs.append({"role": "user", "content": last})
        return msgs, system, last


class _Logprobs:
    """Small cached logprobs objects (the first tokens of the placeholder answer)."""

    def __init__(self) -> None:
        self.cache: dict[tuple[int, int], dict[str, Any]] = {}

    def content(self, visible: int, k: int) -> dict[str, Any]:
        n_tok = max(1, min(visible, 3))
        key = (n_tok, k)
        got = self.cache.get(key)
        if got is None:
            entries = []
            for tok in ("[", "sim", "ulated")[:n_tok]:
                alts = [{"token": tok, "bytes": list(tok.encode()), "logprob": _LP_VALUES[0]}]
                for j in range(1, k):
                    w = _ALT_WORDS[j % len(_ALT_WORDS)]
                    alts.append(
                        {"token": w, "bytes": list(w.encode()), "logprob": _LP_VALUES[j % 20]}
                    )
                entries.append(
                    {
                        "token": tok,
                        "bytes": list(tok.encode()),
                        "logprob": _LP_VALUES[0],
                        "top_logprobs": alts if k else [],
                    }
                )
            got = {"content": entries, "refusal": None}
            self.cache[key] = got
        return got


# --- the renderer -----------------------------------------------------------------------


class _Renderer:
    """Per-simulation caches; renders chunks of events in one format."""

    def __init__(self, sim: Any, fmt: str) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
        self.sim = sim
        self.fmt = fmt
        self.ctx: Context = sim.ctx
        self.texts = _Texts(sim.ctx)
        self.lp = _Logprobs()
        self.accounts: list[Account] = sim.accounts
        self.model_ids = [
            hashlib.sha256(f"deployment:{m.deployment}".encode()).hexdigest() for m in MODELS
        ]
        self.in_cost = np.array([m.input_cost for m in MODELS])
        self.out_cost = np.array([m.output_cost for m in MODELS])
        self.model_map = [
            {
                "model_map_key": m.deployment,
                "model_map_value": {
                    "key": m.name,
                    "max_tokens": m.max_output,
                    "max_input_tokens": m.max_input,
                    "max_output_tokens": m.max_output,
                    "input_cost_per_token": m.input_cost,
                    "output_cost_per_token": m.output_cost,
                    "litellm_provider": "openai",
                    "mode": "chat",
                    "supports_function_calling": True,
                    "supports_parallel_function_calling": not m.reasoning,
                    "supports_response_schema": True,
                    "supports_vision": not m.reasoning,
                    "supports_reasoning": m.reasoning,
                    "supports_prompt_caching": True,
                    "supports_system_messages": True,
                    "supports_tool_choice": True,
                },
            }
            for m in MODELS
        ]
        self._ident: dict[tuple[int, int, int, int], tuple[Any, ...]] = {}
        self._bias: dict[tuple[int, int], dict[str, int]] = {}
        self._tools: dict[tuple[int, int], list[dict[str, Any]]] = {}
        self._eu: dict[tuple[int, int], str] = {}
        self._rand: dict[int, np.ndarray] = {}

    # -- cached pieces -------------------------------------------------------------------
    def identity(self, acct: int, key: int, client: int, ip: int) -> tuple[Any, ...]:
        k = (acct, key, client, ip)
        got = self._ident.get(k)
        if got is None:
            a = self.accounts[acct]
            cl = a.clients[min(client, len(a.clients) - 1)]
            ipaddr = a.ips[min(ip, len(a.ips) - 1)]
            headers = dict(cl.headers)
            headers["x-forwarded-for"] = ipaddr
            custom = {h: v for h, v in headers.items() if h.startswith("x-")}
            tags = [f"User-Agent: {cl.user_agent.split('/')[0]}", f"User-Agent: {cl.user_agent}"]
            meta = {
                "user_api_key_hash": a.key_hashes[key],
                "user_api_key_alias": a.key_aliases[key],
                "user_api_key_spend": 0.0,
                "user_api_key_max_budget": None,
                "user_api_key_budget_reset_at": None,
                "user_api_key_user_spend": None,
                "user_api_key_user_max_budget": None,
                "user_api_key_team_spend": None,
                "user_api_key_team_max_budget": None,
                "user_api_key_team_id": a.team_id,
                "user_api_key_org_id": a.org_id,
                "user_api_key_org_alias": a.org_alias,
                "user_api_key_project_id": None,
                "user_api_key_project_alias": None,
                "user_api_key_user_id": a.user_id,
                "user_api_key_team_alias": a.team_alias,
                "user_api_key_user_email": None,
                "user_api_key_end_user_id": None,
                "user_api_key_request_route": ROUTE,
                "spend_logs_metadata": None,
                "requester_ip_address": ipaddr,
                "user_agent": cl.user_agent,
                "requester_metadata": None,
                "prompt_management_metadata": None,
                "applied_guardrails": _GUARDS,
                "mcp_tool_call_metadata": None,
                "vector_store_request_metadata": None,
                "routing_decision": None,
                "usage_object": None,
                "requester_custom_headers": custom,
                "cold_storage_object_key": None,
                "user_api_key_auth_metadata": {},
                "team_alias": None,
                "team_id": None,
                "used_client_oauth_token": False,
            }
            got = (a, cl.user_agent, ipaddr, headers, tags, a.key_hashes[key], meta)
            self._ident[k] = got
        return got

    def end_user(self, a: Account, eu: int) -> str | None:
        if eu < 0:
            return None
        k = (a.index, eu)
        got = self._eu.get(k)
        if got is None:
            if a.n_end_users == 1:
                got = f"{a.end_user_prefix}{a.account_id.split('-')[-1][:6]}"
            else:
                got = f"{a.end_user_prefix}{(eu * 7919 + a.index * 104729) % 1_000_003:07d}"
            self._eu[k] = got
        return got

    def bias(self, size: int, off: int) -> dict[str, int]:
        k = (size, off)
        got = self._bias.get(k)
        if got is None:
            toks = self.ctx.bias_tokens[off : off + size].tolist()
            if size <= 3:
                got = {str(t): -100 for t in toks}
            else:
                got = {str(t): (100 if t % 3 else -100) for t in toks}
            self._bias[k] = got
        return got

    def tools(self, n: int, toolset: int) -> list[dict[str, Any]]:
        k = (n, toolset)
        got = self._tools.get(k)
        if got is None:
            lib = C.TOOL_LIBRARY
            got = [lib[(toolset + i) % len(lib)] for i in range(n)]
            self._tools[k] = got
        return got

    # -- per chunk -----------------------------------------------------------------------
    def event_random(self, idx: np.ndarray) -> np.ndarray:
        """Random bytes of events ``idx`` (bound to the event, whatever the output order).

        Event ``i`` takes row ``i % CHUNK`` of block ``i // CHUNK``, a block being
        ``CHUNK`` rows drawn from a generator seeded by ``(seed, 3, block)``.
        """
        blocks = idx // CHUNK
        out = np.empty((len(idx), RAND_BYTES), dtype=np.uint8)
        for blk in np.unique(blocks).tolist():
            got = self._rand.get(blk)
            if got is None:
                rng = np.random.default_rng([self.sim.config.seed, 3, blk])
                got = np.frombuffer(rng.bytes(RAND_BYTES * CHUNK), np.uint8).reshape(
                    CHUNK, RAND_BYTES
                )
                if len(self._rand) > 8:
                    self._rand.pop(next(iter(self._rand)))
                self._rand[blk] = got
            sel = blocks == blk
            out[sel] = got[idx[sel] % CHUNK]
        return out

    def prepare(self, idx: np.ndarray) -> dict[str, list[Any]]:
        """Columns of one chunk as Python lists, plus vectorised derived columns."""
        ev = self.sim.events
        cols = {k: v[idx].tolist() for k, v in ev.items() if k not in ("temp", "top_p")}
        raw = self.event_random(idx)
        ts = ev["ts"][idx]
        lat = ev["lat"][idx].astype(np.float64)
        cols["temp"] = _opt_float(ev["temp"][idx], 2)
        cols["top_p"] = _opt_float(ev["top_p"][idx], 2)
        cols["call_id"] = uuid4_strings(raw[:, 0:16])
        cols["hex16"] = _hex_strings(raw[:, 16:28])  # 24 hex: tool-call ids, fingerprints
        if self.fmt == "canonical":
            cols["ts6"] = np.round(ts, 6).tolist()
            cols["lat4"] = np.round(lat, 4).tolist()
            return cols
        if self.fmt == "openai":
            cols["rfc"] = _rfc3339_ms(ts)
            cols["req_hex"] = _hex_strings(raw[:, 0:16])
            cols["created"] = np.floor(ts + lat).astype(np.int64).tolist()
            cols["lat3"] = np.round(lat, 3).tolist()
            return cols
        end = ts + lat
        ok = ev["status"][idx] == 0
        stream = ev["stream"][idx]
        cst = np.where(stream & ok, ts + ev["ttft"][idx], end)
        g_end = ts - 0.0008 - raw[:, 28] / 255.0 * 0.002
        g_dur = 0.0022 + raw[:, 29] / 255.0 * 0.0025
        model = ev["model"][idx].astype(np.int64)
        in_c = ev["ptok"][idx] * self.in_cost[model]
        out_c = ev["ctok"][idx] * self.out_cost[model]
        cols["start6"] = np.round(ts, 6).tolist()
        cols["end6"] = np.round(end, 6).tolist()
        cols["cst6"] = np.round(cst, 6).tolist()
        cols["rt6"] = np.round(lat, 6).tolist()
        cols["g_start"] = np.round(g_end - g_dur, 6).tolist()
        cols["g_end"] = np.round(g_end, 6).tolist()
        cols["g_dur"] = np.round(g_dur, 6).tolist()
        cols["in_cost"] = np.round(in_c, 12).tolist()
        cols["out_cost"] = np.round(out_c, 12).tolist()
        cols["cost"] = np.round(in_c + out_c, 12).tolist()
        cols["created"] = np.floor(end).astype(np.int64).tolist()
        cols["trace_id"] = uuid4_strings(raw[:, 32:48])
        cols["resp_id"] = uuid4_strings(raw[:, 48:64])
        cols["http_date"] = _http_dates(end)
        cols["overhead"] = np.round(3.0 + raw[:, 30] / 25.5, 4).tolist()
        cols["req_hex"] = _hex_strings(raw[:, 0:16])
        return cols

    def common(self, c: dict[str, list[Any]], j: int) -> tuple[Any, ...]:
        a, ua, ip, headers, tags, key_hash, meta = self.identity(
            c["acct"][j], c["key"][j], c["client"][j], c["ip"][j]
        )
        msgs, system, user = self.texts.messages(
            c["sysp"][j],
            c["pool"][j],
            c["item"][j],
            c["tmpl"][j],
            c["fup"][j],
            c["turn"][j],
            c["ptok"][j],
            c["hex16"][j],
        )
        status = c["status"][j]
        model_i = c["model"][j]
        if status == 2:
            req_model = (
                "gpt-next" if model_i == M_NEXT else BAD_MODELS[c["item"][j] % len(BAD_MODELS)]
            )
        else:
            req_model = MODELS[model_i].name
        return (
            a,
            ua,
            ip,
            headers,
            tags,
            key_hash,
            meta,
            msgs,
            system,
            user,
            status,
            model_i,
            req_model,
        )

    def params(
        self, c: dict[str, list[Any]], j: int, eu: str | None, litellm: bool
    ) -> dict[str, Any]:
        """Optional request parameters in the order clients usually send them."""
        out: dict[str, Any] = {}
        temp = c["temp"][j]
        if temp is not None:
            out["temperature"] = temp
        top_p = c["top_p"][j]
        if top_p is not None:
            out["top_p"] = top_p
        n = c["n"][j]
        if n > 1:
            out["n"] = n
        stream = c["stream"][j]
        if litellm:
            out["stream"] = stream
            if stream:
                out["stream_options"] = _STREAM_OPTIONS
        maxt = c["maxt"][j]
        if maxt >= 0:
            reasoning = _REASONING[c["model"][j]] and c["status"][j] != 2
            out["max_completion_tokens" if reasoning else "max_tokens"] = maxt
        lb = c["lb"][j]
        if lb:
            out["logit_bias"] = self.bias(lb, c["lbo"][j])
        seed = c["seed"][j]
        if seed >= 0:
            out["seed"] = seed
        if eu is not None:
            out["user"] = eu
        if c["lp"][j]:
            out["logprobs"] = True
            tlp = c["tlp"][j]
            if tlp:
                out["top_logprobs"] = tlp
        n_tools = c["tools"][j]
        if n_tools:
            out["tools"] = self.tools(n_tools, c["toolset"][j])
            out["tool_choice"] = "auto"
        rf = RESPONSE_FORMATS[c["rf"][j]]
        if rf:
            out["response_format"] = {"type": rf}
        if not litellm and stream:
            out["stream"] = True
            out["stream_options"] = _STREAM_OPTIONS
        return out

    def choices(self, c: dict[str, list[Any]], j: int, litellm: bool) -> list[dict[str, Any]]:
        n = max(1, c["n"][j])
        visible = max(1, (c["ctok"][j] - c["rtok"][j]) // n)
        finish = FINISH[c["finish"][j]]
        lp = self.lp.content(visible, c["tlp"][j]) if c["lp"][j] else None
        out = []
        for k in range(n):
            if finish == "tool_calls":
                calls = [
                    {
                        "id": "call_" + c["hex16"][j],
                        "type": "function",
                        "function": {
                            "name": ("read_file", "apply_patch", "run_tests")[(j + k) % 3],
                            "arguments": _TOOL_CALL_ARGS[(j + k) % 3],
                        },
                    }
                ]
                content = None
            else:
                calls = None
                content = f"[simulated completion: {visible} tokens]"
            if litellm:
                msg = {
                    "content": content,
                    "role": "assistant",
                    "tool_calls": calls,
                    "function_call": None,
                    "refusal": None,
                }
                if lp is not None:
                    out.append(
                        {
                            "finish_reason": finish,
                            "index": k,
                            "message": msg,
                            "logprobs": lp,
                            "provider_specific_fields": {},
                        }
                    )
                else:
                    out.append(
                        {
                            "finish_reason": finish,
                            "index": k,
                            "message": msg,
                            "provider_specific_fields": {},
                            "logprobs": None,
                        }
                    )
            else:
                msg = {"role": "assistant", "content": content, "refusal": None}
                if calls:
                    msg["tool_calls"] = calls
                out.append({"index": k, "message": msg, "logprobs": lp, "finish_reason": finish})
        return out

    def usage(self, c: dict[str, list[Any]], j: int, litellm: bool) -> dict[str, Any]:
        ptok, ctok, rtok = c["ptok"][j], c["ctok"][j], c["rtok"][j]
        cached = (ptok // 1024) * 512 if ptok >= 2048 else 0
        if litellm:
            if _REASONING[c["model"][j]] or c["stream"][j]:
                details: dict[str, Any] | None = {
                    "accepted_prediction_tokens": None,
                    "audio_tokens": None,
                    "reasoning_tokens": rtok,
                    "rejected_prediction_tokens": None,
                    "text_tokens": ctok - rtok,
                    "image_tokens": None,
                    "video_tokens": None,
                }
            else:
                details = None
            pdetails: dict[str, Any] | None = (
                {
                    "audio_tokens": None,
                    "cached_tokens": cached,
                    "text_tokens": None,
                    "image_tokens": None,
                }
                if cached
                else None
            )
        else:
            details = {
                "reasoning_tokens": rtok,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            }
            pdetails = {"cached_tokens": cached, "audio_tokens": 0}
        return {
            "completion_tokens": ctok,
            "prompt_tokens": ptok,
            "total_tokens": ptok + ctok,
            "completion_tokens_details": details,
            "prompt_tokens_details": pdetails,
        }

    # -- formats -------------------------------------------------------------------------
    def canonical(self, c: dict[str, list[Any]], j: int) -> dict[str, Any]:
        a, ua, ip, _h, _t, key_hash, _m, msgs, system, user, status, _mi, req_model = self.common(
            c, j
        )
        ok = status == 0
        lb = c["lb"][j]
        values = (
            c["ts6"][j],
            c["call_id"][j],
            a.account_id,
            key_hash,
            self.end_user(a, c["eu"][j]),
            ip,
            ua,
            ROUTE,
            req_model,
            "success" if ok else "failure",
            c["lat4"][j],
            c["ptok"][j],
            c["ctok"][j],
            c["rtok"][j],
            c["temp"][j],
            c["top_p"][j],
            c["n"][j],
            c["maxt"][j] if c["maxt"][j] >= 0 else None,
            c["lp"][j],
            c["tlp"][j],
            len(self.bias(lb, c["lbo"][j])) if lb else 0,
            c["seed"][j] >= 0,
            c["stream"][j],
            c["tools"][j],
            RESPONSE_FORMATS[c["rf"][j]],
            len(msgs),
            system,
            user,
            FINISH[c["finish"][j]] if ok else None,
        )
        return dict(zip(EVENT_FIELD_NAMES, values, strict=True))

    def openai(self, c: dict[str, list[Any]], j: int) -> dict[str, Any]:
        a, ua, ip, _h, _t, key_hash, _m, msgs, _s, _u, status, model_i, req_model = self.common(
            c, j
        )
        eu = self.end_user(a, c["eu"][j])
        request: dict[str, Any] = {"model": req_model, "messages": msgs}
        request.update(self.params(c, j, eu, litellm=False))
        hexs = c["req_hex"][j]
        if status == 0:
            response: dict[str, Any] = {
                "id": "chatcmpl-" + hexs[:29],
                "object": "chat.completion",
                "created": c["created"][j],
                "model": SNAPSHOT[MODELS[model_i].name],
                "choices": self.choices(c, j, litellm=False),
                "usage": self.usage(c, j, litellm=False),
                "service_tier": "default",
                "system_fingerprint": "fp_" + c["hex16"][j][:10],
            }
            code = 200
        elif status == 1:
            code = 429
            response = {
                "error": {
                    "message": f"Rate limit reached for {req_model} in organization on requests "
                    "per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 120ms.",
                    "type": "requests",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
            }
        else:
            code = 404
            response = {
                "error": {
                    "message": f"The model `{req_model}` does not exist or you do not have "
                    "access to it.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "model_not_found",
                }
            }
        return {
            "timestamp": c["rfc"][j],
            "account_id": a.account_id,
            "request_id": "req_" + hexs,
            "api_key": key_hash,
            "ip": ip,
            "user_agent": ua,
            "endpoint": ROUTE,
            "status_code": code,
            "latency_s": c["lat3"][j],
            "request": request,
            "response": response,
        }

    def litellm(self, c: dict[str, list[Any]], j: int) -> dict[str, Any]:
        a, ua, ip, headers, tags, key_hash, meta0, msgs, _s, _u, status, model_i, req_model = (
            self.common(c, j)
        )
        ok = status == 0
        m = MODELS[model_i]
        eu = self.end_user(a, c["eu"][j])
        stream = c["stream"][j]
        call_id = c["call_id"][j]
        hdrs = dict(headers)
        hdrs["content-length"] = str(120 + sum(len(x.get("content") or "") + 30 for x in msgs))
        usage = self.usage(c, j, litellm=True) if ok else {}
        meta = dict(meta0)
        meta["user_api_key_end_user_id"] = eu
        meta["requester_metadata"] = {"headers": hdrs, "used_client_oauth_token": False}
        meta["usage_object"] = usage
        guard = [
            {
                "guardrail_name": GUARDRAIL,
                "guardrail_provider": None,
                "guardrail_mode": "pre_call",
                "guardrail_response": "mask",
                "guardrail_status": "success",
                "start_time": c["g_start"][j],
                "end_time": c["g_end"][j],
                "duration": c["g_dur"][j],
                "masked_entity_count": None,
            }
        ]
        if ok:
            cost = c["cost"][j]
            resp_id = "chatcmpl-" + c["resp_id"][j]
            response: dict[str, Any] = {
                "id": resp_id,
                "created": c["created"][j],
                "model": m.name,
                "object": "chat.completion",
                "system_fingerprint": "fp_" + c["hex16"][j][:10],
                "choices": self.choices(c, j, litellm=True),
                "usage": usage,
            }
            if stream:
                add_headers: dict[str, Any] = {
                    "llm_provider-date": c["http_date"][j],
                    "llm_provider-content-type": "text/event-stream",
                }
            else:
                add_headers = {
                    "llm_provider-date": c["http_date"][j],
                    "llm_provider-content-type": "application/json",
                    "x-litellm-model-group": m.name,
                    "x-litellm-attempted-retries": 0,
                    "x-litellm-attempted-fallbacks": 0,
                }
            hidden: dict[str, Any] = {
                "model_id": self.model_ids[model_i],
                "cache_key": None,
                "api_base": API_BASE,
                "response_cost": cost,
                "additional_headers": add_headers,
                "litellm_overhead_time_ms": None if stream else c["overhead"][j],
                "batch_models": None,
                "batch_successful_requests": None,
                "batch_failed_requests": None,
                "litellm_model_name": m.deployment,
                "usage_object": None,
            }
            model_params = self.params(c, j, eu, litellm=True)
            cost_breakdown: dict[str, Any] | None = {
                "input_cost": c["in_cost"][j],
                "output_cost": c["out_cost"][j],
                "total_cost": cost,
                "tool_usage_cost": 0.0,
                "service_tier": None,
                "data_residency": None,
                "vertex_location": None,
                "original_cost": cost,
                "discount_percent": 0.0,
                "discount_amount": 0.0,
                "margin_percent": 0.0,
                "margin_fixed_amount": 0.0,
                "margin_total_amount": 0.0,
            }
            rec_id, error_str, err_info = resp_id, None, _OK_ERROR_INFO
            model_name, model_group, model_id = m.deployment, m.name, self.model_ids[model_i]
            provider: str | None = "openai"
            api_base = API_BASE
            mmap: dict[str, Any] = self.model_map[model_i]
            cache_hit: bool | None = False if stream else None
            ptok, ctok = c["ptok"][j], c["ctok"][j]
        else:
            cost, response, hidden, cost_breakdown = 0.0, {}, _NULL_HIDDEN, None
            model_params = {"stream": True} if stream else {}
            rec_id, cache_hit, ptok, ctok = call_id, False, 0, 0
            api_base = ""
            if status == 1:
                error_str = (
                    f"Rate limit exceeded for api_key: {key_hash}. Limit type: requests. "
                    "Current limit: 60, Remaining: 0."
                )
                err_info = dict(
                    _OK_ERROR_INFO,
                    error_code="429",
                    error_class="HTTPException",
                    error_message=error_str,
                    normalized_error="429_RATE_LIMIT_EXCEEDED",
                )
                model_name, model_group, model_id = m.deployment, m.name, self.model_ids[model_i]
                provider = "openai"
                mmap = self.model_map[model_i]
            else:
                error_str = (
                    "400: {'error': '/chat/completions: Invalid model name passed in "
                    f"model={req_model}. Call `/v1/models` to view available models for "
                    "your key.'}"
                )
                err_info = dict(
                    _OK_ERROR_INFO,
                    error_code="400",
                    error_class="ProxyModelNotFoundError",
                    error_message=error_str,
                    normalized_error="400_INVALID_REQUEST",
                )
                model_name, model_group, model_id = req_model, "", ""
                provider = None
                mmap = _NO_MODEL_MAP
        return {
            "id": rec_id,
            "litellm_call_id": call_id,
            "trace_id": c["trace_id"][j],
            "session_id": "",
            "call_type": "acompletion",
            "cache_hit": cache_hit,
            "stream": True if (stream and ok) else None,
            "status": "success" if ok else "failure",
            "status_fields": _STATUS_OK if ok else _STATUS_FAIL,
            "custom_llm_provider": provider,
            "saved_cache_cost": 0.0,
            "startTime": c["start6"][j],
            "endTime": c["end6"][j],
            "completionStartTime": c["cst6"][j],
            "response_time": c["rt6"][j],
            "model": model_name,
            "metadata": meta,
            "cache_key": None,
            "response_cost": cost,
            "cost_breakdown": cost_breakdown,
            "autorouter_savings": None,
            "autorouter_savings_estimate": None,
            "autorouter_baseline_observation": None,
            "total_tokens": ptok + ctok,
            "prompt_tokens": ptok,
            "completion_tokens": ctok,
            "request_tags": tags,
            "request_model_access_groups": [],
            "end_user": eu,
            "api_base": api_base,
            "model_group": model_group,
            "model_id": model_id,
            "requester_ip_address": ip,
            "user_agent": ua,
            "messages": msgs,
            "response": response,
            "model_parameters": model_params,
            "hidden_params": hidden,
            "model_map_information": mmap,
            "error_str": error_str,
            "error_information": err_info,
            "response_cost_failure_debug_info": None,
            "zero_cost_diagnostic": None,
            "guardrail_information": guard,
            "standard_built_in_tools_params": _BUILTIN_TOOLS,
        }

    def render_fn(self) -> Callable[[dict[str, list[Any]], int], dict[str, Any]]:
        """The record builder of this renderer's format."""
        return {"litellm": self.litellm, "openai": self.openai, "canonical": self.canonical}[
            self.fmt
        ]


# --- driving ----------------------------------------------------------------------------


def _order(sim: Any, fmt: str) -> np.ndarray:
    ev = sim.events
    if fmt == "litellm":  # logged on completion
        return np.lexsort((ev["acct"], ev["ts"] + ev["lat"].astype(np.float64)))
    return np.arange(len(ev["ts"]))


def iter_records(sim: Any, fmt: str) -> Iterator[dict[str, Any]]:
    """Yield the records of one format, in output order (tests, small runs).

    Parameters
    ----------
    sim : generate.Simulation
        A planned simulation.
    fmt : str
        One of :data:`FORMATS`.

    Yields
    ------
    dict
    """
    r = _Renderer(sim, fmt)
    fn = r.render_fn()
    order = _order(sim, fmt)
    for c0 in range(0, len(order), CHUNK):
        idx = order[c0 : c0 + CHUNK]
        cols = r.prepare(idx)
        for j in range(len(idx)):
            yield fn(cols, j)


def render_chunk(renderer: Any, order: np.ndarray, chunk: int) -> bytes:
    """Render chunk number ``chunk`` of ``order`` as JSON lines (newline-terminated bytes)."""
    idx = order[chunk * CHUNK : (chunk + 1) * CHUNK]
    cols = renderer.prepare(idx)
    fn = renderer.render_fn()
    dumps = orjson.dumps
    lines = [dumps(fn(cols, j)) for j in range(len(idx))]
    lines.append(b"")
    return b"\n".join(lines)


def _gzip_member(data: bytes, level: int) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, 31, 9)  # gzip wrapper, mtime 0, no file name
    return c.compress(data) + c.flush()


_WORKER: dict[str, Any] = {}


def _worker_chunk(chunk: int) -> bytes:
    """Render (and gzip) one chunk in a forked worker (state inherited from the parent)."""
    w = _WORKER
    data = render_chunk(w["renderer"], w["order"], chunk)
    return _gzip_member(data, w["level"]) if w["gz"] else data


def write_events(
    sim: Any,
    out: Path,
    fmt: str,
    compress_level: int = 6,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> tuple[int, int]:
    """Write all events of ``sim`` to ``out`` in format ``fmt``.

    The bytes do not depend on ``workers``: chunks are rendered independently (ids are
    bound to events) and each becomes its own gzip member.

    Parameters
    ----------
    sim : generate.Simulation
        A planned simulation.
    out : Path
        Destination (gzip when the name ends in ``.gz``).
    fmt : str
        One of :data:`FORMATS`.
    compress_level : int
        gzip level (1 fastest .. 9 smallest).
    progress : callable, optional
        ``progress(done, total)`` after each chunk.
    workers : int
        Processes rendering chunks in parallel (``fork`` start method; 1 = in process,
        with gzip on a helper thread).

    Returns
    -------
    (events, bytes) : tuple of int
    """
    renderer = _Renderer(sim, fmt)
    order = _order(sim, fmt)
    total = len(order)
    n_chunks = (total + CHUNK - 1) // CHUNK
    gz = out.name.endswith(".gz")
    size = 0
    if workers > 1 and n_chunks > 1 and "fork" in mp.get_all_start_methods():
        _WORKER.update(renderer=renderer, order=order, gz=gz, level=compress_level)
        try:
            ctx = mp.get_context("fork")
            with open(out, "wb") as fh, ctx.Pool(workers) as pool:
                for chunk, blob in enumerate(pool.imap(_worker_chunk, range(n_chunks))):
                    fh.write(blob)
                    size += len(blob)
                    if progress:
                        progress(min((chunk + 1) * CHUNK, total), total)
        finally:
            _WORKER.clear()
        return total, size
    with open(out, "wb") as fh, ThreadPoolExecutor(max_workers=2) as tpool:
        pending: list[Future[bytes]] = []
        for chunk in range(n_chunks):
            data = render_chunk(renderer, order, chunk)
            if gz:
                pending.append(tpool.submit(_gzip_member, data, compress_level))
                while len(pending) > 2 or (pending and pending[0].done()):
                    blob = pending.pop(0).result()
                    fh.write(blob)
                    size += len(blob)
            else:
                fh.write(data)
                size += len(data)
            if progress:
                progress(min((chunk + 1) * CHUNK, total), total)
        for f in pending:
            blob = f.result()
            fh.write(blob)
            size += len(blob)
    return total, size
