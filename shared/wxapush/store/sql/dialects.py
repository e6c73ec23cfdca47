"""Everything that differs between PostgreSQL and MySQL/MariaDB, in one place.

URLs map to drivers (``postgresql://`` -> psycopg 3, ``mysql://``/``mariadb://`` -> PyMySQL),
engines are shared per URL per process with a pool sized for a function instance, and the few
statements SQL never standardised — insert-or-ignore, upsert, a lock around schema changes — are
written here once for each dialect.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, Mapping, Sequence, TypeVar
from urllib.parse import quote, unquote

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Connection, Engine

from wxapush.store.base import StoreURLError
from wxapush.store.connections import SharedHandles

#: scheme as written -> SQLAlchemy's name for it with our driver
DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}
_DUPLICATE_KEY = 1062  # MySQL's ER_DUP_ENTRY
#: "try again" answers: MySQL's deadlock and lock wait timeout; PostgreSQL's deadlock and
#: serialization failure (SQLSTATE).
_MYSQL_RETRY = frozenset({1213, 1205})
_PG_RETRY = frozenset({"40P01", "40001"})
T = TypeVar("T")


def engine_url(url: str) -> str:
    """The SQLAlchemy URL for a store URL: our driver unless one is named; utf8mb4 on MySQL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise StoreURLError("a SQL store URL looks like postgresql://user@host/db")
    rest = _quoted_userinfo(rest)
    scheme = DRIVERS.get(scheme.lower(), scheme)
    if scheme.startswith("mariadb+"):
        scheme = "mysql+" + scheme.split("+", 1)[1]
    if scheme.startswith("mysql") and "charset=" not in rest:
        rest += ("&" if "?" in rest else "?") + "charset=utf8mb4"  # emoji and all of Chinese
    return f"{scheme}://{rest}"


def _quoted_userinfo(rest: str) -> str:
    """``user:password@host…`` with the user part percent-encoded, read up to the *last* ``@``.

    SQLAlchemy's URL parser ends the password at the first ``@``: ``p@ss@host`` would connect
    to a host named ``ss@host`` and print it (half the password) in the connect error. Already
    encoded parts stay as they are (decoded, then encoded again).
    """
    authority_end = len(rest)
    for stop in ("?", "#"):
        index = rest.find(stop)
        if index != -1:
            authority_end = min(authority_end, index)
    userinfo, at, host = rest[:authority_end].rpartition("@")
    if not at:
        return rest
    user, colon, password = userinfo.partition(":")
    encoded = quote(unquote(user), safe="")
    if colon:
        encoded += ":" + quote(unquote(password), safe="")
    return f"{encoded}@{host}{rest[authority_end:]}"


#: A pooled connection idle longer than this is pinged before use (see _ping_if_idle).
IDLE_PING = 10.0


def _create(url: str) -> Engine:
    # A function instance serves one invocation at a time: a small pool, recycled before
    # TencentDB's idle timeout. READ COMMITTED on both: no gap locks on MySQL, and every
    # statement here is written to be correct at that level. No reset on return: every use
    # is a context manager that already ends its transaction (a reset costs MySQL a round trip).
    engine = sa.create_engine(
        url,
        pool_size=2,
        max_overflow=14,
        pool_timeout=10,
        pool_recycle=280,
        pool_reset_on_return=None,
        isolation_level="READ COMMITTED",
        # Never the bound values in an error's text (tokens, openids, message data): the
        # tracebacks of a failed statement reach the function log.
        hide_parameters=True,
        connect_args={"connect_timeout": 3},
    )
    sa.event.listen(engine, "checkout", _ping_if_idle)
    sa.event.listen(engine, "checkin", _mark_used)
    return engine


def _ping_if_idle(dbapi_conn: Any, record: Any, proxy: Any) -> None:
    """Ping a connection that sat idle (a frozen instance's may have been closed meanwhile);
    a busy one goes straight to work, sparing pool_pre_ping's round trip on every checkout."""
    if time.monotonic() - record.info.get("used", 0.0) <= IDLE_PING:
        return
    try:
        cursor = dbapi_conn.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_conn.rollback()  # end the ping's implicit transaction: hand over an idle connection
    except Exception as exc:  # the pool replaces the connection and tries again
        raise sa.exc.DisconnectionError() from exc


def _mark_used(dbapi_conn: Any, record: Any) -> None:
    if record is not None:
        record.info["used"] = time.monotonic()


engines: SharedHandles[Engine] = SharedHandles(_create, lambda engine: engine.dispose())


def _after_fork() -> None:
    # A forked child must not use (nor close) the parent's sockets: drop them without closing.
    for engine in engines.handles():
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def transaction(engine: Engine, work: Callable[[Connection], T], attempts: int = 6) -> T:
    """``work(conn)`` in one transaction, run again if the database picked it as a deadlock
    victim. InnoDB does so even for single-row statements on one key (a duplicate-key check
    takes a shared lock that racing inserts and updates then wait on in a cycle)."""
    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                return work(conn)
        except sa.exc.DBAPIError as exc:
            if attempt == attempts - 1 or not _worth_retrying(exc):
                raise
        time.sleep(
            random.uniform(0, 0.005 * 2**attempt)
        )  # jitter: the victims do not collide again
    raise AssertionError("unreachable")  # pragma: no cover


def _worth_retrying(exc: sa.exc.DBAPIError) -> bool:
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _PG_RETRY:
        return True
    args: Sequence[Any] = getattr(orig, "args", ())
    return bool(args) and args[0] in _MYSQL_RETRY


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def insert_ignore(conn: Connection, table: sa.Table, values: Mapping[str, Any]) -> bool:
    """Insert a row unless a unique key already holds one; True if inserted."""
    if is_postgres(conn):
        stmt = postgresql.insert(table).values(**values).on_conflict_do_nothing()
        # RETURNING, not rowcount: SQLAlchemy reports -1 for this statement on psycopg.
        return conn.execute(stmt.returning(sa.literal(1))).first() is not None
    # MySQL's INSERT IGNORE would also turn truncation and other errors into warnings; catch
    # the duplicate alone. InnoDB rolls back the statement, not the transaction.
    try:
        conn.execute(table.insert().values(**values))
    except sa.exc.IntegrityError as exc:
        args: Sequence[Any] = getattr(exc.orig, "args", ())
        if args and args[0] == _DUPLICATE_KEY:
            return False
        raise
    return True


def upsert(
    conn: Connection,
    table: sa.Table,
    values: Mapping[str, Any],
    keys: Sequence[str],
    updates: Callable[[Any], Dict[str, Any]],
) -> None:
    """Insert, or update the row holding the same ``keys``; ``updates(inserted)`` gives the new
    values, where ``inserted`` names the values this statement tried to insert."""
    if is_postgres(conn):
        pg = postgresql.insert(table).values(**values)
        conn.execute(pg.on_conflict_do_update(index_elements=list(keys), set_=updates(pg.excluded)))
    else:
        my = mysql.insert(table).values(**values)
        conn.execute(my.on_duplicate_key_update(**updates(my.inserted)))


@contextmanager
def schema_lock(conn: Connection, name: str) -> Iterator[None]:
    """Serialise schema changes across processes (a fresh database's cold start)."""
    if is_postgres(conn):
        digest = hashlib.sha256(name.encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})  # until commit
        yield
        return
    got = conn.execute(sa.text("SELECT GET_LOCK(:n, 60)"), {"n": name[:64]}).scalar()
    if got != 1:
        raise TimeoutError(f"could not take the schema lock {name!r}")
    try:
        yield
    finally:
        conn.execute(sa.text("SELECT RELEASE_LOCK(:n)"), {"n": name[:64]})
