"""Lua scripts run inside Redis: bucket appends, idempotent ingest, helpers.

They are sent with ``EVAL`` (Redis caches them by SHA1): nothing to reload after a
Redis restart, and the call routes by its keys on a Redis Cluster. Every script's keys
share one partition's hash tag (one slot).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["BUCKET_APPEND", "INGEST_BATCH", "POP_READY", "SET_MAX", "run_script"]

# A batch's window-state update (service.stream.state_store): KEYS = bucket keys, ARGV =
# ttl, then one binary record per key. APPENDs each record; a bucket the append created
# gets its TTL (once, so a bucket lives ttl from its first event, like every window key).
# Returns each bucket's length after the append (the worker compacts long ones).
BUCKET_APPEND = """
local ttl = ARGV[1]
local out = {}
for i = 1, #KEYS do
  local rec = ARGV[i + 1]
  local n = redis.call('APPEND', KEYS[i], rec)
  if n == #rec then redis.call('EXPIRE', KEYS[i], ttl) end
  out[i] = n
end
return out
"""

# Idempotent ingest of a batch: KEYS[1] = events stream, KEYS[2..] = dedupe keys.
# ARGV: ttl, maxlen, then one payload per dedupe key. Returns the number added, then
# one flag per event (1 added, 0 duplicate).
INGEST_BATCH = """
local ttl = ARGV[1]
local maxlen = ARGV[2]
local out = {0}
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], 1, 'NX', 'EX', ttl) then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'e', ARGV[i + 1])
    out[1] = out[1] + 1
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""

# KEYS[1] = a numeric string key; ARGV[1] = candidate. Keeps the maximum.
SET_MAX = """
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(ARGV[1]) > tonumber(cur) then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
"""

# Atomically take up to ARGV[2] members of ZSET KEYS[1] with score <= ARGV[1].
POP_READY = """
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #items > 0 then redis.call('ZREM', KEYS[1], unpack(items)) end
return items
"""


def run_script(target: Any, script: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
    """``EVAL script`` on a client or a pipeline (one Redis or a cluster, where
    ``ClusterPipeline.eval`` is not the command); routed by ``keys`` on a cluster."""
    return target.execute_command("EVAL", script, len(keys), *keys, *args)
