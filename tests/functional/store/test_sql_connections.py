"""SQL pool behaviour a serverless instance relies on: a connection the server dropped while the
instance was frozen is replaced before use, not reported as an error."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.functional.store import _namespaces
from tests.functional.store.conftest import _new_prefix, _with_prefix
from wxapush.store import LogPage, LogQuery, Store, open_store

sa = pytest.importorskip("sqlalchemy")


@pytest.fixture(params=["postgres_url", "mysql_url"])
def sql_store(request: pytest.FixtureRequest) -> Iterator[Store]:
    server, prefix = request.getfixturevalue(request.param), _new_prefix()
    store = open_store(_with_prefix(server, prefix))
    yield store
    store.close()
    _namespaces.drop_sql(server, prefix)


def test_a_connection_killed_while_idle_is_replaced(
    sql_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wxapush.store.sql import dialects

    engine = sql_store.engine  # type: ignore[attr-defined]
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:  # the pooled connection the next call will get
        victim = conn.execute(
            sa.text("SELECT pg_backend_pid()" if postgres else "SELECT CONNECTION_ID()")
        ).scalar()
    killer = sa.create_engine(engine.url, poolclass=sa.pool.NullPool)
    with killer.connect() as conn:  # the server closes it, as after an instance's long freeze
        conn.execute(
            sa.text(f"SELECT pg_terminate_backend({victim})" if postgres else f"KILL {victim}")
        )
        conn.commit()
    killer.dispose()
    monkeypatch.setattr(dialects, "IDLE_PING", 0.0)  # "idle long enough" without sleeping
    assert sql_store.log.query(LogQuery("wx1", 0, 1)) == LogPage(0, [])
    assert sql_store.grants.grant("wx1", "oUser1", "TPL_A") == 1
