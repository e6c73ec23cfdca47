"""CampaignQueue and Counters on Redis: a Stream per app, one consumer group, Lua for each step.

Recipients are stream entries read with ``XREADGROUP``; an entry delivered and not yet
acknowledged is a lease, taken over with ``XAUTOCLAIM`` once idle past the lease and settled
with ``XACK``. Outcomes and counts live in the campaign's hashes, written in the same script as
the acknowledgement, so a recipient is counted once however often its entry is delivered.
Key names are in ``keys.py``; the scripts in ``campaign_lua.py``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence, Tuple

from wxapush.store.base import Campaign, Lease, Recipient
from wxapush.store.campaign_seams import settled_groups
from wxapush.store.common import dump_json
from wxapush.store.redis import campaign_lua as lua
from wxapush.store.redis.campaign_chunks import RedisCampaignChunks
from wxapush.store.redis.keys import Keys

_HEAD = ("template_id", "page", "data", "miniprogram_state", "lang", "created_at")


class RedisCampaignQueue(RedisCampaignChunks):
    """CampaignQueue on one Redis database (see the module docstring)."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self._r = client
        self._keys = keys
        self._create = client.register_script(lua.CREATE)
        self._lease = client.register_script(lua.LEASE)
        self._settle = client.register_script(lua.SETTLE)
        self._dispatch = client.register_script(lua.DISPATCH)
        self._defer = client.register_script(lua.DEFER)
        self._cancel = client.register_script(lua.CANCEL)

    def create(self, campaign: Campaign, recipients: Sequence[Recipient]) -> Tuple[Campaign, bool]:
        c = campaign
        head = {name: getattr(c, name) for name in _HEAD}
        head["request_hash"] = c.request_hash
        key = self._keys.campaign(c.appid, c.broadcast_id)
        if c.status == "open":  # its recipients come by append (campaign_chunks)
            if self._create_open(c, dump_json(head)):
                return campaign, True
            return self._found(c), False
        ordered = sorted(recipients, key=lambda r: r.seq)
        if [r.seq for r in ordered] != list(range(len(ordered))):
            raise ValueError("recipients must be numbered 0, 1, 2, …")
        args: List[Any] = [c.broadcast_id, dump_json(head), c.total, repr(c.updated_at)]
        args += [dump_json([r.touser, r.data]) for r in ordered]
        keys = [key, f"{key}:r", self._keys.queue(c.appid)]
        if self._create(keys=keys, args=args)[0] == 1:
            return campaign, True
        return self._found(c), False

    def _found(self, c: Campaign) -> Campaign:
        found = self.get(c.appid, c.broadcast_id)
        if found is None:  # pragma: no cover - a campaign is never deleted
            raise RuntimeError("campaign vanished")
        return found

    def get(self, appid: str, broadcast_id: str) -> Optional[Campaign]:
        raw = self._r.hmget(
            self._keys.campaign(appid, broadcast_id), "head", "status", "total", "updated"
        )
        if raw[0] is None:
            return None
        head = json.loads(raw[0])
        return Campaign(
            broadcast_id=broadcast_id,
            appid=appid,
            template_id=head["template_id"],
            page=head["page"],
            data=head["data"],
            miniprogram_state=head["miniprogram_state"],
            lang=head["lang"],
            status=raw[1],
            total=int(raw[2]),
            created_at=float(head["created_at"]),
            updated_at=float(raw[3]),
            request_hash=head["request_hash"],
        )

    def lease(self, appid: str, owner: str, now: float, seconds: float, limit: int) -> List[Lease]:
        keys = [self._keys.queue(appid), f"{self._keys.queue(appid)}:later"]
        args = [self._keys.app(appid), repr(now), owner, int(seconds * 1000), limit]
        leases = []
        for entry_id, bid, seq, raw, attempts in self._lease(keys=keys, args=args):
            touser, data = json.loads(raw)
            leases.append(Lease(bid, int(seq), touser, data, int(attempts), token=entry_id))
        return leases

    def settle(
        self, appid: str, owner: str, outcomes: Sequence[Tuple[Lease, str]], now: float
    ) -> Dict[str, int]:
        settled_groups(outcomes)  # refuses an unknown outcome before anything is written
        queue = self._keys.queue(appid)
        pipe = self._r.pipeline(transaction=False)  # one round trip; a script per recipient
        for lease, outcome in outcomes:
            keys = [queue, self._keys.campaign(appid, lease.broadcast_id)]
            args = [lease.token, owner, lease.seq, outcome, repr(now)]
            self._settle(keys=keys, args=args, client=pipe)
        recorded: Counter[str] = Counter()
        for (_, outcome), answer in zip(outcomes, pipe.execute() if outcomes else []):
            recorded[outcome] += int(answer)
        return {outcome: n for outcome, n in recorded.items() if n}

    def dispatch(self, appid: str, broadcast_id: str, log_id: str, now: float) -> str:
        keys = [self._keys.campaign(appid, broadcast_id), self._keys.record(log_id)]
        answer = self._dispatch(keys=keys, args=[repr(now)])
        return {1: "marked", 0: "lost", -1: "cancelled"}[int(answer)]

    def defer(
        self, appid: str, lease: Lease, owner: str, until: float, *, retry: bool = False
    ) -> bool:
        queue = self._keys.queue(appid)
        keys = [queue, self._keys.campaign(appid, lease.broadcast_id), f"{queue}:later"]
        args = [lease.token, owner, lease.seq, repr(until), "1" if retry else "0"]
        return bool(self._defer(keys=keys, args=[*args, lease.broadcast_id]))

    def cancel(self, appid: str, broadcast_id: str, now: float) -> bool:
        key = self._keys.campaign(appid, broadcast_id)
        return bool(self._cancel(keys=[key, f"{key}:staged"], args=[repr(now)]))

    def counts(self, appid: str, broadcast_id: str) -> Dict[str, int]:
        raw = self._r.hgetall(self._keys.campaign(appid, broadcast_id))
        if not raw:
            return {}
        counts = {
            name[2:]: int(value)
            for name, value in raw.items()
            if name.startswith("n:") and int(value) > 0
        }
        queued = int(raw["total"]) - int(raw.get("final", 0)) - counts.get("deferred", 0)
        # Cancelled: what has no outcome yet (not drained from the stream, or staged in an open
        # campaign and dropped) never will be sent.
        if raw.get("status") == "cancelled":
            left = queued + counts.pop("deferred", 0)
            counts["cancelled"] = counts.get("cancelled", 0) + left
            queued = 0
        if queued > 0:
            counts["queued"] = queued
        return {k: v for k, v in counts.items() if v > 0}


class RedisCounters:
    """Counters: a string per key with a TTL from its first take."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self._keys = keys
        self._take = client.register_script(lua.TAKE)
        self._give_back = client.register_script(lua.GIVE_BACK)

    def take(self, key: str, limit: int, ttl: float) -> bool:
        args = [limit, max(1, int(ttl * 1000))]
        return bool(self._take(keys=[self._keys.counter(key)], args=args))

    def give_back(self, key: str) -> None:
        self._give_back(keys=[self._keys.counter(key)])

    def prune(self, now: float) -> int:
        return 0  # each counter is a key with a TTL: Redis expires it
