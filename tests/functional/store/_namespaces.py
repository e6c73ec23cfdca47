"""One test namespace on a shared server: its Redis keys, its SQL tables (``<prefix>_*``)."""

from __future__ import annotations

from typing import Any


def drop_redis(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        names = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(names), 500):
            client.delete(*names[start : start + 500])
    finally:
        client.close()


def _engine(url: str) -> Any:
    import sqlalchemy as sa

    from wxapush.store.sql.dialects import engine_url

    return sa.create_engine(engine_url(url), poolclass=sa.pool.NullPool)


def drop_sql(url: str, prefix: str) -> None:
    import sqlalchemy as sa

    engine = _engine(url)
    try:
        with engine.begin() as conn:
            for name in sa.inspect(conn).get_table_names():
                if name.startswith(f"{prefix}_"):
                    conn.execute(sa.text(f"DROP TABLE {name}"))
    finally:
        engine.dispose()


def empty_sql(url: str, prefix: str) -> None:
    """Delete every row but the schema version (the tables stay: DDL is slow on MariaDB)."""
    import sqlalchemy as sa

    from wxapush.store.sql.schema import build_tables

    tables = build_tables(prefix)
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            present = set(sa.inspect(conn).get_table_names())
            for table in tables.metadata.sorted_tables:
                if table is not tables.schema_version and table.name in present:
                    conn.execute(table.delete())
    finally:
        engine.dispose()
