"""The Lua scripts of the Redis rollups (rollups.py): summing quarter counters into buckets, and
the summary that reads them. Key helpers and ``P`` come from lua.py's shared prelude."""

from __future__ import annotations

from wxapush.store.redis.lua import _COMMON

_ROLLS = """
local base = app(ARGV[2])
local function quarter(q) return base .. ':sum:' .. string.format('%d', q) end
local function roll(s, e)
  return base .. ':roll:' .. string.format('%d', s) .. ':' .. string.format('%d', e)
end
local function add(acc, counts)
  for i = 1, #counts, 2 do acc[counts[i]] = (acc[counts[i]] or 0) + tonumber(counts[i + 1]) end
end
"""

#: ARGV: prefix, appid, then start, end of each closed bucket wanted -> how many were summed.
#: Buckets holding a quarter changed since (the dirty set) are summed again; buckets not wanted
#: any more are forgotten; the dirty set is emptied.
ROLL_UP = (
    _COMMON
    + _ROLLS
    + """
local dirty = {}
for _, q in ipairs(redis.call('SMEMBERS', base .. ':sum:dirty')) do dirty[tonumber(q)] = true end
redis.call('DEL', base .. ':sum:dirty')
local wanted = {}
for i = 3, #ARGV - 1, 2 do
  wanted[ARGV[i] .. ':' .. ARGV[i + 1]] = {tonumber(ARGV[i]), tonumber(ARGV[i + 1])}
end
for _, member in ipairs(redis.call('HKEYS', base .. ':rolls')) do
  if not wanted[member] then
    redis.call('HDEL', base .. ':rolls', member)
    redis.call('DEL', base .. ':roll:' .. member)
  end
end
local summed = 0
for member, b in pairs(wanted) do
  local stale = redis.call('HEXISTS', base .. ':rolls', member) == 0
  if not stale then
    for q = b[1], b[2] - 900, 900 do
      if dirty[q] then stale = true break end
    end
  end
  if stale then
    local acc = {}
    for q = b[1], b[2] - 900, 900 do add(acc, redis.call('HGETALL', quarter(q))) end
    local flat = {}
    for name, n in pairs(acc) do
      if n ~= 0 then flat[#flat + 1] = name flat[#flat + 1] = string.format('%d', n) end
    end
    redis.call('DEL', roll(b[1], b[2]))
    if #flat > 0 then redis.call('HSET', roll(b[1], b[2]), unpack(flat)) end
    redis.call('HSET', base .. ':rolls', member, '1')
    summed = summed + 1
  end
end
return summed
"""
)

#: ARGV: prefix, appid, the summary's bounds -> per period, its counter fields summed (flat).
#: Each period is tiled with the longest clean buckets that fit, quarters elsewhere.
SUMMARY_ROLLED = (
    _COMMON
    + _ROLLS
    + """
local ends = {}
for _, member in ipairs(redis.call('HKEYS', base .. ':rolls')) do
  local s, e = string.match(member, '^(%d+):(%d+)$')
  s, e = tonumber(s), tonumber(e)
  ends[s] = ends[s] or {}
  table.insert(ends[s], e)
end
local dirty = {}
for _, q in ipairs(redis.call('SMEMBERS', base .. ':sum:dirty')) do dirty[tonumber(q)] = true end
local function clean(s, e)
  for q = s, e - 900, 900 do if dirty[q] then return false end end
  return true
end
local out = {}
for i = 3, #ARGV - 1 do
  local cursor, stop = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local acc = {}
  while cursor < stop do
    local best = nil
    for _, e in ipairs(ends[cursor] or {}) do
      if e <= stop and (best == nil or e > best) and clean(cursor, e) then best = e end
    end
    if best then
      add(acc, redis.call('HGETALL', roll(cursor, best)))
      cursor = best
    else
      add(acc, redis.call('HGETALL', quarter(cursor)))
      cursor = cursor + 900
    end
  end
  local flat = {}
  for name, n in pairs(acc) do
    if n ~= 0 then flat[#flat + 1] = name flat[#flat + 1] = string.format('%d', n) end
  end
  out[#out + 1] = flat
end
return out
"""
)
