"""The embedded store: one SQLite file, stdlib ``sqlite3`` only, safe across processes and threads.

Right for one machine (a laptop, one SCF instance's ``/tmp``); a fleet needs redis or sql.
WAL lets readers run beside the one writer; every write is a single statement or one short
``BEGIN IMMEDIATE`` transaction, so the lock is taken up front (no deadlock on upgrade) and held
for microseconds. Connections come from a small per-process pool, each used by one thread at a time.
SQL needs nothing newer than SQLite 3.8.2 (partial indexes, WITHOUT ROWID; no UPSERT, no
RETURNING): the runtime's library may be old.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator, List, Optional
from urllib.parse import quote

from wxapush.store.base import SchemaBehindError
from wxapush.store.schema_state import describe_steps, readable

if TYPE_CHECKING:
    from wxapush.store.schema_state import SchemaState

SCHEMA_VERSION = 4

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
    2: ("CREATE TABLE seen_events (key TEXT PRIMARY KEY, expires_at REAL NOT NULL) WITHOUT ROWID",),
    # tat: the bucket's state in integer microseconds (see base.bucket_step)
    3: ("CREATE TABLE rate_limits (key TEXT PRIMARY KEY, tat INTEGER NOT NULL) WITHOUT ROWID",),
    # broadcast (campaigns): the log's campaign column, campaigns, their recipients (the queue:
    # due_at is when a recipient may next be leased) and the per-user cap's counters.
    4: (
        "ALTER TABLE send_log ADD COLUMN broadcast_id TEXT",
        "CREATE INDEX send_log_broadcast ON send_log (appid, broadcast_id, created_at DESC,"
        " log_id DESC) WHERE broadcast_id IS NOT NULL",
        "CREATE TABLE campaigns (appid TEXT NOT NULL, broadcast_id TEXT NOT NULL,"
        " template_id TEXT NOT NULL, page TEXT, data TEXT NOT NULL,"
        " miniprogram_state TEXT NOT NULL, lang TEXT NOT NULL, status TEXT NOT NULL,"
        " total INTEGER NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,"
        " request_hash TEXT NOT NULL, PRIMARY KEY (appid, broadcast_id))",
        "CREATE TABLE recipients (appid TEXT NOT NULL, broadcast_id TEXT NOT NULL,"
        " seq INTEGER NOT NULL, touser TEXT NOT NULL, data TEXT, state TEXT NOT NULL,"
        " due_at REAL NOT NULL, owner TEXT, attempts INTEGER NOT NULL DEFAULT 0,"
        " PRIMARY KEY (appid, broadcast_id, seq)) WITHOUT ROWID",
        "CREATE INDEX recipients_due ON recipients (appid, due_at)"
        " WHERE state IN ('queued', 'deferred')",
        "CREATE INDEX recipients_open ON recipients (appid, broadcast_id, state)"
        " WHERE state IN ('queued', 'deferred')",
        "CREATE TABLE counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL,"
        " expires_at REAL NOT NULL) WITHOUT ROWID",
    ),
}


#: What each step does, for ``wxapush migrate``.
STEP_NOTES = {
    1: "create the tables",
    2: "add seen_events (receive_event's replay guard)",
    3: "add rate_limits (WXAPUSH_RATE_LIMIT)",
    4: "add send_log.broadcast_id, campaigns, recipients, counters (broadcast)",
}
#: A newer release's marker (see ``schema_state``): the oldest version that may use the file.
COMPAT_TABLE = "schema_compat"
#: The oldest schema version whose code may use a file at SCHEMA_VERSION: lower it when a
#: release's steps only add (a rollback to the release before may then keep the file).
READABLE_FROM = SCHEMA_VERSION


class Database:
    """A SQLite file with a per-process pool of connections; the shared plumbing of the facets."""

    def __init__(
        self, path: str, timeout: float = 10.0, pool_size: int = 8, migrate: bool = True
    ) -> None:
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
            _migrate(conn, time.monotonic() + timeout, path, migrate)

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


def _readable_from(conn: sqlite3.Connection) -> Optional[int]:
    """A newer release's compatibility marker, if it wrote one."""
    try:
        row = conn.execute(f"SELECT readable_from FROM {COMPAT_TABLE}").fetchone()
    except sqlite3.OperationalError:  # no such table: no marker
        return None
    return None if row is None else int(row[0])


def _migrate(conn: sqlite3.Connection, deadline: float, path: str, migrate: bool = True) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return  # the common case: no write lock taken on open
    if version > SCHEMA_VERSION:
        readable(path, version, _readable_from(conn), SCHEMA_VERSION)
        return  # a newer release's store that this code may use as it is
    if not migrate:
        raise SchemaBehindError(path, version or None, SCHEMA_VERSION)
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
            readable(path, version, _readable_from(conn), SCHEMA_VERSION)
            conn.execute("ROLLBACK")
            return
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[step]:
                conn.execute(statement)
        conn.execute(f"DROP TABLE IF EXISTS {COMPAT_TABLE}")  # an older release's marker
        if READABLE_FROM < SCHEMA_VERSION:
            conn.execute(f"CREATE TABLE {COMPAT_TABLE} (readable_from INTEGER NOT NULL)")
            conn.execute(f"INSERT INTO {COMPAT_TABLE} VALUES ({int(READABLE_FROM)})")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def schema_state(path: str, apply: bool = False) -> SchemaState:
    """The file's schema (``wxapush migrate``); with ``apply``, after migrating it."""
    from wxapush.store.schema_state import SchemaState

    if apply:
        Database(path).close()  # opening migrates, under the write lock
    version: Optional[int] = None
    readable_from: Optional[int] = None
    if os.path.exists(path):
        conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0] or None
            readable_from = _readable_from(conn)
        finally:
            conn.close()
    pending = (
        ()
        if version is not None and version >= SCHEMA_VERSION
        else (describe_steps(STEP_NOTES, version, SCHEMA_VERSION))
    )
    return SchemaState("sqlite", path, version, SCHEMA_VERSION, pending, readable_from)
