"""SendLog on SQL: one table; its unique (appid, idempotency_key) makes claims atomic."""

from __future__ import annotations

import json
import time
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

from wxapush.store.base import LOG_FIELDS, GrantKey, LogPage, LogQuery, LogRecord, LogSummary
from wxapush.store.common import (
    check_changes,
    check_conditions,
    check_query,
    check_record,
    dump_json,
    msgid_from_i64,
    msgid_to_i64,
)
from wxapush.store.sql.dialects import autocommit, insert_ignore, placeholders, transaction
from wxapush.store.sql.pool import Connection, Pool
from wxapush.store.sql.rollups import SqlRollups
from wxapush.store.sql.schema import Tables

_BATCH = 1000  # rows per prune transaction, so sends are never blocked for long
_NEWEST_FIRST = " ORDER BY created_at DESC, log_id DESC"
_FILTERS = ("touser", "template_id", "status", "errcode", "broadcast_id")


def _encode(name: str, value: Any) -> Any:
    if name == "data":
        return dump_json(value)
    if name == "msgid":
        return msgid_to_i64(value)
    return value


def _decode(row: Sequence[Any]) -> LogRecord:
    values = dict(zip(LOG_FIELDS, row))
    values["data"] = json.loads(values["data"])
    values["msgid"] = msgid_from_i64(values["msgid"])
    return LogRecord(**values)


class SqlSendLog:
    """SendLog: insert-or-ignore claims, one-statement updates, index-backed pages."""

    def __init__(self, pool: Pool, tables: Tables) -> None:
        self._pool = pool
        self._t = tables.send_log
        self._grants = tables.grants
        self._select = f"SELECT {', '.join(LOG_FIELDS)} FROM {self._t}"
        self._rollups = SqlRollups(pool, tables)

    def claim(self, record: LogRecord) -> Tuple[LogRecord, bool]:
        check_record(record)
        row = {name: _encode(name, getattr(record, name)) for name in LOG_FIELDS}
        # Insert first and look only on conflict. A second pass covers a key freed (by
        # expire_idempotency or a failed send) between our insert and our look.
        for _ in range(3):
            if autocommit(self._pool, lambda conn: insert_ignore(conn, self._t, row)):
                return record, True
            if record.idempotency_key is None:
                break
            found = self._one(
                " WHERE appid = %s AND idempotency_key = %s",
                [record.appid, record.idempotency_key],
            )
            if found is not None:
                return found, False
        raise ValueError(f"log_id {record.log_id!r} already exists")

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
        if not changes:
            if self.get(log_id) is None:
                raise KeyError(log_id)
            return True
        sets = ", ".join(f"{name} = %s" for name in changes)
        params = [_encode(name, value) for name, value in changes.items()]
        sql = f"UPDATE {self._t} SET {sets} WHERE log_id = %s"
        sql += "".join(f" AND {name} = %s" for name in conditions)
        grant = use_grant if "status" in changes else None

        def work(conn: Connection) -> int:
            old = None
            if grant is not None:  # taken with a change of status: a repeat takes none
                locked = f"SELECT status FROM {self._t} WHERE log_id = %s FOR UPDATE"
                old = conn.scalar(locked, [log_id])
                if old is None:
                    return 0
            # the row count counts matched rows, on MySQL too (the pool sets CLIENT_FOUND_ROWS)
            found = conn.execute(sql, [*params, log_id, *conditions.values()])
            if grant is not None and found and old != changes["status"]:
                self._use(conn, grant)  # the grant it used: the same commit
            return found

        # one statement, in autocommit, unless the grant it used is taken in the same commit
        if (autocommit if grant is None else transaction)(self._pool, work) > 0:
            return True
        if conditions and self.get(log_id) is not None:
            return False  # there, but no longer as the caller expected
        raise KeyError(log_id)

    def get(self, log_id: str) -> Optional[LogRecord]:
        return self._one(" WHERE log_id = %s", [log_id])

    def find_by_msgid(self, appid: str, msgid: int) -> Optional[LogRecord]:
        where = " WHERE appid = %s AND msgid = %s" + _NEWEST_FIRST + " LIMIT 1"
        return self._one(where, [appid, msgid_to_i64(msgid)])

    def query(self, q: LogQuery) -> LogPage:
        check_query(q)
        where = " WHERE appid = %s AND created_at >= %s AND created_at < %s"
        params: List[Any] = [q.appid, q.since, q.until]
        for column in _FILTERS:
            value = getattr(q, column)
            if value is not None:
                where += f" AND {column} = %s"
                params.append(value)
        rows: List[Tuple[Any, ...]] = []
        # One REPEATABLE READ transaction: the total and the page come from the same snapshot.
        with self._pool.begin("REPEATABLE READ") as conn:
            # Counting stops past the bound (a lower bound then): the same cost at any size.
            counted = f"SELECT COUNT(*) FROM (SELECT log_id FROM {self._t}{where} LIMIT %s) AS m"
            total = int(conn.scalar(counted, [*params, q.exact_up_to + 1]))
            exact = total <= q.exact_up_to
            if q.count and (q.offset < total or not exact):
                page = self._select + where + _NEWEST_FIRST + " LIMIT %s OFFSET %s"
                rows = conn.rows(page, [*params, q.count, q.offset])
        return LogPage(total, [_decode(row) for row in rows], exact)

    def summarize(self, appid: str, bounds: Sequence[float]) -> LogSummary:
        # the closed periods from their rollups, the rest counted live (rollups.py)
        return self._rollups.summarize(appid, bounds)

    def prune(self, older_than: float) -> int:
        return self._batched(
            "created_at < %s",
            older_than,
            lambda ids: f"DELETE FROM {self._t} WHERE log_id IN ({placeholders(len(ids))})",
        )

    def expire_idempotency(self, older_than: float) -> int:
        return self._batched(
            "idempotency_key IS NOT NULL AND created_at < %s",
            older_than,
            lambda ids: (
                f"UPDATE {self._t} SET idempotency_key = NULL"
                f" WHERE log_id IN ({placeholders(len(ids))}) AND idempotency_key IS NOT NULL"
            ),
        )

    def _batched(self, where: str, older_than: float, change: Callable[[List[str]], str]) -> int:
        # Select a batch, then change it by primary key: portable (MySQL allows no LIMIT in
        # an IN subquery, PostgreSQL no LIMIT on DELETE) and short transactions.
        pick = f"SELECT log_id FROM {self._t} WHERE {where} LIMIT {_BATCH}"

        def batch(conn: Connection) -> Tuple[int, int]:
            ids = [str(row[0]) for row in conn.rows(pick, [older_than])]
            return len(ids), (conn.execute(change(ids), ids) if ids else 0)

        done = 0
        while True:
            picked, changed = transaction(self._pool, batch)
            done += changed
            if picked < _BATCH:
                return done

    def _use(self, conn: Connection, key: GrantKey) -> None:
        conn.execute(
            f"UPDATE {self._grants} SET balance = balance - 1, updated_at = %s"
            " WHERE appid = %s AND openid = %s AND template_id = %s AND balance > 0",
            [time.time(), key.appid, key.openid, key.template_id],
        )

    def _one(self, where: str, params: Sequence[Any]) -> Optional[LogRecord]:
        with self._pool.connection() as conn:
            row = conn.first(self._select + where, params)
        return None if row is None else _decode(row)
