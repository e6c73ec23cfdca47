"""wxemu over HTTP/1.1: a threaded keep-alive server around :func:`wxemu.dispatch.dispatch`.

A deliberately small HTTP/1.1 reader instead of ``http.server``: its ``email``-based header
parsing cost more than answering the request, and wxemu must never be the bottleneck of the
project's benchmarks. It handles what WeChat clients send: keep-alive (HTTP/1.1 default,
``Connection: close`` honoured), ``Content-Length`` and chunked bodies, ``Expect: 100-continue``.
No per-request logging, Nagle off, and each answer leaves in a single ``write``.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import socketserver
import threading
from http import HTTPStatus
from typing import Any, Optional

from . import hostile
from .dispatch import DROPPED, HOSTILE_HEADER, dispatch
from .state import Emulator

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8710
#: An idle keep-alive connection is closed after this many seconds.
IDLE_TIMEOUT = 120
_MAX_LINE = 65536
_MAX_HEADERS = 100
_MAX_BODY = 16 * 1024 * 1024


class _BadRequest(Exception):
    pass


class WxemuServer(socketserver.ThreadingTCPServer):
    """A threaded HTTP/1.1 server answering every request from one :class:`Emulator`."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], emulator: Optional[Emulator] = None) -> None:
        self.emulator = emulator if emulator is not None else Emulator()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        with self._connections_lock:
            self._connections.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close(self) -> None:
        """Stop serving (from another thread than ``serve_forever``'s) and drop idle clients."""
        self.shutdown()
        with self._connections_lock:
            open_now = list(self._connections)
        for conn in open_now:
            with contextlib.suppress(OSError):  # the client may have gone already
                conn.shutdown(socket.SHUT_RDWR)
        self.server_close()


class _Handler(socketserver.StreamRequestHandler):
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT
    server: WxemuServer

    def handle(self) -> None:
        try:
            while self._one_request():
                pass
        except (OSError, _BadRequest):
            # A timed-out, reset or unreadable connection just ends; there is no one to tell.
            pass

    def _one_request(self) -> bool:
        line = self.rfile.readline(_MAX_LINE + 1)
        while line in (b"\r\n", b"\n"):  # tolerated between requests (RFC 9112 §2.2)
            line = self.rfile.readline(_MAX_LINE + 1)
        if not line:
            return False
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            self._write(400, {"Content-Type": "text/plain"}, b"bad request line", False)
            return False
        method, target, version = (p.decode("latin-1") for p in parts)
        headers = self._headers()
        connection = headers.get("connection", "").lower()
        keep_alive = connection == "keep-alive" if version == "HTTP/1.0" else connection != "close"
        if headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            body = self._body(headers)
        except _BadRequest:
            self._write(400, {"Content-Type": "text/plain"}, b"bad body framing", False)
            return False
        path, _, query = target.partition("?")
        # HEAD is answered as GET would be, without the body (RFC 9110 §9.3.2).
        asked = "GET" if method == "HEAD" else method
        status, out_headers, payload = dispatch(
            self.server.emulator, asked, path, query, headers, body
        )
        if status == DROPPED[0]:  # a drop fault: the request was carried out, no answer
            return False
        spoil = out_headers.pop(HOSTILE_HEADER, None)
        if spoil is not None:  # a hostile fault: the answer is written the way it names
            kind, _, interval_ms = spoil.partition(";")
            hostile.write(self.wfile, kind, int(interval_ms) / 1000, payload)
            return False
        if method == "HEAD":
            self._write(status, out_headers, b"", keep_alive, len(payload))
            return keep_alive
        self._write(status, out_headers, payload, keep_alive)
        return keep_alive

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS):
            line = self.rfile.readline(_MAX_LINE + 1)
            if line in (b"\r\n", b"\n", b""):
                return headers
            name, sep, value = line.partition(b":")
            if not sep:
                raise _BadRequest
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        raise _BadRequest

    def _body(self, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                try:
                    size = int(self.rfile.readline(_MAX_LINE).split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise _BadRequest from None
                if size == 0:
                    self._headers()  # trailers, ignored
                    return b"".join(chunks)
                total += size
                if total > _MAX_BODY:
                    raise _BadRequest
                chunks.append(self.rfile.read(size))
                self.rfile.readline(_MAX_LINE)
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            raise _BadRequest from None
        if length < 0 or length > _MAX_BODY:
            raise _BadRequest
        return self.rfile.read(length) if length else b""

    def _write(
        self,
        status: int,
        headers: dict[str, str],
        payload: bytes,
        keep: bool,
        length: Optional[int] = None,
    ) -> None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Status"
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        lines.append(f"Content-Length: {len(payload) if length is None else length}")
        lines.append("Server: wxemu")
        if not keep:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)


def in_use_message(program: str, host: str, port: int, option: str, exc: OSError) -> str:
    """One line for a port that cannot be bound: which one, and the option that moves it."""
    if exc.errno == errno.EADDRINUSE:
        return f"{program}: port {port} on {host} is in use; choose another with {option} PORT"
    return f"{program}: cannot listen on {host}:{port} ({exc.strerror or exc}); see {option}"


def make_server(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, emulator: Optional[Emulator] = None
) -> WxemuServer:
    """A bound, not yet serving, wxemu server (port 0 picks a free port)."""
    return WxemuServer((host, port), emulator)


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve wxemu on ``host:port`` until interrupted."""
    server = make_server(host, port)
    try:
        server.serve_forever()
    finally:
        server.server_close()
