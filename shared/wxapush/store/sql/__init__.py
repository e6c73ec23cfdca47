"""The sql backend: every seam in PostgreSQL or MySQL/MariaDB, on the DB-API driver alone.

URLs: ``postgresql://user:pw@host:5432/db`` (or ``postgres://``; psycopg 3),
``mysql://user:pw@host:3306/db`` or ``mariadb://…`` (PyMySQL; TencentDB for MySQL);
``+psycopg`` / ``+pymysql`` after the scheme name the same drivers, any other is refused. Only
the driver the URL names is imported, when the store is opened. The driver's own query options
pass through (``sslmode``, ``connect_timeout``, ``charset`` …); ``?prefix=name`` names the
tables (``wxapush_send_log`` … by default), so one database can hold several deployments. The
tables are created on first use and versioned (``schema.py``, DDL in ``tables.py``); dialect
differences live in ``dialects.py``, the per-process connection pool in ``pool.py``.
"""

from __future__ import annotations

import re
from typing import Dict, Tuple

from wxapush.store.base import BackendNotAvailableError, StoreURLError
from wxapush.store.choice_seams import ComposedChoiceLedger
from wxapush.store.connections import SharedHandles, pop_url_option
from wxapush.store.schema_state import SchemaState
from wxapush.store.sql import schema
from wxapush.store.sql.campaigns import SqlCampaignQueue, SqlCounters
from wxapush.store.sql.dialects import dialect_for
from wxapush.store.sql.ledgers import (
    SqlEventLog,
    SqlGrantLedger,
    SqlRateLimiter,
    SqlTemplateRegistry,
    SqlTokenCache,
)
from wxapush.store.sql.pool import Pool
from wxapush.store.sql.rollups import SqlRollups
from wxapush.store.sql.schema import SCHEMA_VERSION, Tables, build_tables, ensure_schema
from wxapush.store.sql.send_log import SqlSendLog
from wxapush.store.sql.urls import Target, parse_url

DEFAULT_PREFIX = "wxapush"
_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # lower case: MySQL on Linux is case-sensitive

_targets: Dict[str, Target] = {}  # pool key -> Target, for the pools' factory


def _new_pool(key: str) -> Pool:
    target: Target = _targets[key]
    try:
        dialect = dialect_for(target.dialect)
    except ModuleNotFoundError as exc:
        raise BackendNotAvailableError(
            f"store scheme {target.dialect!r} needs the {exc.name!r} package:"
            " pip install 'wxapush[sql]'"
        ) from exc
    dialect.check(target.connect_args)  # a malformed setting: misconfigured, not retryable
    return Pool(dialect, lambda: dialect.connect(target.connect_args))


#: one pool per database (URL) per process, shared by every store opened on it
pools: SharedHandles[Pool] = SharedHandles(_new_pool, lambda pool: pool.dispose())


class SqlStore:
    """Every seam in one SQL database. Open it with ``open_store("postgresql://…")``."""

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX, migrate: bool = True) -> None:
        target = parse_url(url)
        self._key = target.key
        _targets[self._key] = target
        self._closed = False
        self.pool = pools.acquire(self._key)
        try:
            self.tables: Tables = build_tables(prefix)
            ensure_schema(self.pool, self._key, self.tables, migrate)
        except BaseException:
            pools.release(self._key)
            raise
        self.tokens = SqlTokenCache(self.pool, self.tables)
        self.log = SqlSendLog(self.pool, self.tables)
        self.grants = SqlGrantLedger(self.pool, self.tables)
        self.templates = SqlTemplateRegistry(self.pool, self.tables)
        self.events = SqlEventLog(self.pool, self.tables)
        self.choices = ComposedChoiceLedger(self.events, self.grants)
        self.limiter = SqlRateLimiter(self.pool, self.tables)
        self.campaigns = SqlCampaignQueue(self.pool, self.tables)
        self.counters = SqlCounters(self.pool, self.tables)
        self.rollups = SqlRollups(self.pool, self.tables)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            pools.release(self._key)

    def __repr__(self) -> str:  # never the URL: it may hold a password
        return f"SqlStore({self.pool.dialect.name}, prefix={self.tables.prefix!r})"


def _split(url: str) -> Tuple[str, str]:
    url, prefix = pop_url_option(url, "prefix")
    if prefix is not None and not _PREFIX.match(prefix):
        raise StoreURLError("the SQL table prefix must match [a-z][a-z0-9_]{0,39}")
    return url, prefix or DEFAULT_PREFIX


def open_url(url: str, migrate: bool = True) -> SqlStore:
    """Open the store a ``postgresql://``, ``mysql://`` or ``mariadb://`` URL names
    (``migrate=False``: refuse a schema that is behind instead of migrating it)."""
    return SqlStore(*_split(url), migrate=migrate)


def schema_state(url: str, apply: bool = False) -> SchemaState:
    """The schema of the tables the URL names (``wxapush migrate``); ``apply``: migrate first."""
    if apply:
        schema._ready.discard((parse_url(_split(url)[0]).key, _split(url)[1]))
        open_url(url).close()
    bare, prefix = _split(url)
    target = parse_url(bare)
    _targets[target.key] = target
    pool = pools.acquire(target.key)
    try:
        return schema.schema_state(pool, build_tables(prefix), pool.dialect.name)
    finally:
        pools.release(target.key)


__all__ = ["SCHEMA_VERSION", "SqlStore", "open_url"]
