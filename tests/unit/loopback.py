"""Loopback peers for the transport's tests: a recording origin (HTTP or HTTPS), a tiny proxy,
and a throwaway certificate authority. Real sockets on 127.0.0.1, each served by a thread."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import socket
import socketserver
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple, Optional
from urllib.parse import urlsplit

ANSWER = b'{"errcode":0,"errmsg":"ok","msgid":1}'


class Seen(NamedTuple):
    """One request as it arrived: request line, headers (names lower-cased), body."""

    line: str
    headers: dict[str, str]
    body: bytes


class _OriginHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Origin

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.seen.append(Seen(self.requestline, headers, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        answer = self.server.answer
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()  # no "Connection: close", even when about to close
        self.wfile.write(answer)
        self.wfile.flush()
        # An origin whose keep-alive timeout has passed: it closes the idle connection.
        self.close_connection = self.server.close_when_idle

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Origin(ThreadingHTTPServer):
    """Answers every request with WeChat's ``{"errcode": 0}`` and records it.

    ``close_when_idle``: close each connection after its answer, without saying so (what an
    origin's keep-alive timeout does to an idle connection). ``tls``: serve HTTPS. ``answer``:
    another body to answer with.
    """

    daemon_threads = True

    def __init__(
        self,
        *,
        close_when_idle: bool = False,
        tls: Optional[ssl.SSLContext] = None,
        answer: bytes = ANSWER,
    ):
        super().__init__(("127.0.0.1", 0), _OriginHandler)
        self.answer = answer
        self.close_when_idle = close_when_idle
        self.lock = threading.Lock()
        self.connections = 0
        self.seen: list[Seen] = []
        self.closed = threading.Semaphore(0)  # released once per connection closed here
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        port: int = self.server_address[1]
        return port

    def url(self, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}"

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.closed.release()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _ProxyHandler(socketserver.StreamRequestHandler):
    server: Proxy

    def handle(self) -> None:
        line = self.rfile.readline(65537).decode("latin-1").strip()
        headers: dict[str, str] = {}
        while True:
            header = self.rfile.readline(65537).decode("latin-1").strip()
            if not header:
                break
            name, _, value = header.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = self.rfile.read(int(headers.get("content-length") or 0))
        self.server.seen.append(Seen(line, headers, body))
        method, target, _ = line.split(" ")
        if method == "CONNECT":
            self._tunnel(target)
        else:
            self._forward(method, target, headers, body)

    def _tunnel(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        upstream = socket.create_connection((host, int(port)), timeout=10)
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        back = threading.Thread(target=_pipe, args=(upstream, self.connection), daemon=True)
        back.start()
        _pipe(self.connection, upstream)
        back.join(timeout=10)
        upstream.close()

    def _forward(self, method: str, url: str, headers: dict[str, str], body: bytes) -> None:
        parts = urlsplit(url)  # absolute-form: the proxy makes the request itself
        upstream = http.client.HTTPConnection(parts.netloc, timeout=10)
        kept = {k: v for k, v in headers.items() if not k.startswith("proxy-")}
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        upstream.request(method, target, body or None, kept)
        answer = upstream.getresponse()
        data = answer.read()
        upstream.close()
        self.wfile.write(
            f"HTTP/1.1 {answer.status} {answer.reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode("latin-1")
            + data
        )


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


class Proxy(socketserver.ThreadingTCPServer):
    """An HTTP proxy: ``CONNECT`` tunnels, absolute-form requests forwarded; records each."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.seen: list[Seen] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class Authority(NamedTuple):
    """A throwaway CA (``ca_file``) and a server context for ``localhost``/127.0.0.1 it signed."""

    ca_file: Path
    server: ssl.SSLContext


def make_authority(folder: Path) -> Authority:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wxapush test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file, chain, key_file = folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key"
    ca_file.write_bytes(ca.public_bytes(pem))
    chain.write_bytes(leaf.public_bytes(pem))
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(chain, key_file)
    return Authority(ca_file, server)


class Trickle(socketserver.ThreadingTCPServer):
    """A TCP relay to ``upstream`` that passes what the upstream says one byte every
    ``interval`` seconds (and what the client says at once): a slow TLS handshake, a slow
    proxy, an origin on a failing link."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: tuple[str, int], interval: float) -> None:
        super().__init__(("127.0.0.1", 0), _TrickleHandler)
        self.upstream, self.interval = upstream, interval
        #: Bytes passed back to the client, per connection (appended when a connection ends).
        self.passed: list[int] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _TrickleHandler(socketserver.BaseRequestHandler):
    server: Trickle

    def handle(self) -> None:
        upstream = socket.create_connection(self.server.upstream, timeout=10)
        forth = threading.Thread(target=_pipe, args=(self.request, upstream), daemon=True)
        forth.start()
        passed = 0
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                for index in range(len(data)):
                    self.request.sendall(data[index : index + 1])
                    passed += 1
                    time.sleep(self.server.interval)
        except OSError:
            pass
        finally:
            self.server.passed.append(passed)
            upstream.close()
