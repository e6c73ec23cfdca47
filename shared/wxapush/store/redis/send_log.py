"""SendLog on Redis: a hash per record, sorted-set indexes, every write one Lua script."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from wxapush.store.base import LOG_FIELDS, GrantKey, LogPage, LogQuery, LogRecord, LogSummary
from wxapush.store.common import (
    check_changes,
    check_conditions,
    check_query,
    check_record,
    dump_json,
)
from wxapush.store.redis import lua
from wxapush.store.redis.keys import Keys
from wxapush.store.redis.rollups import RedisRollups

_FLOATS = frozenset({"created_at", "updated_at"})
_INTS = frozenset({"errcode", "msgid", "attempts"})
_BATCH = 500  # records per prune script: each blocks the server for its whole run


def _encode(name: str, value: Any) -> str:
    if name == "data":
        return dump_json(value)
    if name in _FLOATS:
        return repr(float(value))  # repr round-trips a float exactly; scores parse it back
    if name in _INTS:
        return str(int(value))
    return str(value)


def _decode(flat: Sequence[str]) -> LogRecord:
    raw = dict(zip(flat[::2], flat[1::2]))
    values: Dict[str, Any] = {}
    for name in LOG_FIELDS:
        value = raw.get(name)
        if value is None:
            values[name] = None
        elif name == "data":
            values[name] = json.loads(value)
        elif name in _FLOATS:
            values[name] = float(value)
        elif name in _INTS:
            values[name] = int(value)
        else:
            values[name] = value
    return LogRecord(**values)


class RedisSendLog:
    """SendLog: claims, updates and prunes keep the record and its indexes in step atomically."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self._r = client
        self._keys = keys
        self._claim = client.register_script(lua.CLAIM)
        self._update = client.register_script(lua.UPDATE)
        self._query = client.register_script(lua.QUERY)
        self._find = client.register_script(lua.FIND_MSGID)
        self._prune = client.register_script(lua.PRUNE)
        self._expire = client.register_script(lua.EXPIRE_KEYS)
        self._rollups = RedisRollups(client, keys.prefix)

    def claim(self, record: LogRecord) -> Tuple[LogRecord, bool]:
        check_record(record)
        args: List[str] = [self._keys.prefix, record.log_id]
        for name in LOG_FIELDS:
            value = getattr(record, name)
            if value is not None:
                args += [name, _encode(name, value)]
        answer = self._claim(keys=[], args=args)
        if answer[0] == 1:
            return record, True
        return _decode(answer[1]), False

    def update(
        self,
        log_id: str,
        *,
        use_grant: Optional[GrantKey] = None,
        only_if: Optional[Mapping[str, Any]] = None,
        **changes: Any,
    ) -> bool:
        check_changes(changes)
        conditions = check_conditions(only_if)
        sets = sorted(name for name, value in changes.items() if value is not None)
        dels = sorted(name for name, value in changes.items() if value is None)
        keys: List[str] = []
        grant = ""
        if use_grant is not None:
            keys = [self._keys.grants(use_grant.appid, use_grant.openid)]
            grant = use_grant.template_id
        args = [self._keys.prefix, log_id, str(len(sets)), grant, str(len(conditions))]
        for name in sets:
            args += [name, _encode(name, changes[name])]
        for name in sorted(conditions):
            args += [name, _encode(name, conditions[name])]
        answer = self._update(keys=keys, args=args + dels)
        if answer == 0:
            raise KeyError(log_id)
        if answer == -1:
            raise ValueError("idempotency_key is held by another record")
        return bool(answer != -2)  # -2: there, but no longer as the caller expected

    def get(self, log_id: str) -> Optional[LogRecord]:
        flat = self._r.hgetall(self._keys.record(log_id))
        return _decode([x for pair in flat.items() for x in pair]) if flat else None

    def find_by_msgid(self, appid: str, msgid: int) -> Optional[LogRecord]:
        flat = self._find(keys=[], args=[self._keys.prefix, self._keys.msgid(appid, msgid)])
        return _decode(flat) if flat else None

    def query(self, q: LogQuery) -> LogPage:
        """Totals are always exact: ZCOUNT on the sorted-set index costs O(log n)."""
        check_query(q)
        if q.broadcast_id is not None and (q.touser is not None or q.template_id is not None):
            return self._filtered(q)
        index = self._keys.index(q.appid, q.touser, q.template_id, q.status, q.broadcast_id)
        args = [self._keys.prefix, index, repr(float(q.since)), repr(float(q.until))]
        errcode = [] if q.errcode is None else [str(q.errcode)]
        answer = self._query(keys=[], args=[*args, str(q.offset), str(q.count), *errcode])
        return LogPage(int(answer[0]), [_decode(flat) for flat in answer[1:]])

    def _filtered(self, q: LogQuery) -> LogPage:
        """A broadcast with a user or template filter: no index holds both, so read the
        user's (or the campaign's) records and filter them here — a campaign sends a user one
        message and has one template, so the set read stays small or is the answer itself."""
        if q.touser is not None:
            wide = replace(q, broadcast_id=None, offset=0, count=10**9)
            keep = q.broadcast_id
        else:
            wide = replace(q, template_id=None, offset=0, count=10**9)
            keep = None
        matching = [
            r
            for r in self.query(wide).records
            if (keep is None or r.broadcast_id == keep)
            and (q.template_id is None or r.template_id == q.template_id)
        ]
        return LogPage(len(matching), matching[q.offset : q.offset + q.count])

    def summarize(self, appid: str, bounds: Sequence[float]) -> LogSummary:
        # the quarter counters, summed per closed bucket where refresh_code did (rollups.py)
        return self._rollups.summarize(appid, bounds)

    def prune(self, older_than: float) -> int:
        return self._batched(self._prune, older_than)

    def expire_idempotency(self, older_than: float) -> int:
        return self._batched(self._expire, older_than)

    def _batched(self, script: Any, older_than: float) -> int:
        done = 0
        while True:
            count = int(script(keys=[], args=[self._keys.prefix, repr(float(older_than)), _BATCH]))
            done += count
            if count < _BATCH:
                return done
