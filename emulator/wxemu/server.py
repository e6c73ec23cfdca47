"""wxemu over HTTP/1.1: a threaded keep-alive server around :func:`wxemu.dispatch.dispatch`.

Tuned for throughput over loopback: no per-request logging, Nagle off, and each answer written
with a single ``write`` (status line, headers and body together), so a keep-alive client never
waits on delayed ACKs.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from .dispatch import dispatch
from .state import Emulator

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8710
#: An idle keep-alive connection is closed after this many seconds.
IDLE_TIMEOUT = 120


class WxemuServer(ThreadingHTTPServer):
    """A threaded HTTP server answering every request from one :class:`Emulator`."""

    daemon_threads = True
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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "wxemu"
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT
    server: WxemuServer

    def _answer(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self.send_error(HTTPStatus.BAD_REQUEST, "bad Content-Length or chunk size")
            return
        path, _, query = self.path.partition("?")
        headers = {key.lower(): value for key, value in self.headers.items()}
        status, out_headers, payload = dispatch(
            self.server.emulator, self.command, path, query, headers, body
        )
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Status"
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines.extend(f"{name}: {value}" for name, value in out_headers.items())
        lines.append(f"Content-Length: {len(payload)}")
        lines.append("Server: wxemu")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + payload)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

    def log_message(self, format: str, *args: Any) -> None:
        # Per-request logging would cost more than answering the request.
        pass


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
