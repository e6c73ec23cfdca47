"""RateLimiter on SQLite: a row per bucket, read and written in one ``BEGIN IMMEDIATE``."""

from __future__ import annotations

import time

from wxapush.store.common import bucket_step
from wxapush.store.sqlite.database import Database


class SqliteRateLimiter:
    """RateLimiter: the bucket's state (GCRA's one number, see ``bucket_step``) in a row.

    The immediate transaction takes SQLite's write lock before the read, so no other process
    can move the bucket between this one's read and write.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def acquire(self, key: str, rate: float, burst: int = 1, max_wait: float = 0.0) -> float:
        with self._db.write() as conn:
            row = conn.execute("SELECT tat FROM rate_limits WHERE key = ?", (key,)).fetchone()
            now = int(time.time() * 1_000_000)
            wait, tat = bucket_step(None if row is None else row[0], now, rate, burst, max_wait)
            if tat is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO rate_limits (key, tat) VALUES (?, ?)", (key, tat)
                )
        return wait

    def prune(self, now: float) -> int:
        with self._db.connection() as conn:
            at_rest = int(now * 1_000_000)
            return int(conn.execute("DELETE FROM rate_limits WHERE tat < ?", (at_rest,)).rowcount)
