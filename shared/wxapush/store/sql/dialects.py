"""Everything that differs between PostgreSQL and MySQL/MariaDB, in one place.

Each dialect imports its driver only when a store URL names it (psycopg 3 for PostgreSQL,
PyMySQL for MySQL/MariaDB) and knows how to connect, begin, ping and classify the driver's
errors. The few statements SQL never standardised — insert-or-ignore, upsert, a lock around
schema changes — are written here once for each dialect. Statements use ``%s`` placeholders,
which both drivers take.
"""

from __future__ import annotations

import hashlib
import random
import time
from contextlib import contextmanager, suppress
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    ContextManager,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    TypeVar,
)

from wxapush.store.base import StoreURLError

if TYPE_CHECKING:
    from wxapush.store.sql.pool import Connection, Pool

T = TypeVar("T")


class Dialect:
    """What the pool and the statements need to know about one kind of server."""

    name = ""
    #: the driver's base exception class (PEP 249 ``Error``)
    Error: Any = Exception
    double = "DOUBLE PRECISION"
    table_options = ""

    def connect(self, args: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def check(self, args: Mapping[str, Any]) -> None:
        """Refuse (``StoreURLError``, naming the option) connect arguments the driver would
        not take: a setting's fault, found before any connection is tried."""

    def socket_of(self, raw: Any) -> Optional[int]:
        """The file descriptor of the connection's socket, if the driver shows it."""
        return None

    def begin(self, isolation: Optional[str]) -> List[str]:
        raise NotImplementedError

    def ping(self, raw: Any) -> bool:
        raise NotImplementedError

    def idle_after_error(self, raw: Any) -> bool:
        """True if a connection whose user failed is still open and outside any transaction."""
        raise NotImplementedError

    def retryable(self, exc: BaseException) -> bool:
        """A deadlock, serialization failure or lock wait timeout: run the transaction again."""
        raise NotImplementedError

    def pool_timeout(self, message: str) -> Exception:
        raise NotImplementedError

    def inserted(self, column: str) -> str:
        """In an upsert's update: the value the statement tried to insert into ``column``."""
        raise NotImplementedError

    def rollback(self, raw: Any) -> None:
        try:
            cursor = raw.cursor()
            cursor.execute("ROLLBACK")
            cursor.close()
        except Exception:  # a dead connection: idle_after_error tells the pool to drop it
            pass

    def close(self, raw: Any) -> None:
        with suppress(Exception):  # already closed by the server: nothing left to release
            raw.close()


class Postgres(Dialect):
    name = "postgresql"
    _RETRY = frozenset({"40P01", "40001"})  # deadlock, serialization failure (SQLSTATE)

    def __init__(self) -> None:
        import psycopg

        self._psycopg = psycopg
        self.Error = psycopg.Error

    def connect(self, args: Mapping[str, Any]) -> Any:
        return self._psycopg.connect(autocommit=True, **args)

    def check(self, args: Mapping[str, Any]) -> None:
        from psycopg.conninfo import conninfo_to_dict

        try:
            conninfo_to_dict(**args)  # libpq's own parser: the URL's options, its hosts
        except self._psycopg.Error as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StoreURLError(f"libpq refuses the PostgreSQL URL: {reason}") from None

    def socket_of(self, raw: Any) -> Optional[int]:
        try:
            return int(raw.pgconn.socket)
        except Exception:  # closed: no socket
            return None

    def begin(self, isolation: Optional[str]) -> List[str]:
        return [f"BEGIN ISOLATION LEVEL {isolation or 'READ COMMITTED'}"]

    def ping(self, raw: Any) -> bool:
        try:
            raw.execute("SELECT 1")
            return True
        except Exception:
            return False

    def idle_after_error(self, raw: Any) -> bool:
        idle = self._psycopg.pq.TransactionStatus.IDLE
        return not raw.closed and not raw.broken and raw.info.transaction_status == idle

    def retryable(self, exc: BaseException) -> bool:
        return getattr(exc, "sqlstate", None) in self._RETRY

    def pool_timeout(self, message: str) -> Exception:
        return self._psycopg.OperationalError(message)

    def inserted(self, column: str) -> str:
        return f"EXCLUDED.{column}"


class MySQL(Dialect):
    name = "mysql"
    double = "DOUBLE"
    # utf8mb4_bin: openids, template ids and idempotency keys are case-sensitive (the default
    # *_ci collations would make "Order-1" and "order-1" one key); schema step 3 goes NO PAD.
    table_options = "CHARSET=utf8mb4 ENGINE=InnoDB COLLATE utf8mb4_bin"
    _RETRY = frozenset({1213, 1205})  # deadlock, lock wait timeout
    DUPLICATE_KEY = 1062  # ER_DUP_ENTRY

    def __init__(self) -> None:
        import pymysql
        from pymysql.constants import CLIENT

        self._pymysql = pymysql
        self._found_rows = CLIENT.FOUND_ROWS
        self.Error = pymysql.Error

    #: PyMySQL arguments a URL may not set: the pool sets them, or a URL cannot say them.
    _RESERVED = frozenset(
        {"autocommit", "conv", "cursorclass", "defer_connect", "ssl", "self",
         "read_default_file", "read_default_group", "auth_plugin_map"}
    )  # fmt: skip

    def check(self, args: Mapping[str, Any]) -> None:
        import inspect

        from pymysql.charset import charset_by_name

        taken = set(inspect.signature(self._pymysql.connections.Connection.__init__).parameters)
        for name in sorted(args):
            if name not in taken or name in self._RESERVED:
                raise StoreURLError(f"the MySQL URL option {name!r} is not one PyMySQL takes")
        charset = args.get("charset")
        if not isinstance(charset, str) or charset_by_name(charset) is None:
            raise StoreURLError(f"the MySQL URL option 'charset' names no charset: {charset!r}")

    def socket_of(self, raw: Any) -> Optional[int]:
        sock = getattr(raw, "_sock", None)  # PyMySQL keeps it there; None once closed
        try:
            return None if sock is None else int(sock.fileno())
        except OSError:
            return None

    def connect(self, args: Mapping[str, Any]) -> Any:
        options = dict(args)
        # rowcount counts matched rows, not changed ones: an UPDATE to the same values is a hit
        options["client_flag"] = options.get("client_flag", 0) | self._found_rows
        raw = self._pymysql.connect(autocommit=True, **options)
        try:  # READ COMMITTED: no gap locks; every statement here is correct at that level
            cursor = raw.cursor()
            cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cursor.close()
        except BaseException:
            self.close(raw)
            raise
        return raw

    def begin(self, isolation: Optional[str]) -> List[str]:
        if isolation is None:
            return ["BEGIN"]
        return [f"SET TRANSACTION ISOLATION LEVEL {isolation}", "BEGIN"]  # the next one only

    def ping(self, raw: Any) -> bool:
        try:
            raw.ping(reconnect=False)
            return True
        except Exception:
            return False

    def idle_after_error(self, raw: Any) -> bool:
        in_transaction = 1  # SERVER_STATUS_IN_TRANS, as of the last answer
        return bool(raw.open) and not raw.server_status & in_transaction

    def retryable(self, exc: BaseException) -> bool:
        args: Sequence[Any] = getattr(exc, "args", ())
        return bool(args) and args[0] in self._RETRY

    def pool_timeout(self, message: str) -> Exception:
        return self._pymysql.OperationalError(message)  # type: ignore[no-any-return]

    def inserted(self, column: str) -> str:
        return f"VALUES({column})"


_DIALECTS: Dict[str, Callable[[], Dialect]] = {"postgresql": Postgres, "mysql": MySQL}


def dialect_for(name: str) -> Dialect:
    """The dialect ``name`` (``postgresql`` or ``mysql``), importing its driver now."""
    return _DIALECTS[name]()


def transaction(pool: Pool, work: Callable[[Connection], T], attempts: int = 6) -> T:
    """``work(conn)`` in one transaction, run again if the database picked it as a deadlock
    victim. InnoDB does so even for single-row statements on one key (a duplicate-key check
    takes a shared lock that racing inserts and updates then wait on in a cycle)."""
    return _retried(pool.begin, work, pool.dialect, attempts)


def autocommit(pool: Pool, work: Callable[[Connection], T], attempts: int = 6) -> T:
    """``work(conn)`` in autocommit, each statement its own transaction — for a single
    statement, or statements whose order alone makes them right (a compare-and-set): one round
    trip each, where ``transaction`` adds a BEGIN and a COMMIT. Run again like
    ``transaction`` if the database picked a statement as a deadlock victim."""
    return _retried(pool.connection, work, pool.dialect, attempts)


def _retried(
    open_: Callable[[], ContextManager[Connection]],
    work: Callable[[Connection], T],
    dialect: Dialect,
    attempts: int,
) -> T:
    for attempt in range(attempts):
        try:
            with open_() as conn:
                return work(conn)
        except dialect.Error as exc:
            if attempt == attempts - 1 or not dialect.retryable(exc):
                raise
        time.sleep(random.uniform(0, 0.005 * 2**attempt))  # jitter: victims do not collide again
    raise AssertionError("unreachable")  # pragma: no cover


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def _insert(table: str, values: Mapping[str, Any]) -> str:
    return f"INSERT INTO {table} ({', '.join(values)}) VALUES ({placeholders(len(values))})"


def insert_ignore(conn: Connection, table: str, values: Mapping[str, Any]) -> bool:
    """Insert a row unless a unique key already holds one; True if inserted."""
    params = list(values.values())
    if conn.dialect.name == "postgresql":
        sql = _insert(table, values) + " ON CONFLICT DO NOTHING RETURNING 1"
        return conn.first(sql, params) is not None
    # MySQL's INSERT IGNORE would also turn truncation and other errors into warnings; catch
    # the duplicate alone. InnoDB rolls back the statement, not the transaction.
    try:
        conn.execute(_insert(table, values), params)
    except conn.dialect.Error as exc:
        args: Sequence[Any] = getattr(exc, "args", ())
        if args and args[0] == MySQL.DUPLICATE_KEY:
            return False
        raise
    return True


def upsert(
    conn: Connection,
    table: str,
    values: Mapping[str, Any],
    keys: Sequence[str],
    updates: Callable[[Callable[[str], str]], Dict[str, str]],
) -> None:
    """Insert, or update the row holding the same ``keys``. ``updates(new)`` maps a column to
    its new value as SQL, where ``new(column)`` is the value this statement tried to insert."""
    sets = ", ".join(f"{c} = {v}" for c, v in updates(conn.dialect.inserted).items())
    if conn.dialect.name == "postgresql":
        sql = _insert(table, values) + f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
    else:
        sql = _insert(table, values) + f" ON DUPLICATE KEY UPDATE {sets}"
    conn.execute(sql, list(values.values()))


@contextmanager
def schema_lock(conn: Connection, name: str) -> Iterator[None]:
    """Serialise schema changes across processes (a fresh database's cold start). On
    PostgreSQL the lock lasts until the transaction ``conn`` is in ends."""
    if conn.dialect.name == "postgresql":
        digest = hashlib.sha256(name.encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [key])
        yield
        return
    got = conn.scalar("SELECT GET_LOCK(%s, 60)", [name[:64]])
    if got != 1:
        raise TimeoutError(f"could not take the schema lock {name!r}")
    try:
        yield
    finally:
        conn.execute("SELECT RELEASE_LOCK(%s)", [name[:64]])
