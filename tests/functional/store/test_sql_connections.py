"""SQL pool behaviour a serverless instance relies on: a connection the server dropped while the
instance was frozen is replaced before use, not reported as an error; old connections are
recycled; a forked child never uses its parent's sockets; deadlock victims run again."""

from __future__ import annotations

import os
import time
from typing import Any, Iterator, List

import pytest

from tests.functional.store import _namespaces
from tests.functional.store.conftest import _new_prefix, _with_prefix
from wxapush.store import LogPage, LogQuery, open_store
from wxapush.store.sql import SqlStore
from wxapush.store.sql.pool import Connection


@pytest.fixture(params=["postgres_url", "mysql_url"])
def sql_store(request: pytest.FixtureRequest) -> Iterator[SqlStore]:
    server, prefix = request.getfixturevalue(request.param), _new_prefix()
    store = open_store(_with_prefix(server, prefix))
    assert isinstance(store, SqlStore)
    store._test_server = server  # type: ignore[attr-defined]
    yield store
    store.close()
    _namespaces.drop_sql(server, prefix)


def _session_id(conn: Connection) -> int:
    postgres = conn.dialect.name == "postgresql"
    return int(conn.scalar("SELECT pg_backend_pid()" if postgres else "SELECT CONNECTION_ID()"))


def test_a_connection_killed_while_idle_is_replaced(
    sql_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wxapush.store.sql import pool

    with sql_store.pool.connection() as conn:  # the pooled connection the next call will get
        victim = _session_id(conn)
    with _namespaces.sql_connection(sql_store._test_server) as killer:  # type: ignore[attr-defined]
        # the server closes it, as after an instance's long freeze
        postgres = killer.dialect.name == "postgresql"
        killer.execute(f"SELECT pg_terminate_backend({victim})" if postgres else f"KILL {victim}")
    monkeypatch.setattr(pool, "IDLE_PING", 0.0)  # "idle long enough" without sleeping
    assert sql_store.log.query(LogQuery("wx1", 0, 1)) == LogPage(0, [])
    assert sql_store.grants.grant("wx1", "oUser1", "TPL_A") == 1
    with sql_store.pool.connection() as conn:
        assert _session_id(conn) != victim


def _wait_until_gone(sql_store: SqlStore, victim: int) -> None:
    """Until the server has ended session ``victim`` (``pg_terminate_backend`` only signals)."""
    with _namespaces.sql_connection(sql_store._test_server) as looker:  # type: ignore[attr-defined]
        postgres = looker.dialect.name == "postgresql"
        sessions = (
            "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = %s"
            if postgres
            else "SELECT COUNT(*) FROM information_schema.processlist WHERE id = %s"
        )
        for _ in range(200):
            if not looker.scalar(sessions, [victim]):
                return
            time.sleep(0.01)
    raise AssertionError(f"session {victim} still there")


def test_a_connection_the_server_closed_is_replaced_without_a_ping(
    sql_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19, finding 9: a pooled connection killed while idle (not idle long enough to be
    pinged) is found at checkout by its readable socket, and the caller never sees it."""
    with sql_store.pool.connection() as conn:
        victim = _session_id(conn)
    with _namespaces.sql_connection(sql_store._test_server) as killer:  # type: ignore[attr-defined]
        postgres = killer.dialect.name == "postgresql"
        killer.execute(f"SELECT pg_terminate_backend({victim})" if postgres else f"KILL {victim}")
    _wait_until_gone(sql_store, victim)
    pings: List[Any] = []
    dialect = sql_store.pool.dialect
    monkeypatch.setattr(dialect, "ping", lambda raw: pings.append(raw) or True)
    assert sql_store.grants.grant("wx1", "oUser9", "TPL_A") == 1
    with sql_store.pool.connection() as conn:
        assert _session_id(conn) != victim
    assert pings == []


def test_a_busy_connection_is_not_pinged(
    sql_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: List[Any] = []
    dialect = sql_store.pool.dialect
    monkeypatch.setattr(dialect, "ping", lambda raw: pings.append(raw) or True)
    sql_store.grants.balance("wx1", "oUser1", "TPL_A")
    sql_store.grants.balance("wx1", "oUser1", "TPL_A")
    assert pings == []  # used a moment ago: straight to work, no round trip


def test_an_old_connection_is_recycled(
    sql_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wxapush.store.sql import pool

    with sql_store.pool.connection() as conn:
        first = _session_id(conn)
    monkeypatch.setattr(pool, "RECYCLE", 0.0)
    with sql_store.pool.connection() as conn:
        assert _session_id(conn) != first


def test_the_pool_keeps_two_idle_connections(sql_store: SqlStore) -> None:
    pool = sql_store.pool
    with pool.connection() as a, pool.connection() as b, pool.connection() as c:
        ids = {_session_id(a), _session_id(b), _session_id(c)}
    assert len(ids) == 3
    with pool.connection() as a, pool.connection() as b:
        again = {_session_id(a), _session_id(b)}
    assert len(again & ids) == 2  # two were kept, the third closed


def _reported_by_child(pid: int, read: int, write: int) -> int:
    """The session id a forked child wrote to the pipe, once it exited cleanly."""
    os.close(write)
    child = int(os.read(read, 64).decode() or "0")
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return child


def test_a_forked_child_opens_its_own_connection(sql_store: SqlStore) -> None:
    with sql_store.pool.connection() as conn:
        parent = _session_id(conn)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the session it gets, then leave without cleanup
        code = 1
        try:
            with sql_store.pool.connection() as conn:
                os.write(write, str(_session_id(conn)).encode())
            sql_store.grants.grant("wx1", "oChild", "TPL_A")
            code = 0
        finally:
            os._exit(code)
    assert _reported_by_child(pid, read, write) not in (0, parent)
    with sql_store.pool.connection() as conn:  # the parent's own is intact and still pooled
        assert _session_id(conn) == parent
    assert sql_store.grants.balance("wx1", "oChild", "TPL_A") == 1


def test_a_server_side_kill_after_many_uses_costs_one_call(
    sql_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reusing an idle connection must not count as opening one: after more uses than the
    pool's limit, a killed connection is replaced, never a pool that believes itself full."""
    from wxapush.store.sql import pool

    for _ in range(3 * pool.MAX_OPEN):
        sql_store.grants.balance("wx1", "oUser1", "TPL_A")
    with sql_store.pool.connection() as conn:
        victim = _session_id(conn)
    with _namespaces.sql_connection(sql_store._test_server) as killer:  # type: ignore[attr-defined]
        postgres = killer.dialect.name == "postgresql"
        killer.execute(f"SELECT pg_terminate_backend({victim})" if postgres else f"KILL {victim}")
    _wait_until_gone(sql_store, victim)
    monkeypatch.setattr(pool, "TIMEOUT", 1.0)
    for _ in range(3):  # every call works: the dead socket is found at checkout
        assert sql_store.grants.grant("wx1", "oUser1", "TPL_A") >= 1
    pool_ = sql_store.pool
    with pool_.connection() as a, pool_.connection() as b:  # two at once: nothing "in use"
        assert _session_id(a) != _session_id(b)


def test_a_connection_checked_out_across_a_fork_is_not_pooled_in_the_child(
    sql_store: SqlStore,
) -> None:
    read, write = os.pipe()
    with sql_store.pool.connection() as held:
        parent = _session_id(held)
        pid = os.fork()
    if pid == 0:  # the child gave the parent's connection back on leaving the block
        code = 1
        try:
            with sql_store.pool.connection() as conn:
                os.write(write, str(_session_id(conn)).encode())
            code = 0
        finally:
            os._exit(code)
    assert _reported_by_child(pid, read, write) not in (0, parent)


def _try_again_errors(dialect: str) -> List[Exception]:
    """The driver's exceptions for a deadlock, a serialization failure, a lock wait timeout."""
    if dialect == "postgresql":
        import psycopg.errors

        return [
            psycopg.errors.DeadlockDetected("deadlock detected"),
            psycopg.errors.SerializationFailure("could not serialize access"),
        ]
    import pymysql

    return [
        pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock"),
        pymysql.err.OperationalError(1205, "Lock wait timeout exceeded"),
    ]


@pytest.mark.parametrize("which", [0, 1])
def test_a_deadlock_victim_runs_again(sql_store: SqlStore, which: int) -> None:
    from wxapush.store.sql.dialects import transaction

    victim = _try_again_errors(sql_store.pool.dialect.name)[which]
    runs: List[int] = []

    def work(conn: Connection) -> int:
        runs.append(1)
        if len(runs) < 3:
            raise victim
        return int(conn.scalar("SELECT 7"))

    assert transaction(sql_store.pool, work) == 7
    assert len(runs) == 3


def test_the_drivers_own_url_options_reach_it(request: pytest.FixtureRequest) -> None:
    postgres = request.getfixturevalue("postgres_url")
    mysql = request.getfixturevalue("mysql_url")
    prefix = _new_prefix()
    checks = [
        (f"{postgres}?application_name=wxapush-probe", "SELECT current_setting('application_name')",
         "wxapush-probe"),
        (f"{mysql}?init_command=SET+@wxapush_probe%3D7&read_timeout=30",
         "SELECT @wxapush_probe", 7),
    ]  # fmt: skip
    for server, sql, expected in checks:
        store = open_store(_with_prefix(server, prefix))
        assert isinstance(store, SqlStore)
        try:
            with store.pool.connection() as conn:
                assert conn.scalar(sql) == expected
        finally:
            store.close()
            _namespaces.drop_sql(server.partition("?")[0], prefix)


def test_other_errors_are_not_retried(sql_store: SqlStore) -> None:
    from wxapush.store.sql.dialects import transaction

    runs: List[int] = []

    def work(conn: Connection) -> None:
        runs.append(1)
        conn.execute("SELECT no_such_column FROM no_such_table")

    with pytest.raises(sql_store.pool.dialect.Error):
        transaction(sql_store.pool, work)
    assert runs == [1]
    assert sql_store.grants.grant("wx1", "oUser1", "TPL_A") == 1  # the pool still serves


def test_a_failed_transaction_is_rolled_back(sql_store: SqlStore) -> None:
    t = sql_store.tables.grants
    with pytest.raises(RuntimeError), sql_store.pool.begin() as conn:
        conn.execute(
            f"INSERT INTO {t} (appid, openid, template_id, balance, updated_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            ["wx1", "oGone", "TPL_A", 5, 0.0],
        )
        raise RuntimeError("the work failed after its insert")
    assert sql_store.grants.balance("wx1", "oGone", "TPL_A") is None
