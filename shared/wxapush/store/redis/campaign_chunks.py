"""CampaignQueue's chunked campaigns on Redis: recipients staged in a list, queued at start.

An ``open`` campaign's recipients go into its recipients hash (``<head>:r``) and their seqs
onto a staging list (``<head>:staged``), never into the app's stream, so no worker sees them.
``start`` moves the staged seqs into the stream a page at a time (each page one script, so
Redis is never blocked for long) and, once the list is empty, turns the campaign ``queued``
in the same script as the last page. Appends go only to an ``open`` campaign. A ``cancel``
of an open campaign drops its staging list (``campaign_lua.CANCEL``); a ``start`` that was
still paging then stops at its next page.
"""

from __future__ import annotations

import json
from typing import Any, List, Optional, Sequence, Tuple

from wxapush.store.base import Campaign, Recipient
from wxapush.store.common import dump_json
from wxapush.store.redis.keys import Keys

#: Staged recipients moved into the stream per script run at ``start``.
START_PAGE = 5000

#: KEYS: head; ARGV: head JSON, now -> {1} created, or {0} the campaign exists
OPEN = """
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
redis.call('HSET', KEYS[1], 'head', ARGV[1], 'status', 'open', 'total', 0, 'final', 0,
           'updated', ARGV[2])
return {1}
"""

#: KEYS: head, recipients hash, staging list; ARGV: now, then seq, recipient JSON pairs
#: -> {status} (written if 'open'), or {'open', seq, JSON, …} already stored (nothing written)
APPEND = """
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'open' then return {status or ''} end
local out = {'open'}
for i = 2, #ARGV, 2 do
  local prev = redis.call('HGET', KEYS[2], ARGV[i])
  if prev then out[#out + 1] = ARGV[i]; out[#out + 1] = prev end
end
if #out > 1 then return out end
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('RPUSH', KEYS[3], ARGV[i])
end
redis.call('HINCRBY', KEYS[1], 'total', (#ARGV - 1) / 2)
redis.call('HSET', KEYS[1], 'updated', ARGV[1])
return {'open'}
"""

#: KEYS: head, staging list, stream; ARGV: bid, now, page
#: -> {0} not open (nor a start under way), {1} a page moved (more to come), {2} started.
#: The first page makes the campaign ``queued``: a lease between two pages then hands out the
#: entries already moved (an ``open`` campaign's entries would be drained unsent), and no
#: append comes after the start began. A later page (the start continued, or retried after a
#: lost reply) moves what is still staged.
START = """
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'open' then
  redis.call('HSET', KEYS[1], 'status', 'queued', 'updated', ARGV[2])
elseif (status ~= 'queued' and status ~= 'running') or redis.call('EXISTS', KEYS[2]) == 0 then
  return {0}
end
pcall(redis.call, 'XGROUP', 'CREATE', KEYS[3], 'workers', '0', 'MKSTREAM')
local page = tonumber(ARGV[3])
local seqs = redis.call('LRANGE', KEYS[2], 0, page - 1)
for _, seq in ipairs(seqs) do redis.call('XADD', KEYS[3], '*', 'b', ARGV[1], 's', seq) end
redis.call('LTRIM', KEYS[2], #seqs, -1)
if #seqs == page and redis.call('LLEN', KEYS[2]) > 0 then return {1} end
redis.call('DEL', KEYS[2])
return {2}
"""


class RedisCampaignChunks:
    """``append`` and ``start`` of :class:`~wxapush.store.base.CampaignQueue` (a mixin)."""

    _r: Any
    _keys: Keys

    def _script(self, name: str, source: str) -> Any:
        scripts = self.__dict__.setdefault("_chunk_scripts", {})
        if name not in scripts:
            scripts[name] = self._r.register_script(source)
        return scripts[name]

    def _create_open(self, campaign: Campaign, head: str) -> bool:
        """Create ``campaign`` open (no recipients yet); False if its id exists."""
        return bool(
            self._script("open", OPEN)(
                keys=[self._keys.campaign(campaign.appid, campaign.broadcast_id)],
                args=[head, repr(campaign.updated_at)],
            )[0]
            == 1
        )

    def append(
        self, appid: str, broadcast_id: str, recipients: Sequence[Recipient], now: float
    ) -> Tuple[Optional[str], List[Recipient]]:
        if not recipients:
            raise ValueError("append needs recipients")
        key = self._keys.campaign(appid, broadcast_id)
        args: List[Any] = [repr(now)]
        for r in sorted(recipients, key=lambda r: r.seq):
            args += [r.seq, dump_json([r.touser, r.data])]
        answer = self._script("append", APPEND)(keys=[key, f"{key}:r", f"{key}:staged"], args=args)
        status = answer[0] or None
        stored = []
        for seq, raw in zip(answer[1::2], answer[2::2]):
            touser, data = json.loads(raw)
            stored.append(Recipient(int(seq), touser, data))
        return status, stored

    def start(self, appid: str, broadcast_id: str, now: float) -> bool:
        key = self._keys.campaign(appid, broadcast_id)
        keys = [key, f"{key}:staged", self._keys.queue(appid)]
        script = self._script("start", START)
        while True:
            step = int(script(keys=keys, args=[broadcast_id, repr(now), START_PAGE])[0])
            if step != 1:
                return step == 2
