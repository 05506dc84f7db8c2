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

from detector.aggregates import ADDITIVE, GAP_BINS, N_TOPICS, SKETCHES, TOPS

__all__ = ["BUCKET_FIELDS", "BUCKET_UPDATE", "INGEST_BATCH", "SET_MAX", "Scripts"]

#: Fields of an account-hour bucket hash that hold additive values, in the order the
#: workers index them: the counters of ADDITIVE, then the hour-of-day (h*), gap (g*)
#: and topic (t*) histogram cells. ``first`` / ``last`` are kept beside them.
BUCKET_FIELDS: tuple[str, ...] = (
    *ADDITIVE,
    *(f"h{i}" for i in range(24)),
    *(f"g{i}" for i in range(GAP_BINS)),
    *(f"t{i}" for i in range(N_TOPICS)),
)
#: Bucket fields that hold non-integer sums (the others are updated with HINCRBY).
FLOAT_FIELDS: tuple[str, ...] = ("sum_cot_score", "gap_sum", "gap_sumsq")

# KEYS: 1 bucket hash, 2 account last-ts, 3.. HLLs (SKETCHES order), then heavy-hitter
#       ZSETs (TOPS order).
# ARGV: ttl, top_keep, payload (JSON array):
#   [link_first_ts | null, first_ts, last_ts, [field index], [increment],
#    minhash (MINHASH_PERM slots of 16 hex digits, concatenated),
#    [[hll items] per SKETCHES],
#    [[[member], [count]] per TOPS]]
# Times travel as strings (Lua's number -> string conversion keeps only 14 digits).
# The bucket hash also holds ``first``, ``last``, ``mh`` (the minute MinHash as
# concatenated 16-hex-digit slots) and ``x`` (one char per key of the bucket: 1 once its
# TTL is set, so each key gets EXPIRE once, when it is created).
BUCKET_UPDATE = (
    """
local FIELDS = {@FIELDS@}
local FLOATS = {@FLOATS@}
local N_HLL = @N_HLL@
local N_TOP = @N_TOP@
local GAP_BINS = @GAP_BINS@
local ttl = tonumber(ARGV[1])
local top_keep = tonumber(ARGV[2])
local p = cjson.decode(ARGV[3])
local bucket = KEYS[1]

local function gap_bin(g)
  if g < 1e-6 then g = 1e-6 end
  local _, e = math.frexp(g)
  local b = e - 1 + 4
  if b < 0 then b = 0 elseif b > GAP_BINS - 1 then b = GAP_BINS - 1 end
  return b
end

local function incr(field, v)
  if FLOATS[field] or v ~= math.floor(v) then
    redis.call('HINCRBYFLOAT', bucket, field, string.format('%.17g', v))
  else
    redis.call('HINCRBY', bucket, field, string.format('%d', v))
  end
end

local cur = redis.call('HMGET', bucket, 'first', 'last', 'mh', 'x')
local x = cur[4] or string.rep('0', 2 + N_HLL + N_TOP)
local xs = {}
for j = 1, #x do xs[j] = string.sub(x, j, j) end
local function touched(j, key)
  if xs[j] ~= '1' then
    redis.call('EXPIRE', key, ttl)
    xs[j] = '1'
  end
end

-- inter-arrival gap between the previous batch's last event and this batch's first
local stored = redis.call('GET', KEYS[2])
if p[1] ~= cjson.null and stored then
  local gap = tonumber(p[1]) - tonumber(stored)
  if gap > 0 then
    incr('gap_n', 1)
    incr('gap_sum', gap)
    incr('gap_sumsq', gap * gap)
    incr('g' .. gap_bin(gap), 1)
  end
end
local glast = tonumber(p[3])
if (not stored) or glast > tonumber(stored) then
  redis.call('SET', KEYS[2], p[3], 'EX', ttl)
end

local idx, inc = p[4], p[5]
for j = 1, #idx do incr(FIELDS[idx[j] + 1], inc[j]) end

local set = {}
if (not cur[1]) or tonumber(p[2]) < tonumber(cur[1]) then
  set[#set + 1] = 'first'; set[#set + 1] = p[2]
end
if (not cur[2]) or glast > tonumber(cur[2]) then
  set[#set + 1] = 'last'; set[#set + 1] = p[3]
end
local mh = p[6]
if #mh > 0 then
  local old = cur[3]
  local out = {}
  local changed = not old
  for slot = 1, #mh / 16 do
    local v = string.sub(mh, slot * 16 - 15, slot * 16)
    if old then
      local o = string.sub(old, slot * 16 - 15, slot * 16)
      local vh, oh = tonumber(string.sub(v, 1, 8), 16), tonumber(string.sub(o, 1, 8), 16)
      local smaller = vh < oh or (vh == oh and
        tonumber(string.sub(v, 9, 16), 16) < tonumber(string.sub(o, 9, 16), 16))
      if smaller then changed = true else v = o end
    end
    out[slot] = v
  end
  if changed then set[#set + 1] = 'mh'; set[#set + 1] = table.concat(out) end
end

local hll = p[7]
for h = 1, N_HLL do
  local items = hll[h]
  local k = #items
  if k > 0 then
    local key = KEYS[2 + h]
    local j = 1
    while j <= k do
      local m = math.min(k - j + 1, 1000)
      redis.call('PFADD', key, unpack(items, j, j + m - 1))
      j = j + m
    end
    touched(2 + h, key)
  end
end

local tops = p[8]
for t = 1, N_TOP do
  local members, counts = tops[t][1], tops[t][2]
  if #members > 0 then
    local key = KEYS[2 + N_HLL + t]
    local added = false
    for j = 1, #members do
      local score = tonumber(redis.call('ZINCRBY', key, counts[j], members[j]))
      if score == counts[j] then added = true end
    end
    if added and redis.call('ZCARD', key) > 2 * top_keep then
      redis.call('ZREMRANGEBYRANK', key, 0, -(top_keep + 1))
    end
    touched(2 + N_HLL + t, key)
  end
end

local new_x = table.concat(xs)
if new_x ~= x then set[#set + 1] = 'x'; set[#set + 1] = new_x end
if #set > 0 then redis.call('HSET', bucket, unpack(set)) end
if not cur[4] then redis.call('EXPIRE', bucket, ttl) end
return 1
""".replace("@N_HLL@", str(len(SKETCHES)))
    .replace("@N_TOP@", str(len(TOPS)))
    .replace("@GAP_BINS@", str(GAP_BINS))
    .replace("@FIELDS@", ", ".join(f"'{name}'" for name in BUCKET_FIELDS))
    .replace("@FLOATS@", ", ".join(f"{name} = true" for name in FLOAT_FIELDS))
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
