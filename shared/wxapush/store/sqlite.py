"""The embedded store: one SQLite file, stdlib ``sqlite3`` only, safe across processes and threads.

Right for one machine (a laptop, one SCF instance's ``/tmp``); a fleet needs redis or sql.
WAL lets readers run beside the one writer; every write is a single statement or one short
``BEGIN IMMEDIATE`` transaction, so the lock is taken up front (no deadlock on upgrade) and held
for microseconds. Connections come from a small per-process pool, each used by one thread at a time.
SQL needs nothing newer than SQLite 3.8.2 (partial indexes, WITHOUT ROWID; no UPSERT, no
RETURNING): the runtime's library may be old.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from wxapush.store.base import (
    LOG_FIELDS,
    LogQuery,
    LogRecord,
    SchemaVersionError,
    TemplateInfo,
    TokenRecord,
    check_changes,
    check_query,
    check_record,
    dump_json,
    msgid_from_i64,
    msgid_to_i64,
    template_from_json,
    template_to_json,
)

SCHEMA_VERSION = 1

#: MIGRATIONS[v] takes a database at version v-1 to version v; v1 creates everything.
#: A later change appends a step (e.g. ALTER TABLE); PRAGMA user_version records the level.
MIGRATIONS = {
    1: (
        "CREATE TABLE tokens (key TEXT PRIMARY KEY, token TEXT NOT NULL,"
        " expires_at REAL NOT NULL, fetched_at REAL NOT NULL)",
        "CREATE TABLE locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL)",
        "CREATE TABLE send_log (log_id TEXT PRIMARY KEY, appid TEXT NOT NULL,"
        " touser TEXT NOT NULL, template_id TEXT NOT NULL, page TEXT, data TEXT NOT NULL,"
        " miniprogram_state TEXT NOT NULL, lang TEXT NOT NULL, status TEXT NOT NULL,"
        " created_at REAL NOT NULL, updated_at REAL NOT NULL, errcode INTEGER, errmsg TEXT,"
        " msgid INTEGER, attempts INTEGER NOT NULL DEFAULT 0, idempotency_key TEXT,"
        " payload_hash TEXT)",  # a rowid table: WITHOUT ROWID measured slower for queries
        # Partial indexes (SQLite 3.8): an unkeyed claim, or one with no msgid yet, skips them,
        # and every index skipped is a page fewer written per commit on the send path.
        "CREATE UNIQUE INDEX send_log_idem ON send_log (appid, idempotency_key)"
        " WHERE idempotency_key IS NOT NULL",
        "CREATE INDEX send_log_time ON send_log (appid, created_at DESC, log_id DESC)",
        "CREATE INDEX send_log_user ON send_log (appid, touser, created_at DESC, log_id DESC)",
        "CREATE INDEX send_log_msgid ON send_log (appid, msgid) WHERE msgid IS NOT NULL",
        "CREATE TABLE grants (appid TEXT NOT NULL, openid TEXT NOT NULL,"
        " template_id TEXT NOT NULL, balance INTEGER NOT NULL, updated_at REAL NOT NULL,"
        " PRIMARY KEY (appid, openid, template_id)) WITHOUT ROWID",
        "CREATE TABLE templates (appid TEXT NOT NULL, template_id TEXT NOT NULL,"
        " position INTEGER NOT NULL, title TEXT NOT NULL, type INTEGER NOT NULL,"
        " keywords TEXT NOT NULL, enum_values TEXT NOT NULL, content TEXT NOT NULL,"
        " PRIMARY KEY (appid, template_id))",
        "CREATE TABLE template_sync (appid TEXT PRIMARY KEY, synced_at REAL NOT NULL)",
    ),
}

_COLS = ", ".join(LOG_FIELDS)
_INSERT_LOG = f"INSERT INTO send_log ({_COLS}) VALUES ({', '.join('?' * len(LOG_FIELDS))})"
_SELECT_LOG = f"SELECT {_COLS} FROM send_log"
_NEWEST_FIRST = "ORDER BY created_at DESC, log_id DESC"
_BATCH = 2000  # rows per prune transaction, so sends are never blocked for long


class Database:
    """A SQLite file with a per-process pool of connections; the shared plumbing of the facets."""

    def __init__(self, path: str, timeout: float = 10.0, pool_size: int = 8) -> None:
        self.path = path
        self.timeout = timeout  # busy_timeout: how long a writer waits for another's lock
        self.pool_size = pool_size
        self._lock = threading.Lock()
        self._idle: List[sqlite3.Connection] = []
        self._inherited: List[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._closed = False
        _prepare_file(path)
        with self.connection() as conn:
            _migrate(conn, time.monotonic() + timeout)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit BEGIN; transactions are explicit, as written below.
        # check_same_thread=False is safe because the pool hands a connection to one thread at
        # a time; it lets a connection serve the next thread instead of leaking one per thread.
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            _enable_wal(conn, time.monotonic() + self.timeout)
            # Under WAL, NORMAL syncs at checkpoints, not at each commit: a commit survives a
            # process crash, and only an OS crash or power loss may lose the last few — never
            # corrupt the file. On SCF, /tmp does not outlive the instance anyway.
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for this thread's exclusive use until the block ends."""
        conn = self._checkout()
        try:
            yield conn
        finally:
            self._checkin(conn)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: committed if the block succeeds, else rolled back."""
        with self.connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every statement in the block sees the same committed state."""
        with self.connection() as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    def _checkout(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            if os.getpid() != self._pid:
                # A forked child must neither use nor close the parent's connections (SQLite
                # forbids carrying one across fork); keep them referenced so GC never closes them.
                self._inherited.extend(self._idle)
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _checkin(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:  # left open by an interrupt: never hand it to the next user
            conn.close()
            return
        with self._lock:
            if not self._closed and os.getpid() == self._pid and len(self._idle) < self.pool_size:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _prepare_file(path: str) -> None:
    """Create the directory and an owner-only file: the database holds the access token."""
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    if not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # -wal/-shm inherit the mode


def _retry_locked(deadline: float) -> bool:
    """After 'database is locked' outside the busy handler's reach: wait a little, or give up."""
    if time.monotonic() >= deadline:
        return False
    time.sleep(0.01)
    return True


def _enable_wal(conn: sqlite3.Connection, deadline: float) -> None:
    # The journal mode is stored in the file, so this is a no-op after the first process set
    # it; but many cold processes may race to switch a fresh file, and the loser can see BUSY.
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or not _retry_locked(deadline):
                raise


def _migrate(conn: sqlite3.Connection, deadline: float) -> None:
    if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        return  # the common case: no write lock taken on open
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or not _retry_locked(deadline):
                raise
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # again, under the lock
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{conn.execute('PRAGMA database_list').fetchone()[2]} has schema version"
                f" {version}; this wxapush reads up to {SCHEMA_VERSION}"
            )
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[step]:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class SqliteTokenCache:
    """TokenCache: a row per token key; a row per lock with its owner and absolute expiry."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get_token(self, key: str) -> Optional[TokenRecord]:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT token, expires_at, fetched_at FROM tokens WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else TokenRecord(*row)

    def put_token(self, key: str, record: TokenRecord) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO tokens (key, token, expires_at, fetched_at)"
                " VALUES (?, ?, ?, ?)",
                (key, record.token, record.expires_at, record.fetched_at),
            )

    def invalidate_token(self, key: str, token: str) -> bool:
        with self._db.connection() as conn:
            cur = conn.execute("DELETE FROM tokens WHERE key = ? AND token = ?", (key, token))
        return cur.rowcount > 0

    def acquire_lock(self, name: str, owner: str, ttl: float) -> bool:
        now = time.time()
        with self._db.write() as conn:
            conn.execute("DELETE FROM locks WHERE name = ? AND expires_at <= ?", (name, now))
            cur = conn.execute(
                "INSERT OR IGNORE INTO locks (name, owner, expires_at) VALUES (?, ?, ?)",
                (name, owner, now + ttl),
            )
        return cur.rowcount > 0

    def release_lock(self, name: str, owner: str) -> bool:
        with self._db.connection() as conn:
            cur = conn.execute("DELETE FROM locks WHERE name = ? AND owner = ?", (name, owner))
        return cur.rowcount > 0


def _to_row(record: LogRecord) -> Tuple[Any, ...]:
    return tuple(_encode(name, getattr(record, name)) for name in LOG_FIELDS)


def _encode(name: str, value: Any) -> Any:
    if name == "data":
        return dump_json(value)
    if name == "msgid":
        return msgid_to_i64(value)
    return value


def _from_row(row: Sequence[Any]) -> LogRecord:
    values = dict(zip(LOG_FIELDS, row))
    values["data"] = json.loads(values["data"])
    values["msgid"] = msgid_from_i64(values["msgid"])
    return LogRecord(**values)


class SqliteSendLog:
    """SendLog: one table; its unique (appid, idempotency_key) index makes claims atomic."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def claim(self, record: LogRecord) -> Tuple[LogRecord, bool]:
        check_record(record)
        row = _to_row(record)
        # Insert first and look only on conflict: the common path is one auto-committed
        # statement. A second pass covers a key freed by expire_idempotency in between.
        for _ in range(3):
            with self._db.connection() as conn:
                try:
                    conn.execute(_INSERT_LOG, row)
                    return record, True
                except sqlite3.IntegrityError:
                    if record.idempotency_key is None:
                        raise
                    found = conn.execute(
                        f"{_SELECT_LOG} WHERE appid = ? AND idempotency_key = ?",
                        (record.appid, record.idempotency_key),
                    ).fetchone()
            if found is not None:
                return _from_row(found), False
        raise sqlite3.IntegrityError(f"log_id {record.log_id!r} already exists")

    def update(self, log_id: str, **changes: Any) -> None:
        check_changes(changes)
        if not changes:
            if self.get(log_id) is None:
                raise KeyError(log_id)
            return
        names = sorted(changes)  # a stable statement text, so the statement cache reuses it
        assignments = ", ".join(f"{name} = ?" for name in names)
        params = [_encode(name, changes[name]) for name in names]
        # One auto-committed statement: the send path's second write costs a single commit.
        with self._db.connection() as conn:
            sql = f"UPDATE send_log SET {assignments} WHERE log_id = ?"
            if conn.execute(sql, (*params, log_id)).rowcount == 0:
                raise KeyError(log_id)

    def get(self, log_id: str) -> Optional[LogRecord]:
        with self._db.connection() as conn:
            row = conn.execute(f"{_SELECT_LOG} WHERE log_id = ?", (log_id,)).fetchone()
        return None if row is None else _from_row(row)

    def find_by_msgid(self, appid: str, msgid: int) -> Optional[LogRecord]:
        with self._db.connection() as conn:
            row = conn.execute(
                # INDEXED BY: without statistics the planner would walk send_log_time instead
                f"{_SELECT_LOG} INDEXED BY send_log_msgid WHERE appid = ? AND msgid = ?"
                f" {_NEWEST_FIRST} LIMIT 1",
                (appid, msgid_to_i64(msgid)),
            ).fetchone()
        return None if row is None else _from_row(row)

    def query(self, q: LogQuery) -> Tuple[int, List[LogRecord]]:
        check_query(q)
        where = ["appid = ?", "created_at >= ?", "created_at < ?"]
        params: List[Any] = [q.appid, q.since, q.until]
        for column in ("touser", "template_id", "status"):
            value = getattr(q, column)
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        condition = " AND ".join(where)
        rows: List[Any] = []
        with self._db.snapshot() as conn:  # total and page from the same state
            total = conn.execute(f"SELECT COUNT(*) FROM send_log WHERE {condition}", params)
            total = total.fetchone()[0]
            if q.count and q.offset < total:
                rows = conn.execute(
                    f"{_SELECT_LOG} WHERE {condition} {_NEWEST_FIRST} LIMIT ? OFFSET ?",
                    (*params, q.count, q.offset),
                ).fetchall()
        return int(total), [_from_row(row) for row in rows]

    def prune(self, older_than: float) -> int:
        return self._batched(
            "DELETE FROM send_log WHERE rowid IN"
            " (SELECT rowid FROM send_log WHERE created_at < ? LIMIT ?)",
            older_than,
        )

    def expire_idempotency(self, older_than: float) -> int:
        return self._batched(
            "UPDATE send_log SET idempotency_key = NULL WHERE rowid IN (SELECT rowid FROM"
            " send_log WHERE created_at < ? AND idempotency_key IS NOT NULL LIMIT ?)",
            older_than,
        )

    def _batched(self, sql: str, older_than: float) -> int:
        done = 0
        while True:
            with self._db.connection() as conn:
                count = conn.execute(sql, (older_than, _BATCH)).rowcount
            done += count
            if count < _BATCH:
                return done


class SqliteGrantLedger:
    """GrantLedger: a row per (appid, openid, template_id); consume is one conditional UPDATE."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def grant(self, appid: str, openid: str, template_id: str, count: int = 1) -> int:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        key = (appid, openid, template_id)
        with self._db.write() as conn:
            cur = conn.execute(
                "UPDATE grants SET balance = balance + ?, updated_at = ?"
                " WHERE appid = ? AND openid = ? AND template_id = ?",
                (count, time.time(), *key),
            )
            if cur.rowcount == 0:
                fresh = (*key, count, time.time())
                conn.execute("INSERT INTO grants VALUES (?, ?, ?, ?, ?)", fresh)
            row = conn.execute(
                "SELECT balance FROM grants WHERE appid = ? AND openid = ? AND template_id = ?",
                key,
            ).fetchone()
        return int(row[0])

    def revoke(self, appid: str, openid: str, template_id: str) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO grants VALUES (?, ?, ?, 0, ?)",
                (appid, openid, template_id, time.time()),
            )

    def consume(self, appid: str, openid: str, template_id: str) -> bool:
        with self._db.connection() as conn:
            cur = conn.execute(
                "UPDATE grants SET balance = balance - 1, updated_at = ?"
                " WHERE appid = ? AND openid = ? AND template_id = ? AND balance > 0",
                (time.time(), appid, openid, template_id),
            )
        return cur.rowcount > 0

    def balance(self, appid: str, openid: str, template_id: str) -> Optional[int]:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT balance FROM grants WHERE appid = ? AND openid = ? AND template_id = ?",
                (appid, openid, template_id),
            ).fetchone()
        return None if row is None else int(row[0])


_TEMPLATE_COLS = "template_id, title, type, keywords, enum_values, content"


class SqliteTemplateRegistry:
    """TemplateRegistry: the app's rows are swapped in one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def replace_templates(
        self, appid: str, templates: Sequence[TemplateInfo], synced_at: float
    ) -> None:
        rows = [
            (appid, t.template_id, i, t.title, t.type, *template_to_json(t), t.content)
            for i, t in enumerate(templates)
        ]
        with self._db.write() as conn:
            conn.execute("DELETE FROM templates WHERE appid = ?", (appid,))
            conn.executemany(
                "INSERT OR REPLACE INTO templates (appid, template_id, position, title, type,"
                " keywords, enum_values, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.execute(
                "INSERT OR REPLACE INTO template_sync (appid, synced_at) VALUES (?, ?)",
                (appid, synced_at),
            )

    def get_template(self, appid: str, template_id: str) -> Optional[TemplateInfo]:
        with self._db.connection() as conn:
            row = conn.execute(
                f"SELECT {_TEMPLATE_COLS} FROM templates WHERE appid = ? AND template_id = ?",
                (appid, template_id),
            ).fetchone()
        return None if row is None else template_from_json(*row)

    def list_templates(self, appid: str) -> List[TemplateInfo]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {_TEMPLATE_COLS} FROM templates WHERE appid = ? ORDER BY position",
                (appid,),
            ).fetchall()
        return [template_from_json(*row) for row in rows]

    def synced_at(self, appid: str) -> Optional[float]:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT synced_at FROM template_sync WHERE appid = ?", (appid,)
            ).fetchone()
        return None if row is None else float(row[0])


class SqliteStore:
    """The four seams over one SQLite file. Open it with ``open_store("sqlite:///path")``."""

    def __init__(self, path: str, timeout: float = 10.0) -> None:
        self.path = path
        self.db = Database(path, timeout=timeout)
        self.tokens = SqliteTokenCache(self.db)
        self.log = SqliteSendLog(self.db)
        self.grants = SqliteGrantLedger(self.db)
        self.templates = SqliteTemplateRegistry(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"
