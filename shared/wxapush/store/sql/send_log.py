"""SendLog on SQL: one table; its unique (appid, idempotency_key) makes claims atomic."""

from __future__ import annotations

import json
import time
from typing import Any, List, Optional, Sequence, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from wxapush.store.base import LOG_FIELDS, GrantKey, LogPage, LogQuery, LogRecord, LogSummary
from wxapush.store.common import (
    check_changes,
    check_query,
    check_record,
    dump_json,
    msgid_from_i64,
    msgid_to_i64,
)
from wxapush.store.sql.dialects import insert_ignore, transaction
from wxapush.store.sql.schema import Tables
from wxapush.store.sql.summary import summarize

_BATCH = 1000  # rows per prune transaction, so sends are never blocked for long


def _encode(name: str, value: Any) -> Any:
    if name == "data":
        return dump_json(value)
    if name == "msgid":
        return msgid_to_i64(value)
    return value


def _decode(row: Any) -> LogRecord:
    values = {name: row[name] for name in LOG_FIELDS}
    values["data"] = json.loads(values["data"])
    values["msgid"] = msgid_from_i64(values["msgid"])
    return LogRecord(**values)


class SqlSendLog:
    """SendLog: insert-or-ignore claims, one-statement updates, index-backed pages."""

    def __init__(self, engine: Engine, tables: Tables) -> None:
        self._engine = engine
        self._t = tables.send_log
        self._grants = tables.grants
        self._newest_first = (self._t.c.created_at.desc(), self._t.c.log_id.desc())

    def claim(self, record: LogRecord) -> Tuple[LogRecord, bool]:
        check_record(record)
        row = {name: _encode(name, getattr(record, name)) for name in LOG_FIELDS}
        # Insert first and look only on conflict. A second pass covers a key freed (by
        # expire_idempotency or a failed send) between our insert and our look.
        for _ in range(3):
            if transaction(self._engine, lambda conn: insert_ignore(conn, self._t, row)):
                return record, True
            if record.idempotency_key is None:
                break
            found = self._one(
                (self._t.c.appid == record.appid)
                & (self._t.c.idempotency_key == record.idempotency_key)
            )
            if found is not None:
                return found, False
        raise ValueError(f"log_id {record.log_id!r} already exists")

    def update(self, log_id: str, *, use_grant: Optional[GrantKey] = None, **changes: Any) -> None:
        check_changes(changes)
        if not changes:
            if self.get(log_id) is None:
                raise KeyError(log_id)
            if use_grant is not None:
                transaction(self._engine, lambda conn: self._use(conn, use_grant))
            return
        values = {name: _encode(name, value) for name, value in changes.items()}
        stmt = self._t.update().where(self._t.c.log_id == log_id).values(**values)

        def work(conn: Connection) -> int:
            # rowcount counts matched rows, on MySQL too (SQLAlchemy sets CLIENT_FOUND_ROWS)
            found = conn.execute(stmt).rowcount
            if found and use_grant is not None:  # the grant it used: the same commit
                self._use(conn, use_grant)
            return int(found)

        if transaction(self._engine, work) == 0:
            raise KeyError(log_id)

    def get(self, log_id: str) -> Optional[LogRecord]:
        return self._one(self._t.c.log_id == log_id)

    def find_by_msgid(self, appid: str, msgid: int) -> Optional[LogRecord]:
        where = (self._t.c.appid == appid) & (self._t.c.msgid == msgid_to_i64(msgid))
        return self._one(where, newest=True)

    def query(self, q: LogQuery) -> LogPage:
        check_query(q)
        t = self._t
        where = [t.c.appid == q.appid, t.c.created_at >= q.since, t.c.created_at < q.until]
        for column in ("touser", "template_id", "status", "errcode", "broadcast_id"):
            value = getattr(q, column)
            if value is not None:
                where.append(t.c[column] == value)
        condition = sa.and_(*where)
        rows: List[Any] = []
        # One REPEATABLE READ transaction: the total and the page come from the same snapshot.
        with self._engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                # Counting stops past the bound: the same cost at any size of log.
                matches = sa.select(t.c.log_id).where(condition).limit(q.exact_up_to + 1)
                counted = sa.select(sa.func.count()).select_from(matches.subquery())
                total = int(conn.execute(counted).scalar_one())
                exact = total <= q.exact_up_to
                if q.count and (q.offset < total or not exact):
                    page = sa.select(t).where(condition).order_by(*self._newest_first)
                    page = page.limit(q.count).offset(q.offset)
                    rows = list(conn.execute(page).mappings())
        return LogPage(total, [_decode(row) for row in rows], exact)

    def summarize(self, appid: str, bounds: Sequence[float]) -> LogSummary:
        return summarize(self._engine, self._t, appid, bounds)

    def prune(self, older_than: float) -> int:
        old = self._t.c.created_at < older_than
        return self._batched(old, lambda ids: self._t.delete().where(self._t.c.log_id.in_(ids)))

    def expire_idempotency(self, older_than: float) -> int:
        t = self._t
        keyed = t.c.idempotency_key.is_not(None) & (t.c.created_at < older_than)
        return self._batched(
            keyed,
            lambda ids: (
                t.update()
                .where(t.c.log_id.in_(ids) & t.c.idempotency_key.is_not(None))
                .values(idempotency_key=None)
            ),
        )

    def _batched(self, where: Any, change: Any) -> int:
        # Select a batch, then change it by primary key: portable (MySQL allows no LIMIT in
        # an IN subquery, PostgreSQL no LIMIT on DELETE) and short transactions.
        pick = sa.select(self._t.c.log_id).where(where).limit(_BATCH)

        def batch(conn: Connection) -> Tuple[int, int]:
            ids = list(conn.execute(pick).scalars())
            return len(ids), (conn.execute(change(ids)).rowcount if ids else 0)

        done = 0
        while True:
            picked, changed = transaction(self._engine, batch)
            done += changed
            if picked < _BATCH:
                return done

    def _use(self, conn: Connection, key: GrantKey) -> None:
        g = self._grants
        where = (g.c.appid == key.appid) & (g.c.openid == key.openid)
        where = where & (g.c.template_id == key.template_id) & (g.c.balance > 0)
        taken = g.update().where(where).values(balance=g.c.balance - 1, updated_at=time.time())
        conn.execute(taken)

    def _one(self, where: Any, newest: bool = False) -> Optional[LogRecord]:
        stmt = sa.select(self._t).where(where)
        if newest:
            stmt = stmt.order_by(*self._newest_first).limit(1)
        with self._engine.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        return None if row is None else _decode(row)
