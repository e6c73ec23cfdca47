"""The SQL schema: tables under a prefix, created on first use, versioned for later changes.

``<prefix>_schema_version`` holds one row with the version. A fresh database gets the current
tables at once; a database at an older version is brought up by the steps of ``MIGRATIONS``
(``MIGRATIONS[v]`` takes version v-1 to v, e.g. an ``ALTER TABLE``), under a lock so that cold
instances starting together migrate once. A database newer than this code is refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence, Set, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from wxapush.store.base import SchemaVersionError
from wxapush.store.sql.dialects import schema_lock

SCHEMA_VERSION = 4

# MySQL: binary collation, because openids, template ids and idempotency keys are
# case-sensitive (the default *_ci collations would make "Order-1" and "order-1" one key).
_MYSQL: Dict[str, Any] = {
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
    "mysql_engine": "InnoDB",
}
_ID = 191  # the longest VARCHAR whose utf8mb4 bytes fit any MySQL index (767 bytes)


@dataclass(frozen=True)
class Tables:
    prefix: str
    metadata: sa.MetaData
    schema_version: sa.Table
    tokens: sa.Table
    locks: sa.Table
    send_log: sa.Table
    grants: sa.Table
    templates: sa.Table
    template_sync: sa.Table
    seen_events: sa.Table
    rate_limits: sa.Table
    campaigns: sa.Table
    recipients: sa.Table
    counters: sa.Table


def _col(name: str, type_: Any, nullable: bool = False, **kw: Any) -> sa.Column[Any]:
    return sa.Column(name, type_, nullable=nullable, **kw)


def build_tables(prefix: str) -> Tables:
    """The tables of one namespace (``<prefix>_send_log`` …)."""
    md = sa.MetaData()
    p = f"{prefix}_"
    s, f, i, big, text = sa.String, sa.Double, sa.Integer, sa.BigInteger, sa.Text

    def table(name: str, *items: sa.schema.SchemaItem) -> sa.Table:
        return sa.Table(p + name, md, *items, **_MYSQL)

    send_log = table(
        "send_log",
        _col("log_id", s(32), primary_key=True),
        _col("appid", s(64)),
        _col("touser", s(_ID)),
        _col("template_id", s(_ID)),
        _col("page", text(), nullable=True),
        _col("data", text()),
        _col("miniprogram_state", s(64)),
        _col("lang", s(64)),
        _col("status", s(16)),
        _col("created_at", f()),
        _col("updated_at", f()),
        _col("errcode", i(), nullable=True),
        _col("errmsg", text(), nullable=True),
        _col("msgid", big(), nullable=True),  # unsigned 64-bit, stored as base.msgid_to_i64
        _col("attempts", i()),
        _col("idempotency_key", s(_ID), nullable=True),
        _col("payload_hash", s(64), nullable=True),
        _col("broadcast_id", s(_ID), nullable=True),  # schema v4
        # NULL keys never collide (both databases), so unkeyed sends share the index freely.
        sa.UniqueConstraint("appid", "idempotency_key", name=p + "send_log_idem"),
        # The page queries walk these backwards (newest first), one per filter.
        sa.Index(p + "send_log_time", "appid", "created_at", "log_id"),
        sa.Index(p + "send_log_user", "appid", "touser", "created_at", "log_id"),
        sa.Index(p + "send_log_tpl", "appid", "template_id", "created_at", "log_id"),
        sa.Index(p + "send_log_msgid", "appid", "msgid"),
        sa.Index(p + "send_log_bcast", "appid", "broadcast_id", "created_at", "log_id"),
        sa.Index(p + "send_log_created", "created_at"),  # prune, across apps
        # SendLog.summarize reads these columns only: answered from the index alone.
        sa.Index(p + "send_log_summary", "appid", "created_at", "template_id", "status", "errcode"),
        # expire_idempotency: the keyed records only (NULLs sort apart in MySQL's index).
        sa.Index(
            p + "send_log_keyed",
            "idempotency_key",
            "created_at",
            postgresql_where=sa.text("idempotency_key IS NOT NULL"),
        ),
    )
    return Tables(
        prefix=prefix,
        metadata=md,
        schema_version=table(
            "schema_version",
            _col("id", i(), primary_key=True, autoincrement=False),
            _col("version", i()),
            _col("migrated_at", f()),
        ),
        tokens=table(
            "tokens",
            _col("token_key", s(_ID), primary_key=True),
            _col("token", text()),
            _col("expires_at", f()),
            _col("fetched_at", f()),
        ),
        locks=table(
            "locks",
            _col("name", s(_ID), primary_key=True),
            _col("owner", s(_ID)),
            _col("expires_at", f()),
        ),
        send_log=send_log,
        grants=table(
            "grants",
            _col("appid", s(64), primary_key=True),
            _col("openid", s(_ID), primary_key=True),
            _col("template_id", s(_ID), primary_key=True),
            _col("balance", i()),
            _col("updated_at", f()),
        ),
        templates=table(
            "templates",
            _col("appid", s(64), primary_key=True),
            _col("template_id", s(_ID), primary_key=True),
            _col("position", i()),
            _col("title", text()),
            _col("type", i()),
            _col("keywords", text()),
            _col("enum_values", text()),
            _col("content", text()),
        ),
        template_sync=table(
            "template_sync", _col("appid", s(64), primary_key=True), _col("synced_at", f())
        ),
        seen_events=table(
            "seen_events", _col("event_key", s(_ID), primary_key=True), _col("expires_at", f())
        ),
        rate_limits=table(
            "rate_limits", _col("bucket", s(_ID), primary_key=True), _col("tat", big())
        ),
        **_campaign_tables(table, p),
    )


#: MySQL collations that compare exact bytes: binary *and* NO PAD. ``utf8mb4_bin`` is PAD SPACE
#: (``'a' = 'a '``: two idempotency keys would collide, a ``touser`` filter would match a
#: trailing-space variant). MySQL 8 has ``utf8mb4_0900_bin``, MariaDB ``utf8mb4_nopad_bin``.
NO_PAD_COLLATIONS = ("utf8mb4_0900_bin", "utf8mb4_nopad_bin")


def exact_collation(
    conn: Connection, tables: Tables, only: Optional[Sequence[sa.Table]] = None
) -> None:
    """Schema step 3 (MySQL/MariaDB only; nothing on PostgreSQL, which compares bytes): convert
    every table of the namespace to a binary NO PAD collation, so that keys and filters compare
    exact bytes. A server with neither collation (MySQL 5.7) keeps ``utf8mb4_bin``. ``only``:
    these tables (a later step's new ones); tables not created yet are skipped."""
    if conn.dialect.name != "mysql":
        return
    available = set(
        conn.execute(
            sa.text(
                "SELECT collation_name FROM information_schema.collations"
                " WHERE character_set_name = 'utf8mb4'"
            )
        ).scalars()
    )
    collation = next((c for c in NO_PAD_COLLATIONS if c in available), None)
    if collation is None:
        return
    inspector = sa.inspect(conn)
    for table in tables.metadata.sorted_tables if only is None else only:
        if only is None and not inspector.has_table(table.name):
            continue  # created by a later step, in the collation then
        conn.execute(
            sa.text(
                f"ALTER TABLE {table.name} CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}"
            )
        )


def _campaign_tables(table: Callable[..., sa.Table], p: str) -> Dict[str, sa.Table]:
    """Schema v4: broadcast campaigns, their recipients (the queue) and the cap's counters."""
    s, f, i, text = sa.String, sa.Double, sa.Integer, sa.Text
    return {
        "campaigns": table(
            "campaigns",
            _col("appid", s(64), primary_key=True),
            _col("broadcast_id", s(_ID), primary_key=True),
            _col("template_id", s(_ID)),
            _col("page", text(), nullable=True),
            _col("data", text()),
            _col("miniprogram_state", s(64)),
            _col("lang", s(64)),
            _col("status", s(16)),
            _col("total", i()),
            _col("created_at", f()),
            _col("updated_at", f()),
            _col("request_hash", s(64)),
        ),
        # due_at: when the recipient may next be leased (its lease's end while leased)
        "recipients": table(
            "recipients",
            _col("appid", s(64), primary_key=True),
            _col("broadcast_id", s(_ID), primary_key=True),
            _col("seq", i(), primary_key=True, autoincrement=False),
            _col("touser", s(_ID)),
            _col("data", text(), nullable=True),
            _col("state", s(16)),
            _col("due_at", f()),
            _col("owner", s(64), nullable=True),
            _col("attempts", i()),
            sa.Index(p + "recipients_due", "appid", "state", "due_at"),
            sa.Index(p + "recipients_open", "appid", "broadcast_id", "state"),
        ),
        "counters": table(
            "counters",
            _col("counter_key", s(_ID), primary_key=True),
            _col("count", i()),
            _col("expires_at", f()),
        ),
    }


def _v4_broadcast(conn: Connection, tables: Tables) -> None:
    """v3 -> v4: ``send_log.broadcast_id`` and its index; campaigns, recipients, counters
    (in the exact-byte collation of step 3 on MySQL/MariaDB).

    Self-contained and safe to run on a database that already has part of it.
    """
    log = tables.send_log
    inspector = sa.inspect(conn)
    if "broadcast_id" not in {c["name"] for c in inspector.get_columns(log.name)}:
        # no COLLATE: the column takes the table's (step 3's exact-byte one on MySQL)
        conn.execute(sa.text(f"ALTER TABLE {log.name} ADD COLUMN broadcast_id VARCHAR(191) NULL"))
    present = {ix["name"] for ix in inspector.get_indexes(log.name)}
    for index in log.indexes:
        if index.name == f"{tables.prefix}_send_log_bcast" and index.name not in present:
            index.create(conn)
    new = [t for t in (tables.campaigns, tables.recipients, tables.counters)
           if not inspector.has_table(t.name)]  # fmt: skip
    for table in new:
        table.create(conn)
    exact_collation(conn, tables, new)


def _add_summary_index(conn: Connection, tables: Tables) -> None:
    index = next(
        i for i in tables.send_log.indexes if i.name == f"{tables.prefix}_send_log_summary"
    )
    index.create(conn)


#: MIGRATIONS[v](conn, tables) takes a database at version v-1 to v. Version 1 is creation.
MIGRATIONS: Dict[int, Callable[[Connection, Tables], None]] = {
    2: _add_summary_index,
    3: exact_collation,
    4: _v4_broadcast,
}

_ready: Set[Tuple[str, str]] = set()


def ensure_schema(engine: Engine, tables: Tables) -> None:
    """Create or migrate the tables if needed; checked once per process and namespace."""
    marker = (str(engine.url), tables.prefix)
    if marker in _ready:
        return
    version_row = sa.select(tables.schema_version.c.version).where(tables.schema_version.c.id == 1)
    try:
        with engine.connect() as conn:
            version = conn.execute(version_row).scalar()
    except sa.exc.DBAPIError:  # no table yet: a fresh database
        version = None
    if version != SCHEMA_VERSION:
        with engine.connect() as conn, schema_lock(conn, f"wxapush-schema-{tables.prefix}"):
            _migrate(conn, tables)
            conn.commit()  # before the lock is released: the next holder must see it all
    _ready.add(marker)


def _migrate(conn: Connection, tables: Tables) -> None:
    version_table = tables.schema_version
    version = None
    if sa.inspect(conn).has_table(version_table.name):  # again, under the lock
        version = conn.execute(sa.select(version_table.c.version)).scalar()
    if version is not None and version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"the {tables.prefix}_* tables have schema version {version};"
            f" this wxapush reads up to {SCHEMA_VERSION}"
        )
    if version is None:
        tables.metadata.create_all(conn)
        exact_collation(conn, tables)  # a collation create_all cannot name portably
        conn.execute(version_table.insert().values(id=1, version=SCHEMA_VERSION, migrated_at=0))
    else:
        for step in range(version + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[step](conn, tables)
    conn.execute(
        version_table.update()
        .where(version_table.c.id == 1)
        .values(version=SCHEMA_VERSION, migrated_at=time.time())
    )
