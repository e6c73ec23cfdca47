"""The SQL backends' schema: created on first use, versioned, indexed for the log's queries,
and the same DDL wxapush has always created (a database made by an earlier release opens)."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.functional.store import _namespaces
from tests.functional.store._landed_ddl import LANDED_DDL
from tests.functional.store.conftest import _new_prefix, _with_prefix
from wxapush.store import SchemaVersionError, open_store
from wxapush.store.sql import SqlStore
from wxapush.store.sql.schema import SCHEMA_VERSION, indexes_of


@pytest.fixture(params=["postgres_url", "mysql_url"])
def fresh_sql(request: pytest.FixtureRequest) -> Iterator[str]:
    """A SQL URL whose prefix names no table yet."""
    server, prefix = request.getfixturevalue(request.param), _new_prefix()
    yield _with_prefix(server, prefix)
    _namespaces.drop_sql(server, prefix)


def _forget_checked_schemas() -> None:
    from wxapush.store.sql import schema

    schema._ready.clear()  # as a new process would: check the database again


def _open(url: str) -> SqlStore:
    store = open_store(url)
    assert isinstance(store, SqlStore)
    return store


def _version(store: SqlStore) -> int:
    with store.pool.connection() as conn:
        return int(conn.scalar(f"SELECT version FROM {store.tables.schema_version}"))


def test_first_use_creates_the_tables_at_the_current_version(fresh_sql: str) -> None:
    store = _open(fresh_sql)
    try:
        with store.pool.connection() as conn:
            indexes = indexes_of(conn, store.tables.send_log)
        assert _version(store) == SCHEMA_VERSION
        p = store.tables.prefix
        for name in ("time", "user", "tpl", "msgid", "created", "keyed", "summary", "bcast"):
            assert f"{p}_send_log_{name}" in indexes
    finally:
        store.close()


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_the_ddl_is_the_one_earlier_releases_created(dialect: str) -> None:
    from wxapush.store.sql.dialects import Dialect, MySQL, Postgres
    from wxapush.store.sql.tables import TABLES, create_index, create_table, index_names

    # the class attributes alone: rendering needs no driver
    d: Dialect = Postgres.__new__(Postgres) if dialect == "postgresql" else MySQL.__new__(MySQL)
    rendered = []
    v5 = {"send_rollup", "updated"}  # schema v5's table and index (the rollups): new, not changed
    for name in sorted(TABLES):
        if name not in v5:
            rendered.append(create_table(d, "pfx", name))
        rendered += [
            create_index(d, "pfx", name, index) for index in index_names(name) if index not in v5
        ]
    assert rendered == LANDED_DDL[dialect]


def test_a_database_created_by_an_earlier_release_opens_and_works(fresh_sql: str) -> None:
    from tests.functional.store.test_campaigns import APP, campaign, recipients
    from tests.functional.store.test_send_log import make
    from wxapush.store import TokenRecord

    prefix = fresh_sql.rpartition("prefix=")[2]
    with _namespaces.sql_connection(fresh_sql.rpartition("?")[0]) as conn:
        # what wxapush 0.1 (SQLAlchemy) did on first use: its DDL, its collation step, the row
        for statement in LANDED_DDL[conn.dialect.name]:
            conn.execute(statement.replace("pfx_", f"{prefix}_"))
        if conn.dialect.name == "mysql":
            for table in sorted({s.split()[2] for s in LANDED_DDL["mysql"] if "TABLE" in s}):
                conn.execute(
                    f"ALTER TABLE {table.replace('pfx_', f'{prefix}_')}"
                    " CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin"
                )
        conn.execute(
            f"INSERT INTO {prefix}_schema_version (id, version, migrated_at) VALUES (1, 4, 0)"
        )
    _forget_checked_schemas()
    store = _open(fresh_sql)
    try:
        record = make(key="k1")
        assert store.log.claim(record) == (record, True)
        assert store.log.claim(make(key="k1 "))[1] is True  # exact bytes, as before
        assert store.log.get(record.log_id) == record
        store.tokens.put_token("t", TokenRecord("tok", 1e10, 1.0))
        assert store.tokens.get_token("t") == TokenRecord("tok", 1e10, 1.0)
        assert store.campaigns.create(campaign(), recipients(2))[1] is True
        assert store.campaigns.counts(APP, "b1") == {"queued": 2}
        assert _version(store) == SCHEMA_VERSION
    finally:
        store.close()
        _forget_checked_schemas()


def test_a_database_of_a_newer_wxapush_is_refused(fresh_sql: str) -> None:
    store = _open(fresh_sql)
    try:
        with store.pool.connection() as conn:
            conn.execute(f"UPDATE {store.tables.schema_version} SET version = 99")
    finally:
        store.close()
    _forget_checked_schemas()
    with pytest.raises(SchemaVersionError, match="schema version 99"):
        open_store(fresh_sql)


def test_an_older_database_is_migrated_step_by_step(
    fresh_sql: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wxapush.store.sql import schema

    store = open_store(fresh_sql)
    store.close()
    # pretend this code is one version ahead, with one migration step to run
    steps: list[int] = []

    def step(conn: object, tables: schema.Tables) -> None:
        steps.append(1)

    monkeypatch.setattr(schema, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    monkeypatch.setitem(schema.MIGRATIONS, schema.SCHEMA_VERSION, step)
    _forget_checked_schemas()
    again = _open(fresh_sql)
    try:
        assert (steps, _version(again)) == ([1], schema.SCHEMA_VERSION)
    finally:
        again.close()
        _forget_checked_schemas()


def test_step_3_gives_a_version_2_mysql_database_exact_byte_keys(mysql_url: str) -> None:
    from tests.functional.store.test_send_log import make
    from wxapush.store.sql import schema

    prefix = _new_prefix()
    url = _with_prefix(mysql_url, prefix)
    try:
        store = _open(url)
        with store.pool.connection() as conn:  # back to what versions 1 and 2 had: PAD SPACE
            for table in store.tables.all():
                conn.execute(
                    f"ALTER TABLE {table} CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                )
            conn.execute(f"UPDATE {store.tables.schema_version} SET version = 2")
        assert store.log.claim(make(key="a"))[1] is True
        assert store.log.claim(make(key="a "))[1] is False  # the defect, at version 2
        store.close()
        _forget_checked_schemas()
        again = _open(url)
        try:
            assert _version(again) == schema.SCHEMA_VERSION
            assert again.log.claim(make(key="b"))[1] is True
            assert again.log.claim(make(key="b "))[1] is True
        finally:
            again.close()
    finally:
        _forget_checked_schemas()
        _namespaces.drop_sql(mysql_url, prefix)


def _drop_index(conn: object, table: str, name: str) -> None:
    from wxapush.store.sql.pool import Connection

    assert isinstance(conn, Connection)
    conn.execute(f"DROP INDEX {name}" + (f" ON {table}" if conn.dialect.name == "mysql" else ""))


def test_a_version_1_database_gets_the_summary_index(fresh_sql: str) -> None:
    store = _open(fresh_sql)
    name = f"{store.tables.prefix}_send_log_summary"
    try:
        with store.pool.connection() as conn:  # as wxapush 1 left it
            _drop_index(conn, store.tables.send_log, name)
            conn.execute(f"UPDATE {store.tables.schema_version} SET version = 1")
    finally:
        store.close()
    _forget_checked_schemas()
    again = _open(fresh_sql)
    try:
        with again.pool.connection() as conn:
            indexes = indexes_of(conn, again.tables.send_log)
        assert name in indexes and _version(again) == SCHEMA_VERSION
    finally:
        again.close()
        _forget_checked_schemas()


def test_a_version_2_database_gains_the_broadcast_tables(fresh_sql: str) -> None:
    from tests.functional.store.test_campaigns import APP, campaign, recipients
    from tests.functional.store.test_send_log import make

    store = _open(fresh_sql)
    t = store.tables
    try:  # back to version 2, as an older wxapush left them: steps 3 and 4 then run
        with store.pool.connection() as conn:
            for table in (t.campaigns, t.recipients, t.counters):
                conn.execute(f"DROP TABLE {table}")
            _drop_index(conn, t.send_log, f"{t.prefix}_send_log_bcast")
            conn.execute(f"ALTER TABLE {t.send_log} DROP COLUMN broadcast_id")
            conn.execute(f"UPDATE {t.schema_version} SET version = 2")
    finally:
        store.close()
    _forget_checked_schemas()
    again = _open(fresh_sql)
    try:
        record = make(broadcast_id="b1")
        again.log.claim(record)
        assert again.log.get(record.log_id) == record
        assert again.campaigns.create(campaign(), recipients(3))[1] is True
        assert again.campaigns.counts(APP, "b1") == {"queued": 3}
        assert again.counters.take("cap:x", 1, 60) is True
    finally:
        again.close()
        _forget_checked_schemas()
