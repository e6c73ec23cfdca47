"""The redis backend: every seam on one Redis server (redis-py, imported only when opened).

URL: ``redis://[:password@]host:port/db``, ``rediss://…`` (TLS) or ``unix:///path.sock?db=N``;
redis-py's own query options pass through, and ``?prefix=name`` changes the key prefix
(``wxapush`` by default; the key layout is in ``keys.py``). One standalone or primary/replica
server: the send-log scripts touch several keys of one record at once, which a cluster would
spread across shards.

Tokens and locks follow the single-flight design: a token record with a TTL, a lock with an
owner and an expiry that only its owner releases. Every multi-key write is a Lua script, so a
claim, its idempotency key and its indexes are written together or not at all.
"""

from __future__ import annotations

import re
from typing import Any, Optional

import redis

from wxapush.store.base import SchemaBehindError, StoreURLError
from wxapush.store.connections import SharedHandles, pop_url_option
from wxapush.store.redis.campaigns import RedisCampaignQueue, RedisCounters
from wxapush.store.redis.keys import DEFAULT_PREFIX, Keys
from wxapush.store.redis.ledgers import (
    RedisChoiceLedger,
    RedisEventLog,
    RedisGrantLedger,
    RedisRateLimiter,
    RedisTemplateRegistry,
    RedisTokenCache,
)
from wxapush.store.redis.rollups import RedisRollups
from wxapush.store.redis.send_log import RedisSendLog
from wxapush.store.schema_state import SchemaState, readable

#: The key layout's version (``keys.py``), in the hash ``<prefix>:schema``. A deployment made
#: before the hash existed has the layout of version 1: its first open records it.
SCHEMA_VERSION = 1
#: The oldest layout version whose code may use keys at SCHEMA_VERSION (see schema_state).
READABLE_FROM = SCHEMA_VERSION

_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _connect(url: str) -> Any:
    # Short timeouts: a function has seconds to live; a stuck socket must fail, not hang.
    # health_check_interval re-pings a connection idle since the instance was frozen.
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=3,
        socket_timeout=5,
        health_check_interval=30,
    )


_clients: SharedHandles[Any] = SharedHandles(_connect, lambda client: client.close())


class RedisStore:
    """Every seam on one Redis database. Open it with ``open_store("redis://…")``."""

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX, migrate: bool = True) -> None:
        self._url = url
        self._closed = False
        self.client = _clients.acquire(url)
        self.keys = Keys(prefix)
        try:
            _check_schema(self.client, self.keys, migrate)
        except BaseException:
            _clients.release(url)
            raise
        self.tokens = RedisTokenCache(self.client, self.keys)
        self.log = RedisSendLog(self.client, self.keys)
        self.grants = RedisGrantLedger(self.client, self.keys)
        self.templates = RedisTemplateRegistry(self.client, self.keys)
        self.events = RedisEventLog(self.client, self.keys)
        self.choices = RedisChoiceLedger(self.client, self.keys)
        self.limiter = RedisRateLimiter(self.client, self.keys)
        self.campaigns = RedisCampaignQueue(self.client, self.keys)
        self.counters = RedisCounters(self.client, self.keys)
        self.rollups = RedisRollups(self.client, self.keys.prefix)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _clients.release(self._url)

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self.keys.prefix!r})"  # never the URL: it may hold a password


def _versions(client: Any, keys: Keys) -> tuple[Optional[int], Optional[int]]:
    version, readable_from = client.hmget(keys.schema, "version", "readable_from")
    return (
        None if version is None else int(version),
        None if readable_from is None else int(readable_from),
    )


def _where(keys: Keys) -> str:
    return f"the {keys.prefix}:* keys"


def _check_schema(client: Any, keys: Keys, migrate: bool) -> None:
    """Refuse a newer release's layout; record version 1 on a store that has none yet."""
    version, readable_from = _versions(client, keys)
    if version is not None:
        readable(_where(keys), version, readable_from, SCHEMA_VERSION)
        return
    if not migrate:
        raise SchemaBehindError(_where(keys), None, SCHEMA_VERSION)
    if client.hsetnx(keys.schema, "version", SCHEMA_VERSION) and READABLE_FROM < SCHEMA_VERSION:
        client.hset(keys.schema, "readable_from", READABLE_FROM)


def _split(url: str) -> tuple[str, str]:
    url, prefix = pop_url_option(url, "prefix")
    if prefix is not None and not _PREFIX.match(prefix):
        raise StoreURLError("the redis prefix must be 1-64 characters of A-Z a-z 0-9 _ . -")
    return url, prefix or DEFAULT_PREFIX


def open_url(url: str, migrate: bool = True) -> RedisStore:
    """Open the store a ``redis://``, ``rediss://`` or ``unix://`` URL names
    (``migrate=False``: refuse a store whose schema is not recorded yet)."""
    return RedisStore(*_split(url), migrate=migrate)


def schema_state(url: str, apply: bool = False) -> SchemaState:
    """The layout's version (``wxapush migrate``); ``apply`` records it on a new store."""
    bare, prefix = _split(url)
    keys = Keys(prefix)
    client = _clients.acquire(bare)
    try:
        if apply:
            _check_schema(client, keys, True)
        version, readable_from = _versions(client, keys)
    finally:
        _clients.release(bare)
    pending = ("record the key layout's version 1",) if version is None else ()
    return SchemaState("redis", _where(keys), version, SCHEMA_VERSION, pending, readable_from)
