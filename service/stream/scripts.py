"""Lua scripts run inside Redis: bucket appends, idempotent ingest, helpers.

Scripts are loaded once per connection pool (``SCRIPT LOAD``) and called by SHA inside
MULTI/EXEC. A Redis restart empties the script cache, so :meth:`Scripts.ensure` is
called before every transaction that uses them (one ``SCRIPT EXISTS`` round trip): a
missing script inside EXEC would apply the rest of the transaction without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import redis

__all__ = ["BUCKET_APPEND", "INGEST_BATCH", "POP_READY", "SET_MAX", "Scripts"]

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


@dataclass(slots=True)
class Scripts:
    """SHA1s of the scripts, loaded into one Redis server.

    Parameters
    ----------
    client : redis.Redis
        Connection (pool) to load the scripts with.
    """

    client: redis.Redis
    sha: dict[str, str] = field(default_factory=dict)

    _SOURCES = {  # noqa: RUF012 (class constant)
        "append": BUCKET_APPEND,
        "ingest": INGEST_BATCH,
        "setmax": SET_MAX,
        "pop_ready": POP_READY,
    }

    def load(self) -> Scripts:
        """``SCRIPT LOAD`` every script; returns self."""
        for name, source in self._SOURCES.items():
            self.sha[name] = self.client.script_load(source)
        return self

    def ensure(self) -> Scripts:
        """Reload the scripts if Redis lost them (e.g. after a restart); returns self."""
        if not self.sha:
            return self.load()
        shas = list(self.sha.values())
        if not all(self.client.script_exists(*shas)):
            self.load()
        return self

    def __getitem__(self, name: str) -> str:
        return self.sha[name]
