"""Lua scripts run inside Redis: per account-hour updates, idempotent ingest, helpers.

Scripts are loaded once per connection pool (``SCRIPT LOAD``) and called by SHA inside
MULTI/EXEC. A Redis restart empties the script cache, so :meth:`Scripts.ensure` is
called before every transaction that uses them (one ``SCRIPT EXISTS`` round trip): a
missing script inside EXEC would apply the rest of the transaction without it.

Numbers: Lua numbers are doubles, exact for event times, token counts and 32-bit
halves; 64-bit MinHash values are compared as two 32-bit halves of their hex form.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import redis

from detector.aggregates import GAP_BINS, SKETCHES, TOPS

__all__ = ["BUCKET_UPDATE", "INGEST_BATCH", "SET_MAX", "Scripts"]

# KEYS: 1 bucket hash, 2 minhash hash, 3 account last-ts, 4.. HLLs (SKETCHES order),
#       then heavy-hitter ZSETs (TOPS order).
# ARGV: ttl, link_first_ts ("" = none), group_first_ts, group_last_ts, top_keep,
#       nf, (field, increment) * nf, nm, hex16 * nm,
#       for each HLL: k, item * k; for each top: k, (member, increment) * k
BUCKET_UPDATE = (
    """
local N_HLL = @N_HLL@
local N_TOP = @N_TOP@
local GAP_BINS = @GAP_BINS@
local ttl = tonumber(ARGV[1])
local bucket = KEYS[1]

local function gap_bin(g)
  if g < 1e-6 then g = 1e-6 end
  local _, e = math.frexp(g)
  local b = e - 1 + 4
  if b < 0 then b = 0 elseif b > GAP_BINS - 1 then b = GAP_BINS - 1 end
  return b
end

local function hexless(a, b)
  local ah = tonumber(string.sub(a, 1, 8), 16)
  local bh = tonumber(string.sub(b, 1, 8), 16)
  if ah ~= bh then return ah < bh end
  return tonumber(string.sub(a, 9, 16), 16) < tonumber(string.sub(b, 9, 16), 16)
end

-- inter-arrival gap between the previous batch's last event and this batch's first
local stored = redis.call('GET', KEYS[3])
if ARGV[2] ~= '' and stored then
  local gap = tonumber(ARGV[2]) - tonumber(stored)
  if gap > 0 then
    redis.call('HINCRBYFLOAT', bucket, 'gap_n', 1)
    redis.call('HINCRBYFLOAT', bucket, 'gap_sum', gap)
    redis.call('HINCRBYFLOAT', bucket, 'gap_sumsq', gap * gap)
    redis.call('HINCRBYFLOAT', bucket, 'g' .. gap_bin(gap), 1)
  end
end
local glast = tonumber(ARGV[4])
if (not stored) or glast > tonumber(stored) then
  redis.call('SET', KEYS[3], ARGV[4], 'EX', ttl)
else
  redis.call('EXPIRE', KEYS[3], ttl)
end

local first = redis.call('HGET', bucket, 'first')
if (not first) or tonumber(ARGV[3]) < tonumber(first) then
  redis.call('HSET', bucket, 'first', ARGV[3])
end
local last = redis.call('HGET', bucket, 'last')
if (not last) or glast > tonumber(last) then
  redis.call('HSET', bucket, 'last', ARGV[4])
end

local top_keep = tonumber(ARGV[5])
local i = 6
local nf = tonumber(ARGV[i]); i = i + 1
for _ = 1, nf do
  redis.call('HINCRBYFLOAT', bucket, ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('EXPIRE', bucket, ttl)

local nm = tonumber(ARGV[i]); i = i + 1
if nm > 0 then
  local cur = redis.call('HGETALL', KEYS[2])
  local have = {}
  for j = 1, #cur, 2 do have[cur[j]] = cur[j + 1] end
  for slot = 0, nm - 1 do
    local v = ARGV[i + slot]
    local s = tostring(slot)
    local old = have[s]
    if (not old) or hexless(v, old) then redis.call('HSET', KEYS[2], s, v) end
  end
  i = i + nm
  redis.call('EXPIRE', KEYS[2], ttl)
end

for h = 1, N_HLL do
  local k = tonumber(ARGV[i]); i = i + 1
  if k > 0 then
    local key = KEYS[3 + h]
    local j = 0
    while j < k do
      local m = math.min(k - j, 1000)
      redis.call('PFADD', key, unpack(ARGV, i + j, i + j + m - 1))
      j = j + m
    end
    redis.call('EXPIRE', key, ttl)
    i = i + k
  end
end

for t = 1, N_TOP do
  local k = tonumber(ARGV[i]); i = i + 1
  if k > 0 then
    local key = KEYS[3 + N_HLL + t]
    for j = 0, k - 1 do
      redis.call('ZINCRBY', key, ARGV[i + 2 * j + 1], ARGV[i + 2 * j])
    end
    i = i + 2 * k
    if redis.call('ZCARD', key) > 2 * top_keep then
      redis.call('ZREMRANGEBYRANK', key, 0, -(top_keep + 1))
    end
    redis.call('EXPIRE', key, ttl)
  end
end
return 1
""".replace("@N_HLL@", str(len(SKETCHES)))
    .replace("@N_TOP@", str(len(TOPS)))
    .replace("@GAP_BINS@", str(GAP_BINS))
)

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
        "bucket": BUCKET_UPDATE,
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
