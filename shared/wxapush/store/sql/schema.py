"""The SQL schema: tables under a prefix, created on first use, versioned for later changes.

``<prefix>_schema_version`` holds one row with the version. A fresh database gets the current
tables at once; a database at an older version is brought up by the steps of ``MIGRATIONS``
(``MIGRATIONS[v]`` takes version v-1 to v, e.g. an ``ALTER TABLE``), under a lock so that cold
instances starting together migrate once. A database newer than this code is refused.

The DDL is the one wxapush has always created (``tables.py`` renders it per dialect):
a database made by any earlier release opens as it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from wxapush.store.base import SchemaBehindError
from wxapush.store.schema_state import SchemaState, describe_steps, readable
from wxapush.store.sql.dialects import schema_lock
from wxapush.store.sql.pool import Connection, Pool
from wxapush.store.sql.tables import TABLES, create_index, create_table, index_names

SCHEMA_VERSION = 5
#: The oldest schema version whose code may use tables at SCHEMA_VERSION: lower it when a
#: release's steps only add (a rollback to the release before may then keep the tables).
READABLE_FROM = SCHEMA_VERSION


@dataclass(frozen=True)
class Tables:
    """The table names of one namespace (``<prefix>_send_log`` …)."""

    prefix: str
    schema_version: str
    tokens: str
    locks: str
    send_log: str
    grants: str
    templates: str
    template_sync: str
    seen_events: str
    rate_limits: str
    campaigns: str
    recipients: str
    counters: str
    send_rollup: str

    def all(self) -> List[str]:
        """Every table, in creation order."""
        return [f"{self.prefix}_{name}" for name in sorted(TABLES)]


def build_tables(prefix: str) -> Tables:
    return Tables(prefix, **{name: f"{prefix}_{name}" for name in TABLES})


#: MySQL collations that compare exact bytes: binary *and* NO PAD. ``utf8mb4_bin`` is PAD SPACE
#: (``'a' = 'a '``: two idempotency keys would collide, a ``touser`` filter would match a
#: trailing-space variant). MySQL 8 has ``utf8mb4_0900_bin``, MariaDB ``utf8mb4_nopad_bin``.
NO_PAD_COLLATIONS = ("utf8mb4_0900_bin", "utf8mb4_nopad_bin")


def has_table(conn: Connection, name: str) -> bool:
    return (
        conn.first(
            "SELECT 1 FROM information_schema.tables"
            f" WHERE table_schema = {_current_schema(conn)} AND table_name = %s",
            [name],
        )
        is not None
    )


def column_names(conn: Connection, table: str) -> Set[str]:
    rows = conn.rows(
        "SELECT column_name FROM information_schema.columns"
        f" WHERE table_schema = {_current_schema(conn)} AND table_name = %s",
        [table],
    )
    return {str(row[0]) for row in rows}


def indexes_of(conn: Connection, table: str) -> Set[str]:
    """The names of the indexes on ``table`` (its primary key and unique constraint too)."""
    if conn.dialect.name == "postgresql":
        sql = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        sql += " AND tablename = %s"
    else:
        sql = "SELECT index_name FROM information_schema.statistics"
        sql += " WHERE table_schema = DATABASE() AND table_name = %s"
    return {str(row[0]) for row in conn.rows(sql, [table])}


def _current_schema(conn: Connection) -> str:
    return "current_schema()" if conn.dialect.name == "postgresql" else "DATABASE()"


def exact_collation(conn: Connection, tables: Tables, only: Optional[Sequence[str]] = None) -> None:
    """Schema step 3 (MySQL/MariaDB only; nothing on PostgreSQL, which compares bytes): convert
    every table of the namespace to a binary NO PAD collation, so that keys and filters compare
    exact bytes. A server with neither collation (MySQL 5.7) keeps ``utf8mb4_bin``. ``only``:
    these tables (a later step's new ones); tables not created yet are skipped."""
    if conn.dialect.name != "mysql":
        return
    available = {
        row[0]
        for row in conn.rows(
            "SELECT collation_name FROM information_schema.collations"
            " WHERE character_set_name = 'utf8mb4'"
        )
    }
    collation = next((c for c in NO_PAD_COLLATIONS if c in available), None)
    if collation is None:
        return
    for table in tables.all() if only is None else only:
        if only is None and not has_table(conn, table):
            continue  # created by a later step, in the collation then
        conn.execute(f"ALTER TABLE {table} CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}")


def _create(conn: Connection, prefix: str, name: str) -> None:
    conn.execute(create_table(conn.dialect, prefix, name))
    for index in index_names(name):
        conn.execute(create_index(conn.dialect, prefix, name, index))


def _create_missing(conn: Connection, tables: Tables) -> None:
    """Create the tables and indexes not there yet. MySQL commits each CREATE on its own, so a
    first creation cut short (a lost connection, a killed instance) leaves some behind; the next
    cold start completes it instead of failing on "table already exists" for good."""
    for name in sorted(TABLES):
        table = f"{tables.prefix}_{name}"
        if not has_table(conn, table):
            _create(conn, tables.prefix, name)
            continue
        present = indexes_of(conn, table)
        for index in index_names(name):
            if f"{table}_{index}" not in present:
                conn.execute(create_index(conn.dialect, tables.prefix, name, index))


def _v4_broadcast(conn: Connection, tables: Tables) -> None:
    """v3 -> v4: ``send_log.broadcast_id`` and its index; campaigns, recipients, counters
    (in the exact-byte collation of step 3 on MySQL/MariaDB).

    Self-contained and safe to run on a database that already has part of it.
    """
    log = tables.send_log
    if "broadcast_id" not in column_names(conn, log):
        # no COLLATE: the column takes the table's (step 3's exact-byte one on MySQL)
        conn.execute(f"ALTER TABLE {log} ADD COLUMN broadcast_id VARCHAR(191) NULL")
    if f"{tables.prefix}_send_log_bcast" not in indexes_of(conn, log):
        conn.execute(create_index(conn.dialect, tables.prefix, "send_log", "bcast"))
    new = [name for name in ("campaigns", "counters", "recipients")
           if not has_table(conn, f"{tables.prefix}_{name}")]  # fmt: skip
    for name in new:
        _create(conn, tables.prefix, name)
    exact_collation(conn, tables, [f"{tables.prefix}_{name}" for name in new])


def _mark_readers(conn: Connection, tables: Tables) -> None:
    """Record READABLE_FROM (``<prefix>_schema_compat``) when older code may use the tables."""
    compat = f"{tables.prefix}_schema_compat"
    if has_table(conn, compat):
        conn.execute(f"DROP TABLE {compat}")  # an older release's marker
    if READABLE_FROM < SCHEMA_VERSION:
        conn.execute(f"CREATE TABLE {compat} (readable_from INT NOT NULL)")
        conn.execute(f"INSERT INTO {compat} (readable_from) VALUES (%s)", [READABLE_FROM])


def _add_summary_index(conn: Connection, tables: Tables) -> None:
    conn.execute(create_index(conn.dialect, tables.prefix, "send_log", "summary"))


def _v5_rollups(conn: Connection, tables: Tables) -> None:
    """v4 -> v5: the dashboard's rollups (``send_rollup``) and the ``send_log`` index that finds
    the records written since a rollup was counted. Safe to run on a database that has part."""
    if f"{tables.prefix}_send_log_updated" not in indexes_of(conn, tables.send_log):
        conn.execute(create_index(conn.dialect, tables.prefix, "send_log", "updated"))
    if not has_table(conn, tables.send_rollup):
        _create(conn, tables.prefix, "send_rollup")
        exact_collation(conn, tables, [tables.send_rollup])


#: MIGRATIONS[v](conn, tables) takes a database at version v-1 to v. Version 1 is creation.
MIGRATIONS: Dict[int, Callable[[Connection, Tables], None]] = {
    2: _add_summary_index,
    3: exact_collation,
    4: _v4_broadcast,
    5: _v5_rollups,
}

#: What each step does, for ``wxapush migrate``.
STEP_NOTES = {
    2: "add the send log's summary index (dashboard)",
    3: "convert every table to an exact-byte collation (MySQL/MariaDB: ALTER TABLE … CONVERT,"
    " which rewrites the send log; nothing on PostgreSQL)",
    4: "add send_log.broadcast_id and its index, campaigns, recipients, counters (broadcast)",
    5: "add the dashboard's rollups table and the send log's (appid, updated_at) index",
}

_ready: Set[Tuple[str, str]] = set()


def where(tables: Tables) -> str:
    return f"the {tables.prefix}_* tables"


def _read_versions(
    pool: Pool, tables: Tables, marker: bool = False
) -> Tuple[Optional[int], Optional[int]]:
    """(the schema version, ``readable_from``); None where absent. The marker is read for a
    newer schema only, unless ``marker``."""
    with pool.connection():
        pass  # the server must answer: failing to connect is not "no table yet"
    try:
        with pool.connection() as conn:
            version = conn.scalar(f"SELECT version FROM {tables.schema_version} WHERE id = 1")
    except pool.dialect.Error:  # no table yet: a fresh database
        return None, None
    if version is None or (int(version) <= SCHEMA_VERSION and not marker):
        return (None if version is None else int(version)), None
    try:
        with pool.connection() as conn:
            compat = conn.scalar(f"SELECT readable_from FROM {tables.prefix}_schema_compat")
    except pool.dialect.Error:  # no marker: a newer schema is unreadable
        compat = None
    return int(version), (None if compat is None else int(compat))


def ensure_schema(pool: Pool, key: str, tables: Tables, migrate: bool = True) -> None:
    """Create or migrate the tables if needed; checked once per process, database (``key``)
    and namespace. ``migrate=False`` (``WXAPUSH_MIGRATE=off``) refuses a schema that is behind
    instead of migrating it."""
    marker = (key, tables.prefix)
    if marker in _ready:
        return
    version, readable_from = _read_versions(pool, tables)
    if version is not None and version > SCHEMA_VERSION:
        readable(where(tables), version, readable_from, SCHEMA_VERSION)
    elif version != SCHEMA_VERSION:
        if not migrate:
            raise SchemaBehindError(where(tables), version, SCHEMA_VERSION)
        with pool.connection() as conn:
            for statement in pool.dialect.begin(None):
                conn.execute(statement)
            try:
                with schema_lock(conn, f"wxapush-schema-{tables.prefix}"):
                    _migrate(conn, tables)
                    conn.execute("COMMIT")  # before the lock is released: the next holder sees it
            except BaseException:
                pool.dialect.rollback(conn.raw)
                raise
    _ready.add(marker)


def _migrate(conn: Connection, tables: Tables) -> None:
    version_table = tables.schema_version
    version = None
    if has_table(conn, version_table):  # again, under the lock
        version = conn.scalar(f"SELECT version FROM {version_table} WHERE id = 1")
    if version is not None and version >= SCHEMA_VERSION:
        return  # migrated meanwhile by another instance (or a newer release, checked before)
    if version is None:
        _create_missing(conn, tables)
        exact_collation(conn, tables)  # a collation the CREATE TABLE cannot name portably
        conn.execute(
            f"INSERT INTO {version_table} (id, version, migrated_at) VALUES (%s, %s, %s)",
            [1, SCHEMA_VERSION, 0.0],
        )
    else:
        for step in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[step](conn, tables)
    _mark_readers(conn, tables)
    conn.execute(
        f"UPDATE {version_table} SET version = %s, migrated_at = %s WHERE id = %s",
        [SCHEMA_VERSION, time.time(), 1],
    )


def schema_state(pool: Pool, tables: Tables, backend: str) -> SchemaState:
    """The namespace's schema as ``wxapush migrate`` shows it; changes nothing."""
    version, readable_from = _read_versions(pool, tables, marker=True)
    pending: Tuple[str, ...] = ()
    if version is None or version < SCHEMA_VERSION:
        pending = describe_steps(STEP_NOTES, version, SCHEMA_VERSION)
    return SchemaState(backend, where(tables), version, SCHEMA_VERSION, pending, readable_from)
