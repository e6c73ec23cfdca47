"""The embedded store: one SQLite file, stdlib ``sqlite3`` only (see ``database`` for how)."""

from __future__ import annotations

from wxapush.store.choice_seams import ComposedChoiceLedger
from wxapush.store.sqlite.campaigns import SqliteCampaignQueue, SqliteCounters
from wxapush.store.sqlite.database import SCHEMA_VERSION, Database
from wxapush.store.sqlite.ledgers import SqliteEventLog, SqliteGrantLedger, SqliteTemplateRegistry
from wxapush.store.sqlite.limiter import SqliteRateLimiter
from wxapush.store.sqlite.send_log import SqliteSendLog
from wxapush.store.sqlite.tokens import SqliteTokenCache


class SqliteStore:
    """Every seam over one SQLite file. Open it with ``open_store("sqlite:///path")``."""

    def __init__(self, path: str, timeout: float = 10.0, migrate: bool = True) -> None:
        self.path = path
        self.db = Database(path, timeout=timeout, migrate=migrate)
        self.tokens = SqliteTokenCache(self.db)
        self.log = SqliteSendLog(self.db)
        self.grants = SqliteGrantLedger(self.db)
        self.templates = SqliteTemplateRegistry(self.db)
        self.events = SqliteEventLog(self.db)
        self.choices = ComposedChoiceLedger(self.events, self.grants)
        self.limiter = SqliteRateLimiter(self.db)
        self.campaigns = SqliteCampaignQueue(self.db)
        self.counters = SqliteCounters(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"


__all__ = ["SCHEMA_VERSION", "Database", "SqliteStore"]
