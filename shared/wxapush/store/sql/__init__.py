"""The sql backend: every seam in PostgreSQL or MySQL/MariaDB (SQLAlchemy Core, imported only
when a SQL URL is opened).

URLs: ``postgresql://user:pw@host:5432/db`` (psycopg 3), ``mysql://user:pw@host:3306/db`` or
``mariadb://…`` (PyMySQL; TencentDB for MySQL), or SQLAlchemy's ``scheme+driver://`` to pick
another driver. The driver's own query options pass through; ``?prefix=name`` names the tables
(``wxapush_send_log`` … by default), so one database can hold several deployments. The tables
are created on first use and versioned (``schema.py``); dialect differences live in
``dialects.py``.
"""

from __future__ import annotations

import re

from wxapush.store.base import StoreURLError
from wxapush.store.connections import pop_url_option
from wxapush.store.sql.campaigns import SqlCampaignQueue, SqlCounters
from wxapush.store.sql.dialects import engine_url, engines
from wxapush.store.sql.ledgers import (
    SqlEventLog,
    SqlGrantLedger,
    SqlRateLimiter,
    SqlTemplateRegistry,
    SqlTokenCache,
)
from wxapush.store.sql.schema import SCHEMA_VERSION, Tables, build_tables, ensure_schema
from wxapush.store.sql.send_log import SqlSendLog

DEFAULT_PREFIX = "wxapush"
_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # lower case: MySQL on Linux is case-sensitive


class SqlStore:
    """Every seam in one SQL database. Open it with ``open_store("postgresql://…")``."""

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX) -> None:
        self._url = engine_url(url)
        self._closed = False
        self.engine = engines.acquire(self._url)
        try:
            self.tables: Tables = build_tables(prefix)
            ensure_schema(self.engine, self.tables)
        except BaseException:
            engines.release(self._url)
            raise
        self.tokens = SqlTokenCache(self.engine, self.tables)
        self.log = SqlSendLog(self.engine, self.tables)
        self.grants = SqlGrantLedger(self.engine, self.tables)
        self.templates = SqlTemplateRegistry(self.engine, self.tables)
        self.events = SqlEventLog(self.engine, self.tables)
        self.limiter = SqlRateLimiter(self.engine, self.tables)
        self.campaigns = SqlCampaignQueue(self.engine, self.tables)
        self.counters = SqlCounters(self.engine, self.tables)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            engines.release(self._url)

    def __repr__(self) -> str:  # never the URL: it may hold a password
        return f"SqlStore({self.engine.dialect.name}, prefix={self.tables.prefix!r})"


def open_url(url: str) -> SqlStore:
    """Open the store a ``postgresql://``, ``mysql://`` or ``mariadb://`` URL names."""
    url, prefix = pop_url_option(url, "prefix")
    if prefix is not None and not _PREFIX.match(prefix):
        raise StoreURLError("the SQL table prefix must match [a-z][a-z0-9_]{0,39}")
    return SqlStore(url, prefix or DEFAULT_PREFIX)


__all__ = ["SCHEMA_VERSION", "SqlStore", "open_url"]
