"""The Lua scripts of the campaign queue (see ``campaigns.py``); each runs atomically.

The queue is a Redis Stream per app read by one consumer group, ``workers``: a worker's lease is
its entry in the group's pending list, ``XAUTOCLAIM`` takes over entries idle longer than a
lease, ``XACK`` (+ ``XDEL``) settles one. Deferred recipients wait in a sorted set by due time
and go back into the stream when due. Ownership is checked with ``XPENDING`` before any write, so
a worker whose entry was taken over writes nothing.
"""

from __future__ import annotations

_ESC = """
local function esc(v) return (string.gsub(v, '[%%:]', {['%'] = '%25', [':'] = '%3A'})) end
"""

#: KEYS: head, recipients hash, stream; ARGV: bid, head JSON, total, now, recipient JSON…
#: -> {1} created, or {0} the campaign exists
CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
redis.call('HSET', KEYS[1], 'head', ARGV[2], 'status', 'queued', 'total', ARGV[3],
           'final', 0, 'updated', ARGV[4])
pcall(redis.call, 'XGROUP', 'CREATE', KEYS[3], 'workers', '0', 'MKSTREAM')
for i = 5, #ARGV do
  local seq = tostring(i - 5)
  redis.call('HSET', KEYS[2], seq, ARGV[i])
  redis.call('XADD', KEYS[3], '*', 'b', ARGV[1], 's', seq)
end
return {1}
"""

#: KEYS: stream, later zset; ARGV: app key base, now, consumer, lease ms, count
#: -> {entry id, bid, seq, recipient JSON, attempts}…
LEASE = (
    _ESC
    + """
local stream, later, base, now, me = KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]
local count = tonumber(ARGV[5])
if redis.call('EXISTS', stream) == 0 then return {} end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', later, '-inf', now, 'LIMIT', 0, count)) do
  local bid, seq = string.match(m, '^(.*) (%d+)$')
  redis.call('XADD', stream, '*', 'b', bid, 's', seq)
  redis.call('ZREM', later, m)
end
local entries = redis.call('XAUTOCLAIM', stream, 'workers', me, ARGV[4], '0-0',
                           'COUNT', count)[2]
if #entries < count then
  local fresh = redis.call('XREADGROUP', 'GROUP', 'workers', me, 'COUNT', count - #entries,
                           'STREAMS', stream, '>')
  if fresh then for _, e in ipairs(fresh[1][2]) do entries[#entries + 1] = e end end
end
local out = {}
for _, e in ipairs(entries) do
  local f = {}
  for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
  local head = base .. ':bc:' .. esc(f.b)
  local status = redis.call('HGET', head, 'status')
  if status == 'queued' then
    redis.call('HSET', head, 'status', 'running', 'updated', now)
    status = 'running'
  end
  local prev = redis.call('HGET', head .. ':o', f.s)
  if status ~= 'running' or (prev and prev ~= 'deferred') then
    -- cancelled (or settled already): drained here, never handed out
    redis.call('XACK', stream, 'workers', e[1])
    redis.call('XDEL', stream, e[1])
    if status == 'cancelled' and (not prev or prev == 'deferred') then
      if prev then redis.call('HINCRBY', head, 'n:deferred', -1) end
      redis.call('HSET', head .. ':o', f.s, 'cancelled')
      redis.call('HINCRBY', head, 'n:cancelled', 1)
      redis.call('HINCRBY', head, 'final', 1)
    end
  else
    local attempts = redis.call('HGET', head .. ':a', f.s) or '0'
    out[#out + 1] = {e[1], f.b, f.s, redis.call('HGET', head .. ':r', f.s), attempts}
  end
end
return out
"""
)

_OWNED = """
local p = redis.call('XPENDING', KEYS[1], 'workers', ARGV[1], ARGV[1], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XACK', KEYS[1], 'workers', ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
"""

#: KEYS: stream, head; ARGV: entry id, consumer, seq, outcome, now -> 1, or 0 lease lost
SETTLE = (
    _OWNED
    + """
local head, seq = KEYS[2], ARGV[3]
local prev = redis.call('HGET', head .. ':o', seq)
if prev and prev ~= 'deferred' then return 1 end
if prev then redis.call('HINCRBY', head, 'n:deferred', -1) end
redis.call('HSET', head .. ':o', seq, ARGV[4])
redis.call('HINCRBY', head, 'n:' .. ARGV[4], 1)
local final = redis.call('HINCRBY', head, 'final', 1)
local status = redis.call('HGET', head, 'status')
if final >= tonumber(redis.call('HGET', head, 'total'))
    and (status == 'queued' or status == 'running') then
  redis.call('HSET', head, 'status', 'done', 'updated', ARGV[5])
end
return 1
"""
)

#: KEYS: campaign head, send record; ARGV: now -> 1 marked at WeChat's door, 0 the record is
#: gone or no longer pending, -1 the campaign is cancelled (nothing written either way). The
#: mark sets no field the log's indexes or tallies read.
DISPATCH = """
if redis.call('HGET', KEYS[1], 'status') == 'cancelled' then return -1 end
if redis.call('HGET', KEYS[2], 'status') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[2], 'attempts', '1', 'updated_at', ARGV[1])
return 1
"""

#: KEYS: stream, head, later; ARGV: entry id, consumer, seq, until, retry ('1'/'0'), bid
#: -> 1, or 0 lease lost
DEFER = (
    _OWNED
    + """
local head, seq = KEYS[2], ARGV[3]
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[6] .. ' ' .. seq)
local prev = redis.call('HGET', head .. ':o', seq)
if ARGV[5] == '1' then
  redis.call('HINCRBY', head .. ':a', seq, 1)
  if prev == 'deferred' then
    redis.call('HDEL', head .. ':o', seq)
    redis.call('HINCRBY', head, 'n:deferred', -1)
  end
elseif not prev then
  redis.call('HSET', head .. ':o', seq, 'deferred')
  redis.call('HINCRBY', head, 'n:deferred', 1)
end
return 1
"""
)

#: KEYS: head, staging list; ARGV: now -> 1 if cancelled now. Staged seqs (an open campaign's,
#: or those a start under way has not moved yet) are dropped (UNLINK frees a long list off the
#: script's time): none ever reaches the stream,
#: and ``counts`` tells every recipient without an outcome ``cancelled``. Entries a ``start``
#: already moved into the stream are drained as cancelled by the next lease.
CANCEL = """
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'open' and status ~= 'queued' and status ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'updated', ARGV[1])
redis.call('UNLINK', KEYS[2])  -- staged seqs (open, or a start under way): never queued
return 1
"""

#: KEYS: counter; ARGV: limit, ttl ms -> 1 if taken
TAKE = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return 0 end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"""

#: KEYS: counter -> never below zero
GIVE_BACK = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 1
"""
