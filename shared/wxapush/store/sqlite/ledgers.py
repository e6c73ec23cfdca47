"""GrantLedger and TemplateRegistry on SQLite."""

from __future__ import annotations

import sqlite3
import time
from typing import List, Optional, Sequence

from wxapush.store.base import GrantKey, TemplateInfo
from wxapush.store.common import template_from_json, template_to_json
from wxapush.store.sqlite.database import Database


class SqliteGrantLedger:
    """GrantLedger: a row per (appid, openid, template_id); consume is one conditional UPDATE."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def grant(self, appid: str, openid: str, template_id: str, count: int = 1) -> int:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        key = (appid, openid, template_id)
        with self._db.write() as conn:
            cur = conn.execute(
                "UPDATE grants SET balance = balance + ?, updated_at = ?"
                " WHERE appid = ? AND openid = ? AND template_id = ?",
                (count, time.time(), *key),
            )
            if cur.rowcount == 0:
                fresh = (*key, count, time.time())
                conn.execute("INSERT INTO grants VALUES (?, ?, ?, ?, ?)", fresh)
            row = conn.execute(
                "SELECT balance FROM grants WHERE appid = ? AND openid = ? AND template_id = ?",
                key,
            ).fetchone()
        return int(row[0])

    def revoke(self, appid: str, openid: str, template_id: str) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO grants VALUES (?, ?, ?, 0, ?)",
                (appid, openid, template_id, time.time()),
            )

    def consume(self, appid: str, openid: str, template_id: str) -> bool:
        with self._db.connection() as conn:
            return consume_grant(conn, GrantKey(appid, openid, template_id))

    def balance(self, appid: str, openid: str, template_id: str) -> Optional[int]:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT balance FROM grants WHERE appid = ? AND openid = ? AND template_id = ?",
                (appid, openid, template_id),
            ).fetchone()
        return None if row is None else int(row[0])

    def holders(self, appid: str, template_id: str) -> List[str]:
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT openid FROM grants WHERE appid = ? AND template_id = ? AND balance > 0"
                " ORDER BY openid",
                (appid, template_id),
            ).fetchall()
        return [str(row[0]) for row in rows]


_TEMPLATE_COLS = "template_id, title, type, keywords, enum_values, content"


class SqliteTemplateRegistry:
    """TemplateRegistry: the app's rows are swapped in one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def replace_templates(
        self, appid: str, templates: Sequence[TemplateInfo], synced_at: float
    ) -> None:
        rows = [
            (appid, t.template_id, i, t.title, t.type, *template_to_json(t), t.content)
            for i, t in enumerate(templates)
        ]
        with self._db.write() as conn:
            conn.execute("DELETE FROM templates WHERE appid = ?", (appid,))
            conn.executemany(
                "INSERT OR REPLACE INTO templates (appid, template_id, position, title, type,"
                " keywords, enum_values, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.execute(
                "INSERT OR REPLACE INTO template_sync (appid, synced_at) VALUES (?, ?)",
                (appid, synced_at),
            )

    def get_template(self, appid: str, template_id: str) -> Optional[TemplateInfo]:
        with self._db.connection() as conn:
            row = conn.execute(
                f"SELECT {_TEMPLATE_COLS} FROM templates WHERE appid = ? AND template_id = ?",
                (appid, template_id),
            ).fetchone()
        return None if row is None else template_from_json(*row)

    def list_templates(self, appid: str) -> List[TemplateInfo]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {_TEMPLATE_COLS} FROM templates WHERE appid = ? ORDER BY position",
                (appid,),
            ).fetchall()
        return [template_from_json(*row) for row in rows]

    def synced_at(self, appid: str) -> Optional[float]:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT synced_at FROM template_sync WHERE appid = ?", (appid,)
            ).fetchone()
        return None if row is None else float(row[0])


class SqliteEventLog:
    """EventLog: a row per key with the end of its window."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def first_seen(self, key: str, ttl: float) -> bool:
        now = time.time()
        with self._db.write() as conn:
            conn.execute("DELETE FROM seen_events WHERE key = ? AND expires_at <= ?", (key, now))
            cursor = conn.execute(
                "INSERT OR IGNORE INTO seen_events (key, expires_at) VALUES (?, ?)",
                (key, now + ttl),
            )
            return cursor.rowcount == 1

    def forget(self, key: str) -> None:
        with self._db.connection() as conn:
            conn.execute("DELETE FROM seen_events WHERE key = ?", (key,))

    def prune(self, now: float) -> int:
        with self._db.connection() as conn:
            return conn.execute("DELETE FROM seen_events WHERE expires_at <= ?", (now,)).rowcount


def consume_grant(conn: sqlite3.Connection, key: GrantKey) -> bool:
    """Take one from ``key``'s balance if above zero (alone, or inside the caller's transaction)."""
    cur = conn.execute(
        "UPDATE grants SET balance = balance - 1, updated_at = ?"
        " WHERE appid = ? AND openid = ? AND template_id = ? AND balance > 0",
        (time.time(), key.appid, key.openid, key.template_id),
    )
    return cur.rowcount > 0
