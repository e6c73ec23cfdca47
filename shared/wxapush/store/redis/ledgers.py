"""TokenCache, GrantLedger, TemplateRegistry, EventLog, ChoiceLedger and RateLimiter on Redis."""

from __future__ import annotations

import json
import math
import time
from typing import Any, List, Optional, Sequence

from wxapush.store.base import Change, TemplateInfo, TokenRecord
from wxapush.store.choice_seams import check_changes
from wxapush.store.common import check_bucket, dump_json, template_from_json, template_to_json
from wxapush.store.redis import lua
from wxapush.store.redis.keys import Keys

#: How long a token record outlives its expiry: TokenCache may return expired records, and a
#: day is enough for every instance to notice and refetch.
TOKEN_GRACE = 86400


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisTokenCache:
    """TokenCache: one JSON string per token (record and TTL in one SET); SET NX PX locks."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self._r = client
        self._keys = keys
        self._invalidate = client.register_script(lua.INVALIDATE_TOKEN)
        self._release = client.register_script(lua.RELEASE_LOCK)

    def get_token(self, key: str) -> Optional[TokenRecord]:
        raw = self._r.get(self._keys.token(key))
        if raw is None:
            return None
        fields = json.loads(raw)
        return TokenRecord(fields["token"], fields["expires_at"], fields["fetched_at"])

    def put_token(self, key: str, record: TokenRecord) -> None:
        value = {
            "token": record.token,
            "expires_at": record.expires_at,
            "fetched_at": record.fetched_at,
        }
        ttl = max(0.0, record.expires_at - time.time()) + TOKEN_GRACE
        self._r.set(self._keys.token(key), dump_json(value), ex=math.ceil(ttl))

    def invalidate_token(self, key: str, token: str) -> bool:
        return bool(self._invalidate(keys=[self._keys.token(key)], args=[token]))

    def prune_tokens(self, prefix: str, expired_before: float) -> int:
        # Each record is a key with a TTL (put_token): Redis drops it TOKEN_GRACE after its
        # expiry, where finding the expired ones would SCAN the whole keyspace.
        return 0

    def acquire_lock(self, name: str, owner: str, ttl: float) -> bool:
        return bool(self._r.set(self._keys.lock(name), owner, nx=True, px=_ms(ttl)))

    def release_lock(self, name: str, owner: str) -> bool:
        return bool(self._release(keys=[self._keys.lock(name)], args=[owner]))


class RedisGrantLedger:
    """GrantLedger: a hash per (appid, openid), a field per template; HINCRBY and a Lua take."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self._r = client
        self._keys = keys
        self._consume = client.register_script(lua.CONSUME_GRANT)

    def grant(self, appid: str, openid: str, template_id: str, count: int = 1) -> int:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        return int(self._r.hincrby(self._keys.grants(appid, openid), template_id, count))

    def revoke(self, appid: str, openid: str, template_id: str) -> None:
        self._r.hset(self._keys.grants(appid, openid), template_id, 0)

    def consume(self, appid: str, openid: str, template_id: str) -> bool:
        return bool(self._consume(keys=[self._keys.grants(appid, openid)], args=[template_id]))

    def balance(self, appid: str, openid: str, template_id: str) -> Optional[int]:
        value = self._r.hget(self._keys.grants(appid, openid), template_id)
        return None if value is None else int(value)

    def holders(self, appid: str, template_id: str) -> List[str]:
        # One hash per user: SCAN walks the app's (O(users), in pages that never block).
        prefix = self._keys.grants(appid, "")
        found = []
        for key in self._r.scan_iter(match=f"{_glob(prefix)}*", count=1000):
            value = self._r.hget(key, template_id)
            if value is not None and int(value) > 0:
                found.append(_unesc(key[len(prefix) :]))
        return sorted(found)


def _glob(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]\\" else c for c in text)


def _unesc(value: str) -> str:
    return value.replace("%3A", ":").replace("%25", "%")


class RedisTemplateRegistry:
    """TemplateRegistry: a hash per app, swapped with its sync time in one MULTI/EXEC."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self._r = client
        self._keys = keys

    def replace_templates(
        self, appid: str, templates: Sequence[TemplateInfo], synced_at: float
    ) -> None:
        key = self._keys.templates(appid)
        fields = {
            t.template_id: dump_json([i, t.title, t.type, *template_to_json(t), t.content])
            for i, t in enumerate(templates)
        }
        with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if fields:
                pipe.hset(key, mapping=fields)
            pipe.set(f"{key}:synced", repr(float(synced_at)))
            pipe.execute()

    def get_template(self, appid: str, template_id: str) -> Optional[TemplateInfo]:
        raw = self._r.hget(self._keys.templates(appid), template_id)
        return None if raw is None else _template(template_id, raw)

    def list_templates(self, appid: str) -> List[TemplateInfo]:
        found = self._r.hgetall(self._keys.templates(appid))
        ordered = sorted((json.loads(raw)[0], tid, raw) for tid, raw in found.items())
        return [_template(tid, raw) for _, tid, raw in ordered]

    def synced_at(self, appid: str) -> Optional[float]:
        raw = self._r.get(f"{self._keys.templates(appid)}:synced")
        return None if raw is None else float(raw)


def _template(template_id: str, raw: str) -> TemplateInfo:
    _, title, type_, keywords, enum_values, content = json.loads(raw)
    return template_from_json(template_id, title, type_, keywords, enum_values, content)


class RedisEventLog:
    """EventLog: SET NX PX per key, plus a sorted set of window ends so ``prune`` can find them."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self._r = client
        self._keys = keys
        self._first = client.register_script(lua.FIRST_SEEN)
        self._prune = client.register_script(lua.PRUNE_EVENTS)

    def first_seen(self, key: str, ttl: float) -> bool:
        ends = repr(time.time() + ttl)
        keys = [self._keys.event(key), self._keys.events]
        return bool(self._first(keys=keys, args=[_ms(ttl), ends]))

    def forget(self, key: str) -> None:
        name = self._keys.event(key)
        with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(name)
            pipe.zrem(self._keys.events, name)
            pipe.execute()

    def prune(self, now: float) -> int:
        done = 0
        while True:
            count = int(self._prune(keys=[self._keys.events], args=[repr(float(now)), 1000]))
            done += count
            if count < 1000:
                return done


class RedisChoiceLedger:
    """ChoiceLedger: the event's claim and the ledger's writes in one script (one round trip).

    The script writes all or nothing, so a failure needs no ``forget``: an error reply wrote
    nothing, and after a lost reply the claim stands if and only if the changes were applied —
    WeChat's retry (or redis-py's) finds them done, or applies them. Exactly once, where the
    two round trips of ``ComposedChoiceLedger`` may apply a change twice after a lost reply.
    """

    def __init__(self, client: Any, keys: Keys) -> None:
        self._keys = keys
        self._record = client.register_script(lua.RECORD_CHOICES)

    def record_once(
        self, event: str, ttl: float, appid: str, openid: str, changes: Sequence[Change]
    ) -> bool:
        check_changes(changes)
        keys = [self._keys.event(event), self._keys.events, self._keys.grants(appid, openid)]
        args: List[Any] = [_ms(ttl), repr(time.time() + ttl)]
        for template_id, change in changes:
            args += (template_id, change)
        return bool(self._record(keys=keys, args=args))


class RedisRateLimiter:
    """RateLimiter: GCRA in one Lua script on the server's clock (see base.bucket_step)."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self._keys = keys
        self._acquire = client.register_script(lua.ACQUIRE)

    def acquire(self, key: str, rate: float, burst: int = 1, max_wait: float = 0.0) -> float:
        check_bucket(rate, burst, max_wait)
        interval = max(1, int(1_000_000 / rate + 0.5))
        args = [interval, burst, int(min(max_wait, 1e9) * 1_000_000)]
        return int(self._acquire(keys=[self._keys.rate(key)], args=args)) / 1_000_000

    def prune(self, now: float) -> int:
        return 0  # each bucket's key expires once the bucket is at rest (PX)
