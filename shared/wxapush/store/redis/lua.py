"""The Lua scripts of the redis backend: each runs atomically on the server (one round trip).

Every script gets the key prefix as ARGV[1] and derives key names with the helpers below, which
mirror ``keys.py`` (the conformance suite's query tests catch any drift between the two). Numbers
that must stay exact (msgid, created_at as a score, µs timestamps) travel as strings: Lua's
doubles would round a 64-bit msgid, and ``tostring`` keeps only 14 digits.
"""

from __future__ import annotations

#: Key helpers shared by the send-log scripts. ``esc`` keeps ':' out of every key component.
_COMMON = """
local P = ARGV[1]
local function esc(v) return (string.gsub(v, '[%%:]', {['%'] = '%25', [':'] = '%3A'})) end
local function app(appid) return P .. ':' .. esc(appid) end
local function rec(id) return P .. ':log:' .. id end
local function idem_key(appid, key) return app(appid) .. ':idem:' .. esc(key) end
local function msgid_key(appid, msgid) return app(appid) .. ':msgid:' .. msgid end
local FIELDS = {'appid', 'touser', 'template_id', 'status', 'created_at', 'msgid',
                'idempotency_key', 'errcode', '_summed', 'broadcast_id'}
local function read(id)
  local v = redis.call('HMGET', rec(id), unpack(FIELDS))
  local r = {}
  for i, name in ipairs(FIELDS) do r[name] = v[i] end
  return r
end
local function index(id, f, add)
  local a, u, t, s = app(f.appid) .. ':ix', esc(f.touser), esc(f.template_id), f.status
  local keys = {a, a .. ':u:' .. u, a .. ':t:' .. t, a .. ':s:' .. s,
                a .. ':ut:' .. u .. ':' .. t, a .. ':us:' .. u .. ':' .. s,
                a .. ':ts:' .. t .. ':' .. s, a .. ':uts:' .. u .. ':' .. t .. ':' .. s}
  if f.broadcast_id then
    local b = esc(f.broadcast_id)
    keys[#keys + 1] = a .. ':b:' .. b
    keys[#keys + 1] = a .. ':bs:' .. b .. ':' .. s
  end
  for _, k in ipairs(keys) do
    if add then redis.call('ZADD', k, f.created_at, id) else redis.call('ZREM', k, id) end
  end
end
-- The summary counters (keys.py: <p>:<appid>:sum:<quarter hour>), kept in step with the records
-- that carry the field _summed: every record claimed since the counters exist. A record written
-- by an older wxapush is not in them, so changing or pruning it must not take it out.
local function tally(f, delta)
  if delta < 0 and not f._summed then return end
  local q = math.floor(tonumber(f.created_at) / 900) * 900
  local k = app(f.appid) .. ':sum:' .. string.format('%d', q)
  local t = esc(f.template_id)
  local names = {'s:' .. f.status, 't:' .. t .. ':' .. f.status}
  if f.errcode and f.errcode ~= '0' then
    names[3] = 'e:' .. t .. ':' .. f.status .. ':' .. f.errcode
  end
  for _, name in ipairs(names) do
    if redis.call('HINCRBY', k, name, delta) == 0 then redis.call('HDEL', k, name) end
  end
  redis.call('SADD', app(f.appid) .. ':sum:dirty', string.format('%d', q))  -- rollups.py
end
local function forget_key(id, f)
  if f.idempotency_key then
    local ik = idem_key(f.appid, f.idempotency_key)
    if redis.call('GET', ik) == id then redis.call('DEL', ik) end
  end
  redis.call('ZREM', P .. ':log:keyed', id)
end
"""

#: ARGV: prefix, log_id, field, value, field, value… -> {1} or {0, existing record's HGETALL}
CLAIM = (
    _COMMON
    + """
local id = ARGV[2]
local f = {}
for i = 3, #ARGV, 2 do f[ARGV[i]] = ARGV[i + 1] end
if f.idempotency_key then
  local holder = redis.call('GET', idem_key(f.appid, f.idempotency_key))
  if holder then
    local found = redis.call('HGETALL', rec(holder))
    if #found > 0 then return {0, found} end
  end
end
if redis.call('EXISTS', rec(id)) == 1 then
  return redis.error_reply('log_id ' .. id .. ' already exists')
end
redis.call('HSET', rec(id), '_summed', '1', unpack(ARGV, 3))
index(id, f, true)
tally(f, 1)
redis.call('ZADD', P .. ':log:created', f.created_at, id)
if f.msgid then redis.call('ZADD', msgid_key(f.appid, f.msgid), f.created_at, id) end
if f.idempotency_key then
  redis.call('SET', idem_key(f.appid, f.idempotency_key), id)
  redis.call('ZADD', P .. ':log:keyed', f.created_at, id)
end
return {1}
"""
)

#: KEYS: the user's grants hash, when the update uses a grant; ARGV: prefix, log_id, n, the
#: grant's template_id ('' for none), m, n (field, value) pairs, m (field, value) conditions, then
#: fields to delete -> 1, 0 absent, -1 the new idempotency key is another record's, -2 a
#: condition does not hold (nothing changed)
UPDATE = (
    _COMMON
    + """
local id, n, m = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[5])
if redis.call('EXISTS', rec(id)) == 0 then return 0 end
local grant = ARGV[4]
local first, after = 6, 6 + 2 * n
for i = after, after + 2 * m - 1, 2 do
  if redis.call('HGET', rec(id), ARGV[i]) ~= ARGV[i + 1] then return -2 end
end
local old = read(id)
for i = first, after - 1, 2 do
  if ARGV[i] == 'idempotency_key' and ARGV[i + 1] ~= old.idempotency_key then
    local holder = redis.call('GET', idem_key(old.appid, ARGV[i + 1]))
    if holder and holder ~= id then return -1 end
  end
end
if n > 0 then redis.call('HSET', rec(id), unpack(ARGV, first, after - 1)) end
if #ARGV >= after + 2 * m then redis.call('HDEL', rec(id), unpack(ARGV, after + 2 * m)) end
local new = read(id)
if new.touser ~= old.touser or new.template_id ~= old.template_id
    or new.status ~= old.status then
  index(id, old, false)
  index(id, new, true)
end
if new.template_id ~= old.template_id or new.status ~= old.status
    or new.errcode ~= old.errcode then
  if old._summed then
    tally(old, -1)
    tally(new, 1)
  end
end
if new.msgid ~= old.msgid then
  if old.msgid then redis.call('ZREM', msgid_key(old.appid, old.msgid), id) end
  if new.msgid then redis.call('ZADD', msgid_key(new.appid, new.msgid), new.created_at, id) end
end
if new.idempotency_key ~= old.idempotency_key then
  forget_key(id, old)
  if new.idempotency_key then
    redis.call('SET', idem_key(new.appid, new.idempotency_key), id)
    redis.call('ZADD', P .. ':log:keyed', new.created_at, id)
  end
end
-- the grant the message used, in the same write; taken with a change of status only, so a
-- repeated update (a retry after a lost reply) takes none
if #KEYS == 1 and new.status ~= old.status
    and tonumber(redis.call('HGET', KEYS[1], grant) or 0) > 0 then
  redis.call('HINCRBY', KEYS[1], grant, -1)
end
return 1
"""
)

#: ARGV: prefix, index key, since, until, offset, count[, errcode] -> {total, record, record…}
#: With an errcode, the index's range is walked on the server, newest first, and only records
#: carrying that errcode count.
QUERY = (
    _COMMON
    + """
local k, since, upto = ARGV[2], ARGV[3], '(' .. ARGV[4]
local offset, count = tonumber(ARGV[5]), tonumber(ARGV[6])
local out = {0}
if ARGV[7] then
  local total = 0
  for _, id in ipairs(redis.call('ZREVRANGEBYSCORE', k, upto, since)) do
    if redis.call('HGET', rec(id), 'errcode') == ARGV[7] then
      if total >= offset and total < offset + count then
        out[#out + 1] = redis.call('HGETALL', rec(id))
      end
      total = total + 1
    end
  end
  out[1] = total
  return out
end
local total = redis.call('ZCOUNT', k, since, upto)
out[1] = total
if count > 0 and offset < total then
  local ids = redis.call('ZREVRANGEBYSCORE', k, upto, since, 'LIMIT', ARGV[5], ARGV[6])
  for _, id in ipairs(ids) do out[#out + 1] = redis.call('HGETALL', rec(id)) end
end
return out
"""
)

#: ARGV: prefix, msgid index key -> the newest record's HGETALL, or {}
FIND_MSGID = (
    _COMMON
    + """
local ids = redis.call('ZREVRANGE', ARGV[2], 0, 0)
if #ids == 0 then return {} end
return redis.call('HGETALL', rec(ids[1]))
"""
)

#: ARGV: prefix, older_than, batch -> how many records were deleted
PRUNE = (
    _COMMON
    + """
local ids = redis.call('ZRANGEBYSCORE', P .. ':log:created', '-inf', '(' .. ARGV[2],
                       'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do
  local f = read(id)
  if f.appid then
    index(id, f, false)
    tally(f, -1)
    if f.msgid then redis.call('ZREM', msgid_key(f.appid, f.msgid), id) end
    forget_key(id, f)
    redis.call('DEL', rec(id))
  end
  redis.call('ZREM', P .. ':log:created', id)
end
return #ids
"""
)

#: ARGV: prefix, older_than, batch -> how many idempotency keys were forgotten
EXPIRE_KEYS = (
    _COMMON
    + """
local ids = redis.call('ZRANGEBYSCORE', P .. ':log:keyed', '-inf', '(' .. ARGV[2],
                       'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do
  forget_key(id, read(id))
  redis.call('HDEL', rec(id), 'idempotency_key')
end
return #ids
"""
)

#: KEYS: token key; ARGV: token -> 1 if removed
INVALIDATE_TOKEN = """
local raw = redis.call('GET', KEYS[1])
if raw and cjson.decode(raw).token == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

#: KEYS: lock key; ARGV: owner -> 1 if released (compare-and-delete: only the owner's lock)
RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

#: KEYS: grants hash; ARGV: template_id -> 1 if one grant was taken
CONSUME_GRANT = """
local balance = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
if balance and balance > 0 then
  redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
  return 1
end
return 0
"""

#: KEYS: event key, events index; ARGV: ttl ms, window end (unix s) -> 1 if first
FIRST_SEEN = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('ZADD', KEYS[2], ARGV[2], KEYS[1])
  return 1
end
return 0
"""

#: KEYS: event key, events index, the user's grants hash; ARGV: ttl ms, window end, then
#: (template_id, 'grant' | 'revoke') pairs -> 1 applied, 0 seen already. FIRST_SEEN and the
#: ledger's writes in one: a receive_event push in one round trip. Whatever would fail (a key or
#: a balance of another type) fails before the first write, since a script's writes before an
#: error would stay: the claim stands if and only if the changes were applied.
RECORD_CHOICES = """
local kind = redis.call('TYPE', KEYS[3]).ok
if kind ~= 'hash' and kind ~= 'none' then
  return redis.error_reply('WRONGTYPE the grants key holds a ' .. kind)
end
for i = 3, #ARGV, 2 do
  local v = ARGV[i + 1] == 'grant' and redis.call('HGET', KEYS[3], ARGV[i])
  if v and not string.match(v, '^%-?%d+$') then
    return redis.error_reply('the balance of ' .. ARGV[i] .. ' is not an integer')
  end
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], KEYS[1])
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == 'grant' then
    redis.call('HINCRBY', KEYS[3], ARGV[i], 1)
  else
    redis.call('HSET', KEYS[3], ARGV[i], 0)
  end
end
return 1
"""

#: KEYS: events index; ARGV: now, batch -> how many ended windows were dropped
PRUNE_EVENTS = """
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, k in ipairs(keys) do
  redis.call('DEL', k)
  redis.call('ZREM', KEYS[1], k)
end
return #keys
"""

#: KEYS: bucket key; ARGV: interval µs, burst, max_wait µs -> wait µs (> max_wait: nothing
#: reserved). The server's clock is the one clock every instance shares. See base.bucket_step.
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local base = tonumber(redis.call('GET', KEYS[1]) or 0)
if base < now then base = now end
local start = math.max(now, base - (burst - 1) * interval)
local wait = start - now
if wait > tonumber(ARGV[3]) then return wait end
local tat = base + interval
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX',
           string.format('%.0f', math.ceil((tat - now) / 1000) + 1000))
return wait
"""
