"""SendLog on SQLite: one table; its unique (appid, idempotency_key) index makes claims atomic."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, List, Mapping, Optional, Sequence, Tuple

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
from wxapush.store.sqlite.database import Database
from wxapush.store.sqlite.ledgers import consume_grant
from wxapush.store.sqlite.summary import summarize

_COLS = ", ".join(LOG_FIELDS)
_INSERT_LOG = f"INSERT INTO send_log ({_COLS}) VALUES ({', '.join('?' * len(LOG_FIELDS))})"
_SELECT_LOG = f"SELECT {_COLS} FROM send_log"
_NEWEST_FIRST = "ORDER BY created_at DESC, log_id DESC"
_BATCH = 2000  # rows per prune transaction, so sends are never blocked for long


def _to_row(record: LogRecord) -> Tuple[Any, ...]:
    return tuple(_encode(name, getattr(record, name)) for name in LOG_FIELDS)


def _encode(name: str, value: Any) -> Any:
    if name == "data":
        return dump_json(value)
    if name == "msgid":
        return msgid_to_i64(value)
    return value


def _from_row(row: Sequence[Any]) -> LogRecord:
    values = dict(zip(LOG_FIELDS, row))
    values["data"] = json.loads(values["data"])
    values["msgid"] = msgid_from_i64(values["msgid"])
    return LogRecord(**values)


class SqliteSendLog:
    """SendLog: one table; its unique (appid, idempotency_key) index makes claims atomic."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def claim(self, record: LogRecord) -> Tuple[LogRecord, bool]:
        check_record(record)
        row = _to_row(record)
        # Insert first and look only on conflict: the common path is one auto-committed
        # statement. A second pass covers a key freed by expire_idempotency in between.
        for _ in range(3):
            with self._db.connection() as conn:
                try:
                    conn.execute(_INSERT_LOG, row)
                    return record, True
                except sqlite3.IntegrityError:
                    if record.idempotency_key is None:
                        raise
                    found = conn.execute(
                        f"{_SELECT_LOG} WHERE appid = ? AND idempotency_key = ?",
                        (record.appid, record.idempotency_key),
                    ).fetchone()
            if found is not None:
                return _from_row(found), False
        raise sqlite3.IntegrityError(f"log_id {record.log_id!r} already exists")

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
        names = sorted(changes)  # a stable statement text, so the statement cache reuses it
        assignments = ", ".join(f"{name} = ?" for name in names)
        params = [_encode(name, changes[name]) for name in names]
        sql = f"UPDATE send_log SET {assignments} WHERE log_id = ?"
        sql += "".join(f" AND {name} = ?" for name in sorted(conditions))
        where = (log_id, *(conditions[name] for name in sorted(conditions)))
        if use_grant is None or "status" not in changes:  # one auto-committed statement
            with self._db.connection() as conn:
                if conn.execute(sql, (*params, *where)).rowcount > 0:
                    return True
            if conditions and self.get(log_id) is not None:
                return False  # there, but no longer as the caller expected
            raise KeyError(log_id)
        with self._db.write() as conn:  # the outcome and the grant it used: one commit
            old = conn.execute("SELECT status FROM send_log WHERE log_id = ?", (log_id,)).fetchone()
            if old is None:
                raise KeyError(log_id)
            if conn.execute(sql, (*params, *where)).rowcount == 0:
                return False
            if old[0] != changes["status"]:  # taken with a change of status: a repeat takes none
                consume_grant(conn, use_grant)
            return True

    def get(self, log_id: str) -> Optional[LogRecord]:
        with self._db.connection() as conn:
            row = conn.execute(f"{_SELECT_LOG} WHERE log_id = ?", (log_id,)).fetchone()
        return None if row is None else _from_row(row)

    def find_by_msgid(self, appid: str, msgid: int) -> Optional[LogRecord]:
        with self._db.connection() as conn:
            row = conn.execute(
                # INDEXED BY: without statistics the planner would walk send_log_time instead
                f"{_SELECT_LOG} INDEXED BY send_log_msgid WHERE appid = ? AND msgid = ?"
                f" {_NEWEST_FIRST} LIMIT 1",
                (appid, msgid_to_i64(msgid)),
            ).fetchone()
        return None if row is None else _from_row(row)

    def query(self, q: LogQuery) -> LogPage:
        check_query(q)
        where = ["appid = ?", "created_at >= ?", "created_at < ?"]
        params: List[Any] = [q.appid, q.since, q.until]
        for column in ("touser", "template_id", "status", "errcode", "broadcast_id"):
            value = getattr(q, column)
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        condition = " AND ".join(where)
        rows: List[Any] = []
        with self._db.snapshot() as conn:  # total and page from the same state
            # Counting stops past the bound: the same cost at any size of log.
            total = conn.execute(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM send_log WHERE {condition} LIMIT ?)",
                (*params, q.exact_up_to + 1),
            ).fetchone()[0]
            exact = total <= q.exact_up_to
            if q.count and (q.offset < total or not exact):
                rows = conn.execute(
                    f"{_SELECT_LOG} WHERE {condition} {_NEWEST_FIRST} LIMIT ? OFFSET ?",
                    (*params, q.count, q.offset),
                ).fetchall()
        return LogPage(total, [_from_row(row) for row in rows], exact)

    def summarize(self, appid: str, bounds: Sequence[float]) -> LogSummary:
        return summarize(self._db, appid, bounds)

    def prune(self, older_than: float) -> int:
        return self._batched(
            "DELETE FROM send_log WHERE rowid IN"
            " (SELECT rowid FROM send_log WHERE created_at < ? LIMIT ?)",
            older_than,
        )

    def expire_idempotency(self, older_than: float) -> int:
        return self._batched(
            "UPDATE send_log SET idempotency_key = NULL WHERE rowid IN (SELECT rowid FROM"
            " send_log WHERE created_at < ? AND idempotency_key IS NOT NULL LIMIT ?)",
            older_than,
        )

    def _batched(self, sql: str, older_than: float) -> int:
        done = 0
        while True:
            with self._db.connection() as conn:
                count = conn.execute(sql, (older_than, _BATCH)).rowcount
            done += count
            if count < _BATCH:
                return done
