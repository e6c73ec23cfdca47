"""A TCP proxy between wxapush and its store server that loses replies, delays and resets.

``StoreFaultProxy(host, port)`` listens on 127.0.0.1 and forwards each connection to the real
server (PostgreSQL, MariaDB, Redis: it speaks no protocol, it cuts bytes). Each request the
client writes — a statement, ``COMMIT`` included, or a Redis command — after the first
``handshake`` writes of its connection meets, at random:

* ``lose_reply``: it is forwarded, the server answers (so it ran, and a ``COMMIT`` committed),
  and then the connection is closed before the answer reaches the client: the reply is lost;
* ``reset``: the connection is reset (RST) before the request is forwarded;
* ``delay``: the request waits ``delay_s`` before it is forwarded.

``injected`` counts the faults by kind. ``url(store_url)`` is the same URL through the proxy.
"""

from __future__ import annotations

import contextlib
import random
import select
import socket
import struct
import threading
import time
from collections import Counter
from typing import Optional
from urllib.parse import urlsplit, urlunsplit

KINDS = ("lose_reply", "reset", "delay")


class StoreFaultProxy:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        lose_reply: float = 0.0,
        reset: float = 0.0,
        delay: float = 0.0,
        delay_s: float = 0.05,
        handshake: int = 3,
        seed: int = 7,
    ) -> None:
        self.target = (host, port)
        self.rates = {"lose_reply": lose_reply, "reset": reset, "delay": delay}
        self.delay_s = delay_s
        self.handshake = handshake
        self.injected: Counter[str] = Counter()
        self.requests = 0
        #: the local ports of the proxy's connections to the server: the sessions it carries
        self.server_ports: set[int] = set()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def url(self, store_url: str) -> str:
        """``store_url`` with its host and port replaced by the proxy's."""
        parts = urlsplit(store_url)
        auth = parts.netloc.rpartition("@")
        netloc = f"{auth[0]}{auth[1]}127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def set_rates(self, **rates: float) -> None:
        with self._lock:
            self.rates.update(rates)

    def close(self) -> None:
        self._stopped.set()
        self._listener.close()

    def __enter__(self) -> StoreFaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._pump, args=(client,), daemon=True).start()

    def _fault(self) -> Optional[str]:
        with self._lock:
            self.requests += 1
            draw = self._rng.random()
            for kind in KINDS:
                if draw < self.rates[kind]:
                    self.injected[kind] += 1
                    return kind
                draw -= self.rates[kind]
        return None

    def _pump(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        port = int(server.getsockname()[1])
        with self._lock:
            self.server_ports.add(port)
        writes = 0
        losing = False
        try:
            while not self._stopped.is_set():
                readable, _, _ = select.select([client, server], [], [], 0.5)
                if client in readable:
                    data = client.recv(65536)
                    if not data:
                        return
                    writes += 1
                    fault = self._fault() if writes > self.handshake and not losing else None
                    if fault == "reset":
                        _reset(client)
                        return
                    if fault == "delay":
                        time.sleep(self.delay_s)
                    server.sendall(data)
                    losing = losing or fault == "lose_reply"
                if server in readable:
                    data = server.recv(65536)
                    if not data or losing:  # the server answered: that answer is lost
                        _reset(client)
                        return
                    client.sendall(data)
        except OSError:
            return
        finally:
            with self._lock:
                self.server_ports.discard(port)
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.close()


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the peer's next read fails at once."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
