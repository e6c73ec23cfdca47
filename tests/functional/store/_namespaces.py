"""One test namespace on a shared server: its Redis keys, its SQL tables (``<prefix>_*``)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from wxapush.store.sql.pool import Connection


def drop_redis(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        names = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(names), 500):
            client.delete(*names[start : start + 500])
    finally:
        client.close()


@contextmanager
def sql_connection(url: str) -> Iterator[Connection]:
    """A connection of its own (no pool) to the database a SQL store URL names, in autocommit."""
    from wxapush.store.sql.dialects import dialect_for
    from wxapush.store.sql.urls import parse_url

    target = parse_url(url)
    dialect = dialect_for(target.dialect)
    raw = dialect.connect(target.connect_args)
    try:
        yield Connection(raw, dialect)
    finally:
        dialect.close(raw)


def _tables(conn: Connection, prefix: str) -> list[str]:
    where = "current_schema()" if conn.dialect.name == "postgresql" else "DATABASE()"
    rows = conn.rows(
        f"SELECT table_name FROM information_schema.tables WHERE table_schema = {where}"
    )
    return [str(row[0]) for row in rows if str(row[0]).startswith(f"{prefix}_")]


def drop_sql(url: str, prefix: str) -> None:
    with sql_connection(url) as conn:
        for name in _tables(conn, prefix):
            conn.execute(f"DROP TABLE {name}")


def empty_sql(url: str, prefix: str) -> None:
    """Delete every row but the schema version (the tables stay: DDL is slow on MariaDB)."""
    with sql_connection(url) as conn:
        present = _tables(conn, prefix)
        conn.execute("BEGIN")
        for name in present:
            if name != f"{prefix}_schema_version":
                conn.execute(f"DELETE FROM {name}")
        conn.execute("COMMIT")
