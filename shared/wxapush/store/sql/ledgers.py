"""TokenCache, GrantLedger, TemplateRegistry, EventLog and RateLimiter on SQL.

Every write is one short transaction whose statements are correct under READ COMMITTED on both
databases: conditional UPDATEs (compare-and-set) re-check their WHERE against the latest row,
and inserts race only on a primary key.
"""

from __future__ import annotations

import time
from typing import Any, List, Optional, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from wxapush.store.base import TemplateInfo, TokenRecord
from wxapush.store.common import bucket_step, template_from_json, template_to_json
from wxapush.store.sql.dialects import insert_ignore, transaction, upsert
from wxapush.store.sql.schema import Tables

#: Compare-and-set rounds before giving up: each lost round means another instance won one.
CAS_ROUNDS = 200


class SqlTokenCache:
    """TokenCache: a row per token (upserted whole); a lock row taken by insert or by
    compare-and-set over an expired one."""

    def __init__(self, engine: Engine, tables: Tables) -> None:
        self._engine = engine
        self._tokens = tables.tokens
        self._locks = tables.locks

    def get_token(self, key: str) -> Optional[TokenRecord]:
        t = self._tokens
        stmt = sa.select(t.c.token, t.c.expires_at, t.c.fetched_at).where(t.c.token_key == key)
        with self._engine.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else TokenRecord(row[0], float(row[1]), float(row[2]))

    def put_token(self, key: str, record: TokenRecord) -> None:
        values = {
            "token_key": key,
            "token": record.token,
            "expires_at": record.expires_at,
            "fetched_at": record.fetched_at,
        }
        fields = ("token", "expires_at", "fetched_at")
        transaction(
            self._engine,
            lambda conn: upsert(
                conn, self._tokens, values, ["token_key"], lambda new: {f: new[f] for f in fields}
            ),
        )

    def invalidate_token(self, key: str, token: str) -> bool:
        t = self._tokens
        stmt = t.delete().where((t.c.token_key == key) & (t.c.token == token))
        return bool(transaction(self._engine, lambda conn: conn.execute(stmt).rowcount))

    def acquire_lock(self, name: str, owner: str, ttl: float) -> bool:
        t = self._locks
        now = time.time()
        row = {"name": name, "owner": owner, "expires_at": now + ttl}
        if transaction(self._engine, lambda conn: insert_ignore(conn, t, row)):
            return True
        # A new transaction: InnoDB keeps a shared lock on the duplicate row until the end of
        # the failed insert's transaction, and N racers upgrading theirs would deadlock.
        take_over = (
            t.update()
            .where((t.c.name == name) & (t.c.expires_at <= now))
            .values(owner=owner, expires_at=now + ttl)
        )
        return bool(transaction(self._engine, lambda conn: conn.execute(take_over).rowcount))

    def release_lock(self, name: str, owner: str) -> bool:
        t = self._locks
        stmt = t.delete().where((t.c.name == name) & (t.c.owner == owner))
        return bool(transaction(self._engine, lambda conn: conn.execute(stmt).rowcount))


class SqlGrantLedger:
    """GrantLedger: an upsert adds, a conditional UPDATE takes one."""

    def __init__(self, engine: Engine, tables: Tables) -> None:
        self._engine = engine
        self._t = tables.grants

    def _where(self, appid: str, openid: str, template_id: str) -> Any:
        c = self._t.c
        return (c.appid == appid) & (c.openid == openid) & (c.template_id == template_id)

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
                lambda new: {"balance": t.c.balance + new.balance, "updated_at": new.updated_at},
            )
            # Still our transaction: the row stays locked by the upsert until the commit.
            stmt = sa.select(t.c.balance).where(self._where(appid, openid, template_id))
            return int(conn.execute(stmt).scalar_one())

        return transaction(self._engine, add)

    def revoke(self, appid: str, openid: str, template_id: str) -> None:
        row = dict(appid=appid, openid=openid, template_id=template_id)
        transaction(
            self._engine,
            lambda conn: upsert(
                conn,
                self._t,
                {**row, "balance": 0, "updated_at": time.time()},
                list(row),
                lambda new: {"balance": 0, "updated_at": new.updated_at},
            ),
        )

    def consume(self, appid: str, openid: str, template_id: str) -> bool:
        t = self._t
        stmt = (
            t.update()
            .where(self._where(appid, openid, template_id) & (t.c.balance > 0))
            .values(balance=t.c.balance - 1, updated_at=time.time())
        )
        return bool(transaction(self._engine, lambda conn: conn.execute(stmt).rowcount))

    def balance(self, appid: str, openid: str, template_id: str) -> Optional[int]:
        stmt = sa.select(self._t.c.balance).where(self._where(appid, openid, template_id))
        with self._engine.connect() as conn:
            value = conn.execute(stmt).scalar()
        return None if value is None else int(value)

    def holders(self, appid: str, template_id: str) -> List[str]:
        t = self._t.c
        stmt = (
            sa.select(t.openid)
            .where((t.appid == appid) & (t.template_id == template_id) & (t.balance > 0))
            .order_by(t.openid)
        )
        with self._engine.connect() as conn:
            return [str(openid) for openid in conn.execute(stmt).scalars()]


class SqlTemplateRegistry:
    """TemplateRegistry: the app's rows swapped in one transaction."""

    def __init__(self, engine: Engine, tables: Tables) -> None:
        self._engine = engine
        self._t = tables.templates
        self._sync = tables.template_sync
        c = self._t.c
        self._cols = (c.template_id, c.title, c.type, c.keywords, c.enum_values, c.content)

    def replace_templates(
        self, appid: str, templates: Sequence[TemplateInfo], synced_at: float
    ) -> None:
        rows = []
        for i, t in enumerate(templates):
            keywords, enum_values = template_to_json(t)
            rows.append(
                {
                    "appid": appid,
                    "template_id": t.template_id,
                    "position": i,
                    "title": t.title,
                    "type": t.type,
                    "keywords": keywords,
                    "enum_values": enum_values,
                    "content": t.content,
                }
            )

        def swap(conn: Connection) -> None:
            conn.execute(self._t.delete().where(self._t.c.appid == appid))
            if rows:
                conn.execute(self._t.insert(), rows)
            upsert(
                conn,
                self._sync,
                {"appid": appid, "synced_at": synced_at},
                ["appid"],
                lambda new: {"synced_at": new.synced_at},
            )

        transaction(self._engine, swap)

    def get_template(self, appid: str, template_id: str) -> Optional[TemplateInfo]:
        c = self._t.c
        stmt = sa.select(*self._cols).where((c.appid == appid) & (c.template_id == template_id))
        with self._engine.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else template_from_json(*row)

    def list_templates(self, appid: str) -> List[TemplateInfo]:
        c = self._t.c
        stmt = sa.select(*self._cols).where(c.appid == appid).order_by(c.position)
        with self._engine.connect() as conn:
            return [template_from_json(*row) for row in conn.execute(stmt)]

    def synced_at(self, appid: str) -> Optional[float]:
        stmt = sa.select(self._sync.c.synced_at).where(self._sync.c.appid == appid)
        with self._engine.connect() as conn:
            value = conn.execute(stmt).scalar()
        return None if value is None else float(value)


class SqlEventLog:
    """EventLog: insert the key, or take over a row whose window has ended."""

    def __init__(self, engine: Engine, tables: Tables) -> None:
        self._engine = engine
        self._t = tables.seen_events

    def first_seen(self, key: str, ttl: float) -> bool:
        t, now = self._t, time.time()
        row = {"event_key": key, "expires_at": now + ttl}
        if transaction(self._engine, lambda conn: insert_ignore(conn, t, row)):
            return True
        renew = (  # a new transaction, as in acquire_lock
            t.update()
            .where((t.c.event_key == key) & (t.c.expires_at <= now))
            .values(expires_at=now + ttl)
        )
        return bool(transaction(self._engine, lambda conn: conn.execute(renew).rowcount))

    def forget(self, key: str) -> None:
        stmt = self._t.delete().where(self._t.c.event_key == key)
        transaction(self._engine, lambda conn: conn.execute(stmt))

    def prune(self, now: float) -> int:
        stmt = self._t.delete().where(self._t.c.expires_at <= now)
        return int(transaction(self._engine, lambda conn: conn.execute(stmt).rowcount))


class SqlRateLimiter:
    """RateLimiter: the bucket's state in a row, moved by compare-and-set (base.bucket_step)."""

    def __init__(self, engine: Engine, tables: Tables) -> None:
        self._engine = engine
        self._t = tables.rate_limits

    def acquire(self, key: str, rate: float, burst: int = 1, max_wait: float = 0.0) -> float:
        t = self._t

        def attempt(conn: Connection) -> Optional[float]:
            old = conn.execute(sa.select(t.c.tat).where(t.c.bucket == key)).scalar()
            now = int(time.time() * 1_000_000)
            wait, tat = bucket_step(old, now, rate, burst, max_wait)
            if tat is None:
                return wait
            if old is None:
                won = insert_ignore(conn, t, {"bucket": key, "tat": tat})
            else:
                swap = t.update().where((t.c.bucket == key) & (t.c.tat == old)).values(tat=tat)
                won = conn.execute(swap).rowcount == 1
            return wait if won else None  # None: another instance moved the bucket first

        for _ in range(CAS_ROUNDS):
            wait = transaction(self._engine, attempt)
            if wait is not None:
                return wait
        raise RuntimeError(f"rate limiter {key!r}: no compare-and-set won in {CAS_ROUNDS} rounds")
