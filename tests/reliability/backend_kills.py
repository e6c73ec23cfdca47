"""Real backend kills during a soak: the server ends a session the soak's workers hold.

``BackendKiller(store_url, proxy, kills, sends)`` ends, from a thread, ``kills`` sessions that
the store fault proxy carries (matched by the client port the server sees, so that nothing but
this soak's sessions is touched on a shared server): ``pg_terminate_backend`` on PostgreSQL,
``KILL`` on MySQL/MariaDB, ``CLIENT KILL ADDR`` on Redis. Without a proxy it does nothing.
"""

from __future__ import annotations

import random
import threading
from typing import Any, Optional

from tests.functional.store import _namespaces

from .store_proxy import StoreFaultProxy

#: Seconds between two kills.
INTERVAL = 0.05


class BackendKiller:
    def __init__(
        self, store_url: str, proxy: Optional[StoreFaultProxy], kills: int, seed: int = 5
    ) -> None:
        self.url = store_url.partition("?")[0]
        self.redis = store_url.startswith(("redis://", "rediss://"))
        self.proxy = proxy
        self.wanted = kills if self.proxy is not None else 0
        self.killed = 0
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BackendKiller:
        if self.wanted:
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self.wanted:
            self._thread.join(10)

    def _run(self) -> None:
        if self.redis:
            self._run_redis()
            return
        assert self.proxy is not None
        with _namespaces.sql_connection(self.url) as conn:
            postgres = conn.dialect.name == "postgresql"
            while self.killed < self.wanted and not self._stop.wait(INTERVAL):
                ports = sorted(self.proxy.server_ports)
                if not ports:
                    continue
                port = self._rng.choice(ports)
                if postgres:
                    found = conn.scalar(
                        "SELECT pid FROM pg_stat_activity WHERE client_port = %s", [port]
                    )
                    if found is not None:
                        conn.scalar("SELECT pg_terminate_backend(%s)", [found])
                else:
                    found = conn.scalar(
                        "SELECT id FROM information_schema.processlist WHERE host = %s",
                        [f"127.0.0.1:{port}"],
                    )
                    if found is not None and not _killed(conn, int(found)):
                        found = None  # it ended between the look and the KILL
                if found is not None:
                    self.killed += 1

    def _run_redis(self) -> None:
        import redis

        assert self.proxy is not None
        client = redis.Redis.from_url(self.url)
        try:
            while self.killed < self.wanted and not self._stop.wait(INTERVAL):
                ports = sorted(self.proxy.server_ports)
                if not ports:
                    continue
                try:
                    client.client_kill(f"127.0.0.1:{self._rng.choice(ports)}")
                    self.killed += 1
                except redis.ResponseError:  # gone meanwhile: "No such client"
                    continue
        finally:
            client.close()


def _killed(conn: Any, thread: int) -> bool:
    """``KILL`` a MySQL/MariaDB connection; False if it had already ended (error 1094,
    "Unknown thread id"), which would otherwise end the killer's thread."""
    try:
        conn.execute(f"KILL {thread}")
    except conn.dialect.Error as exc:
        if getattr(exc, "args", (None,))[0] != 1094:
            raise
        return False
    return True
