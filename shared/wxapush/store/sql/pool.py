"""A small pool of DB-API connections, sized for a function instance.

A function instance serves one invocation at a time: two connections are kept, up to sixteen
may be open at once (threads of the CLI or the tests), and a caller waits at most ``TIMEOUT``
for one. Connections stay in autocommit between uses, so a single read is one round trip;
``begin`` opens an explicit transaction. An idle connection whose socket is readable at checkout
was closed by the server (nothing is owed between uses) and is replaced, found without a round
trip; one idle longer than ``IDLE_PING`` is also pinged before use (a frozen instance's may have
been cut by the network meanwhile) and replaced if dead; one older than ``RECYCLE`` is replaced
before TencentDB's idle timeout. After a fork the child starts with an empty pool and never
touches (nor closes) the parent's sockets.
"""

from __future__ import annotations

import os
import select
import threading
import time
import weakref
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

from wxapush.store.sql.dialects import Dialect

KEEP = 2
MAX_OPEN = 16
TIMEOUT = 10.0
RECYCLE = 280.0
#: A pooled connection idle longer than this is pinged before use.
IDLE_PING = 10.0


class Connection:
    """One checked-out connection: statements with ``%s`` placeholders, their results."""

    def __init__(self, raw: Any, dialect: Dialect) -> None:
        self.raw = raw
        self.dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; its row count (matched rows for an UPDATE, on MySQL too)."""
        cursor = self.raw.cursor()
        try:
            cursor.execute(sql, tuple(params) if params else None)
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        cursor = self.raw.cursor()
        try:
            cursor.executemany(sql, [tuple(row) for row in rows])
        finally:
            cursor.close()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> List[Tuple[Any, ...]]:
        cursor = self.raw.cursor()
        try:
            cursor.execute(sql, tuple(params) if params else None)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def first(self, sql: str, params: Sequence[Any] = ()) -> Optional[Tuple[Any, ...]]:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.first(sql, params)
        return None if row is None else row[0]


class _Entry:
    __slots__ = ("born", "pid", "raw", "used")

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.pid = os.getpid()  # the process whose socket this is
        self.born = self.used = time.monotonic()


_pools: weakref.WeakSet[Pool] = weakref.WeakSet()
#: The parent's connections, kept referenced in a forked child so that no finaliser closes
#: (and no one uses) the sockets the parent still works with.
_inherited: List[Any] = []


class Pool:
    """Connections to one database, shared by every store opened on it in this process."""

    def __init__(self, dialect: Dialect, connect: Callable[[], Any]) -> None:
        self.dialect = dialect
        self._connect = connect
        self._reset()
        _pools.add(self)

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._idle: List[_Entry] = []
        self._open = 0
        self._pid = os.getpid()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection in autocommit (each statement its own transaction)."""
        entry = self._checkout()
        healthy = False
        try:
            yield Connection(entry.raw, self.dialect)
            healthy = True
        finally:
            self._checkin(entry, healthy)

    @contextmanager
    def begin(self, isolation: Optional[str] = None) -> Iterator[Connection]:
        """A connection in one transaction, committed at the end, rolled back on an error.

        ``isolation``: e.g. ``"REPEATABLE READ"`` for this transaction (READ COMMITTED else).
        """
        with self.connection() as conn:
            for statement in self.dialect.begin(isolation):
                conn.execute(statement)
            try:
                yield conn
            except BaseException:
                self.dialect.rollback(conn.raw)
                raise
            conn.execute("COMMIT")

    def dispose(self) -> None:
        """Close the idle connections (those in use close when given back)."""
        with self._cond:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for entry in idle:
            self.dialect.close(entry.raw)

    def _checkout(self) -> _Entry:
        if self._pid != os.getpid():
            _forget_parent(self)
        deadline = time.monotonic() + TIMEOUT
        with self._cond:
            while not self._idle and self._open >= MAX_OPEN:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self.dialect.pool_timeout(
                        f"no SQL connection free in {TIMEOUT:g} s ({MAX_OPEN} in use)"
                    )
                self._cond.wait(left)
            entry = self._idle.pop() if self._idle else None
            if entry is None:
                self._open += 1  # counts connections that exist, idle or in use
        try:
            if entry is not None:
                entry = self._usable(entry)
            return entry or _Entry(self._connect())
        except BaseException:
            self._discard(None)
            raise

    def _usable(self, entry: _Entry) -> Optional[_Entry]:
        now = time.monotonic()
        if now - entry.born > RECYCLE or _closed_by_server(self.dialect.socket_of(entry.raw)):
            self.dialect.close(entry.raw)
            return None
        if now - entry.used > IDLE_PING and not self.dialect.ping(entry.raw):
            self.dialect.close(entry.raw)
            return None
        return entry

    def _checkin(self, entry: _Entry, healthy: bool) -> None:
        if entry.pid != os.getpid():  # checked out before a fork, given back in the child
            _inherited.append(entry.raw)
            return
        if not healthy and not self.dialect.idle_after_error(entry.raw):
            self._discard(entry)
            return
        entry.used = time.monotonic()
        with self._cond:
            if len(self._idle) < KEEP:
                self._idle.append(entry)
                self._cond.notify()
                return
        self._discard(entry)

    def _discard(self, entry: Optional[_Entry]) -> None:
        with self._cond:
            self._open -= 1
            self._cond.notify()
        if entry is not None:
            self.dialect.close(entry.raw)


def _closed_by_server(fd: Optional[int]) -> bool:
    """True if an idle connection's socket has something to read: between uses nothing is
    owed to us, so it is the server's goodbye (an error saying why, then EOF) after it closed
    the session (``pg_terminate_backend``, ``KILL``, an idle timeout, a restart). A poll that
    does not wait: no round trip, unlike a ping."""
    if fd is None or fd < 0:
        return False
    try:
        poller = select.poll()
    except AttributeError:  # no poll(): select() takes descriptors below FD_SETSIZE only
        if fd >= 1024:
            return False
        return bool(select.select([fd], [], [], 0)[0])
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def _forget_parent(pool: Pool) -> None:
    _inherited.extend(entry.raw for entry in pool._idle)
    pool._reset()


def _after_fork() -> None:
    for pool in list(_pools):
        _forget_parent(pool)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
