"""TokenCache, GrantLedger, TemplateRegistry, EventLog and RateLimiter on SQL.

Every write is correct under READ COMMITTED on both databases: conditional UPDATEs
(compare-and-set) re-check their WHERE against the latest row, and inserts race only on a
primary key. A write that is one statement (or a compare-and-set's read and swap) runs in
autocommit, one round trip per statement; only writes whose statements must commit together
open a transaction.
"""

from __future__ import annotations

import time
from typing import List, Optional, Sequence

from wxapush.store.base import TemplateInfo, TokenRecord
from wxapush.store.common import bucket_step, template_from_json, template_to_json
from wxapush.store.sql.dialects import autocommit, insert_ignore, placeholders, transaction, upsert
from wxapush.store.sql.pool import Connection, Pool
from wxapush.store.sql.schema import Tables

#: Compare-and-set rounds before giving up: each lost round means another instance won one.
CAS_ROUNDS = 200


class SqlTokenCache:
    """TokenCache: a row per token (upserted whole); a lock row taken by insert or by
    compare-and-set over an expired one."""

    def __init__(self, pool: Pool, tables: Tables) -> None:
        self._pool = pool
        self._tokens = tables.tokens
        self._locks = tables.locks

    def get_token(self, key: str) -> Optional[TokenRecord]:
        sql = f"SELECT token, expires_at, fetched_at FROM {self._tokens} WHERE token_key = %s"
        with self._pool.connection() as conn:
            row = conn.first(sql, [key])
        return None if row is None else TokenRecord(row[0], float(row[1]), float(row[2]))

    def put_token(self, key: str, record: TokenRecord) -> None:
        values = {
            "token_key": key,
            "token": record.token,
            "expires_at": record.expires_at,
            "fetched_at": record.fetched_at,
        }
        fields = ("token", "expires_at", "fetched_at")
        autocommit(
            self._pool,
            lambda conn: upsert(
                conn, self._tokens, values, ["token_key"], lambda new: {f: new(f) for f in fields}
            ),
        )

    def invalidate_token(self, key: str, token: str) -> bool:
        sql = f"DELETE FROM {self._tokens} WHERE token_key = %s AND token = %s"
        return bool(autocommit(self._pool, lambda conn: conn.execute(sql, [key, token])))

    def prune_tokens(self, prefix: str, expired_before: float) -> int:
        # SUBSTR, not LIKE: exact bytes under any collation, and % or _ in the prefix are text.
        sql = f"DELETE FROM {self._tokens} WHERE SUBSTR(token_key, 1, %s) = %s AND expires_at < %s"
        params = [len(prefix), prefix, expired_before]
        return int(autocommit(self._pool, lambda conn: conn.execute(sql, params)))

    def acquire_lock(self, name: str, owner: str, ttl: float) -> bool:
        t = self._locks
        now = time.time()
        row = {"name": name, "owner": owner, "expires_at": now + ttl}
        if autocommit(self._pool, lambda conn: insert_ignore(conn, t, row)):
            return True
        # A new transaction: InnoDB keeps a shared lock on the duplicate row until the end of
        # the failed insert's transaction, and N racers upgrading theirs would deadlock.
        take_over = (
            f"UPDATE {t} SET owner = %s, expires_at = %s WHERE name = %s AND expires_at <= %s"
        )
        params = [owner, now + ttl, name, now]
        return bool(autocommit(self._pool, lambda conn: conn.execute(take_over, params)))

    def release_lock(self, name: str, owner: str) -> bool:
        sql = f"DELETE FROM {self._locks} WHERE name = %s AND owner = %s"
        return bool(autocommit(self._pool, lambda conn: conn.execute(sql, [name, owner])))


_GRANT_KEY = "appid = %s AND openid = %s AND template_id = %s"


class SqlGrantLedger:
    """GrantLedger: an upsert adds, a conditional UPDATE takes one."""

    def __init__(self, pool: Pool, tables: Tables) -> None:
        self._pool = pool
        self._t = tables.grants

    def grant(self, appid: str, openid: str, template_id: str, count: int = 1) -> int:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        t, now = self._t, time.time()
        row = dict(appid=appid, openid=openid, template_id=template_id)

        def add(conn: Connection) -> int:
            upsert(
                conn,
                t,
                {**row, "balance": count, "updated_at": now},
                list(row),
                lambda new: {
                    "balance": f"{t}.balance + {new('balance')}",
                    "updated_at": new("updated_at"),
                },
            )
            # Still our transaction: the row stays locked by the upsert until the commit.
            sql = f"SELECT balance FROM {t} WHERE {_GRANT_KEY}"
            return int(conn.scalar(sql, [appid, openid, template_id]))

        return transaction(self._pool, add)

    def revoke(self, appid: str, openid: str, template_id: str) -> None:
        row = dict(appid=appid, openid=openid, template_id=template_id)
        autocommit(
            self._pool,
            lambda conn: upsert(
                conn,
                self._t,
                {**row, "balance": 0, "updated_at": time.time()},
                list(row),
                lambda new: {"balance": "0", "updated_at": new("updated_at")},
            ),
        )

    def consume(self, appid: str, openid: str, template_id: str) -> bool:
        sql = (
            f"UPDATE {self._t} SET balance = balance - 1, updated_at = %s"
            f" WHERE {_GRANT_KEY} AND balance > 0"
        )
        params = [time.time(), appid, openid, template_id]
        return bool(autocommit(self._pool, lambda conn: conn.execute(sql, params)))

    def balance(self, appid: str, openid: str, template_id: str) -> Optional[int]:
        sql = f"SELECT balance FROM {self._t} WHERE {_GRANT_KEY}"
        with self._pool.connection() as conn:
            value = conn.scalar(sql, [appid, openid, template_id])
        return None if value is None else int(value)

    def holders(self, appid: str, template_id: str) -> List[str]:
        sql = (
            f"SELECT openid FROM {self._t}"
            " WHERE appid = %s AND template_id = %s AND balance > 0 ORDER BY openid"
        )
        with self._pool.connection() as conn:
            return [str(row[0]) for row in conn.rows(sql, [appid, template_id])]


_TEMPLATE_COLUMNS = ("template_id", "title", "type", "keywords", "enum_values", "content")
_TEMPLATE_ROW = ("appid", "template_id", "position", "title", "type", "keywords", "enum_values",
                 "content")  # fmt: skip


class SqlTemplateRegistry:
    """TemplateRegistry: the app's rows swapped in one transaction."""

    def __init__(self, pool: Pool, tables: Tables) -> None:
        self._pool = pool
        self._t = tables.templates
        self._sync = tables.template_sync
        self._select = f"SELECT {', '.join(_TEMPLATE_COLUMNS)} FROM {self._t}"

    def replace_templates(
        self, appid: str, templates: Sequence[TemplateInfo], synced_at: float
    ) -> None:
        rows = []
        for i, t in enumerate(templates):
            keywords, enum_values = template_to_json(t)
            rows.append(
                (appid, t.template_id, i, t.title, t.type, keywords, enum_values, t.content)
            )
        insert = (
            f"INSERT INTO {self._t} ({', '.join(_TEMPLATE_ROW)})"
            f" VALUES ({placeholders(len(_TEMPLATE_ROW))})"
        )

        def swap(conn: Connection) -> None:
            conn.execute(f"DELETE FROM {self._t} WHERE appid = %s", [appid])
            if rows:
                conn.executemany(insert, rows)
            upsert(
                conn,
                self._sync,
                {"appid": appid, "synced_at": synced_at},
                ["appid"],
                lambda new: {"synced_at": new("synced_at")},
            )

        transaction(self._pool, swap)

    def get_template(self, appid: str, template_id: str) -> Optional[TemplateInfo]:
        sql = self._select + " WHERE appid = %s AND template_id = %s"
        with self._pool.connection() as conn:
            row = conn.first(sql, [appid, template_id])
        return None if row is None else template_from_json(*row)

    def list_templates(self, appid: str) -> List[TemplateInfo]:
        sql = self._select + " WHERE appid = %s ORDER BY position"
        with self._pool.connection() as conn:
            return [template_from_json(*row) for row in conn.rows(sql, [appid])]

    def synced_at(self, appid: str) -> Optional[float]:
        sql = f"SELECT synced_at FROM {self._sync} WHERE appid = %s"
        with self._pool.connection() as conn:
            value = conn.scalar(sql, [appid])
        return None if value is None else float(value)


class SqlEventLog:
    """EventLog: insert the key, or take over a row whose window has ended."""

    def __init__(self, pool: Pool, tables: Tables) -> None:
        self._pool = pool
        self._t = tables.seen_events

    def first_seen(self, key: str, ttl: float) -> bool:
        t, now = self._t, time.time()
        row = {"event_key": key, "expires_at": now + ttl}
        if autocommit(self._pool, lambda conn: insert_ignore(conn, t, row)):
            return True
        # a new transaction, as in acquire_lock
        renew = f"UPDATE {t} SET expires_at = %s WHERE event_key = %s AND expires_at <= %s"
        return bool(autocommit(self._pool, lambda conn: conn.execute(renew, [now + ttl, key, now])))

    def forget(self, key: str) -> None:
        sql = f"DELETE FROM {self._t} WHERE event_key = %s"
        autocommit(self._pool, lambda conn: conn.execute(sql, [key]))

    def prune(self, now: float) -> int:
        sql = f"DELETE FROM {self._t} WHERE expires_at <= %s"
        return int(autocommit(self._pool, lambda conn: conn.execute(sql, [now])))


class SqlRateLimiter:
    """RateLimiter: the bucket's state in a row, moved by compare-and-set (base.bucket_step)."""

    def __init__(self, pool: Pool, tables: Tables) -> None:
        self._pool = pool
        self._t = tables.rate_limits

    def acquire(self, key: str, rate: float, burst: int = 1, max_wait: float = 0.0) -> float:
        t = self._t

        def attempt(conn: Connection) -> Optional[float]:
            old = conn.scalar(f"SELECT tat FROM {t} WHERE bucket = %s", [key])
            now = int(time.time() * 1_000_000)
            wait, tat = bucket_step(old, now, rate, burst, max_wait)
            if tat is None:
                return wait
            if old is None:
                won = insert_ignore(conn, t, {"bucket": key, "tat": tat})
            else:
                swap = f"UPDATE {t} SET tat = %s WHERE bucket = %s AND tat = %s"
                won = conn.execute(swap, [tat, key, old]) == 1
            return wait if won else None  # None: another instance moved the bucket first

        for _ in range(CAS_ROUNDS):
            wait = autocommit(self._pool, attempt)  # the compare-and-set needs no transaction
            if wait is not None:
                return wait
        raise RuntimeError(f"rate limiter {key!r}: no compare-and-set won in {CAS_ROUNDS} rounds")

    def prune(self, now: float) -> int:
        # A compare-and-set racing the delete finds no row, and inserts (bucket_step's None).
        sql = f"DELETE FROM {self._t} WHERE tat < %s"
        return int(autocommit(self._pool, lambda conn: conn.execute(sql, [int(now * 1_000_000)])))
