"""TokenCache on SQLite: token rows and lock rows."""

from __future__ import annotations

import time
from typing import Optional

from wxapush.store.base import (
    TokenRecord,
)
from wxapush.store.sqlite.database import Database


class SqliteTokenCache:
    """TokenCache: a row per token key; a row per lock with its owner and absolute expiry."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get_token(self, key: str) -> Optional[TokenRecord]:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT token, expires_at, fetched_at FROM tokens WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else TokenRecord(*row)

    def put_token(self, key: str, record: TokenRecord) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO tokens (key, token, expires_at, fetched_at)"
                " VALUES (?, ?, ?, ?)",
                (key, record.token, record.expires_at, record.fetched_at),
            )

    def invalidate_token(self, key: str, token: str) -> bool:
        with self._db.connection() as conn:
            cur = conn.execute("DELETE FROM tokens WHERE key = ? AND token = ?", (key, token))
        return cur.rowcount > 0

    def prune_tokens(self, prefix: str, expired_before: float) -> int:
        # substr, not LIKE: LIKE ignores ASCII case and reads % and _ in the prefix.
        sql = "DELETE FROM tokens WHERE substr(key, 1, ?) = ? AND expires_at < ?"
        with self._db.connection() as conn:
            cur = conn.execute(sql, (len(prefix), prefix, expired_before))
        return cur.rowcount

    def acquire_lock(self, name: str, owner: str, ttl: float) -> bool:
        now = time.time()
        with self._db.write() as conn:
            conn.execute("DELETE FROM locks WHERE name = ? AND expires_at <= ?", (name, now))
            cur = conn.execute(
                "INSERT OR IGNORE INTO locks (name, owner, expires_at) VALUES (?, ?, ?)",
                (name, owner, now + ttl),
            )
        return cur.rowcount > 0

    def release_lock(self, name: str, owner: str) -> bool:
        with self._db.connection() as conn:
            cur = conn.execute("DELETE FROM locks WHERE name = ? AND owner = ?", (name, owner))
        return cur.rowcount > 0
