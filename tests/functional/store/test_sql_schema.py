"""The SQL backends' schema: created on first use, versioned, indexed for the log's queries."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.functional.store import _namespaces
from tests.functional.store.conftest import _new_prefix, _with_prefix
from wxapush.store import SchemaVersionError, open_store
from wxapush.store.sql.schema import SCHEMA_VERSION

sa = pytest.importorskip("sqlalchemy")


@pytest.fixture(params=["postgres_url", "mysql_url"])
def fresh_sql(request: pytest.FixtureRequest) -> Iterator[str]:
    """A SQL URL whose prefix names no table yet."""
    server, prefix = request.getfixturevalue(request.param), _new_prefix()
    yield _with_prefix(server, prefix)
    _namespaces.drop_sql(server, prefix)


def _forget_checked_schemas() -> None:
    from wxapush.store.sql import schema

    schema._ready.clear()  # as a new process would: check the database again


def test_first_use_creates_the_tables_at_the_current_version(fresh_sql: str) -> None:
    from wxapush.store.sql import SCHEMA_VERSION, SqlStore

    store = open_store(fresh_sql)
    try:
        assert isinstance(store, SqlStore)
        with store.engine.connect() as conn:
            version = conn.execute(sa.select(store.tables.schema_version.c.version)).scalar()
            indexes = {
                ix["name"] for ix in sa.inspect(conn).get_indexes(store.tables.send_log.name)
            }
        assert version == SCHEMA_VERSION
        p = store.tables.prefix
        for name in ("time", "user", "tpl", "msgid", "created", "keyed", "summary"):
            assert f"{p}_send_log_{name}" in indexes
    finally:
        store.close()


def test_a_database_of_a_newer_wxapush_is_refused(fresh_sql: str) -> None:
    store = open_store(fresh_sql)
    try:
        with store.engine.begin() as conn:
            conn.execute(store.tables.schema_version.update().values(version=99))
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
    again = open_store(fresh_sql)
    try:
        with again.engine.connect() as conn:
            version = conn.execute(sa.select(again.tables.schema_version.c.version)).scalar()
        assert (steps, version) == ([1], schema.SCHEMA_VERSION)
    finally:
        again.close()
        _forget_checked_schemas()


def test_step_3_gives_a_version_2_mysql_database_exact_byte_keys(mysql_url: str) -> None:
    from tests.functional.store.test_send_log import make
    from wxapush.store.sql import schema

    prefix = _new_prefix()
    url = _with_prefix(mysql_url, prefix)
    try:
        store = open_store(url)
        with store.engine.begin() as conn:  # back to what versions 1 and 2 had: PAD SPACE
            for table in store.tables.metadata.sorted_tables:
                conn.execute(
                    sa.text(
                        f"ALTER TABLE {table.name} CONVERT TO CHARACTER SET utf8mb4"
                        " COLLATE utf8mb4_bin"
                    )
                )
            conn.execute(store.tables.schema_version.update().values(version=2))
        assert store.log.claim(make(key="a"))[1] is True
        assert store.log.claim(make(key="a "))[1] is False  # the defect, at version 2
        store.close()
        _forget_checked_schemas()
        again = open_store(url)
        try:
            with again.engine.connect() as conn:
                version = conn.execute(sa.select(again.tables.schema_version.c.version)).scalar()
            assert version == schema.SCHEMA_VERSION
            assert again.log.claim(make(key="b"))[1] is True
            assert again.log.claim(make(key="b "))[1] is True
        finally:
            again.close()
    finally:
        _forget_checked_schemas()
        _namespaces.drop_sql(mysql_url, prefix)


def test_a_version_1_database_gets_the_summary_index(fresh_sql: str) -> None:
    store = open_store(fresh_sql)
    name = f"{store.tables.prefix}_send_log_summary"
    try:
        index = next(i for i in store.tables.send_log.indexes if i.name == name)
        with store.engine.begin() as conn:  # as wxapush 1 left it
            index.drop(conn)
            conn.execute(store.tables.schema_version.update().values(version=1))
    finally:
        store.close()
    _forget_checked_schemas()
    again = open_store(fresh_sql)
    try:
        with again.engine.connect() as conn:
            indexes = {
                ix["name"] for ix in sa.inspect(conn).get_indexes(again.tables.send_log.name)
            }
            version = conn.execute(sa.select(again.tables.schema_version.c.version)).scalar()
        assert name in indexes and version == SCHEMA_VERSION
    finally:
        again.close()
        _forget_checked_schemas()


def test_a_version_2_database_gains_the_broadcast_tables(fresh_sql: str) -> None:
    from tests.functional.store.test_campaigns import APP, campaign, recipients
    from tests.functional.store.test_send_log import make
    from wxapush.store.sql import SqlStore

    store = open_store(fresh_sql)
    assert isinstance(store, SqlStore)
    t = store.tables
    try:  # back to version 2, as an older wxapush left them: steps 3 and 4 then run
        with store.engine.begin() as conn:
            for table in (t.campaigns, t.recipients, t.counters):
                table.drop(conn)
            conn.execute(
                sa.text(
                    f"DROP INDEX {t.prefix}_send_log_bcast"
                    + (f" ON {t.send_log.name}" if conn.dialect.name == "mysql" else "")
                )
            )
            conn.execute(sa.text(f"ALTER TABLE {t.send_log.name} DROP COLUMN broadcast_id"))
            conn.execute(t.schema_version.update().values(version=2))
    finally:
        store.close()
    _forget_checked_schemas()
    again = open_store(fresh_sql)
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
