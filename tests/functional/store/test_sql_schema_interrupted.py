"""A first schema creation cut short opens on the next cold start (found by the store-fault
soak: MySQL commits each CREATE TABLE on its own, so a connection lost midway left some tables
and every later open failed on "table already exists")."""

from __future__ import annotations

from tests.functional.store import _namespaces
from tests.functional.store.test_sql_schema import (
    _forget_checked_schemas,
    _open,
    _version,
    fresh_sql,
)
from wxapush.store.sql.schema import SCHEMA_VERSION, _create

__all__ = ["fresh_sql"]  # the fixture, used below


def test_a_creation_cut_short_is_completed(fresh_sql: str) -> None:
    server, _, prefix = fresh_sql.rpartition("prefix=")
    with _namespaces.sql_connection(server.rstrip("?&")) as conn:
        for name in ("campaigns", "counters", "send_log"):  # these made it, the rest did not
            _create(conn, prefix, name)
        index = f"{prefix}_send_log_time"
        mysql = conn.dialect.name == "mysql"
        conn.execute(f"DROP INDEX {index}" + (f" ON {prefix}_send_log" if mysql else ""))
    _forget_checked_schemas()
    store = _open(fresh_sql)
    try:
        assert _version(store) == SCHEMA_VERSION
        with store.pool.connection() as conn:
            assert f"{prefix}_send_log_time" in {
                str(r[0])
                for r in conn.rows(
                    "SELECT indexname FROM pg_indexes WHERE tablename = %s"
                    if conn.dialect.name == "postgresql"
                    else "SELECT index_name FROM information_schema.statistics"
                    " WHERE table_schema = DATABASE() AND table_name = %s",
                    [f"{prefix}_send_log"],
                )
            }
        assert store.grants.grant("wx1", "oUser1", "TPL_A") == 1
    finally:
        store.close()
