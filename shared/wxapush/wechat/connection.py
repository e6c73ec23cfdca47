"""Keep-alive HTTP/1.1 connections to one origin, over the standard library (``http.client``).

:class:`OriginConnections` keeps the idle connections to one origin (a function calls serially,
so that is one connection, reused across invocations) and makes an exchange in two phases whose
failures mean different things to a caller that must not send twice:

1. **connect** — TCP, the proxy's ``CONNECT`` tunnel, the TLS handshake. A failure here raises
   :class:`~.exchange_errors.NotSent`: no byte of the request left this process.
2. **exchange** — write the request, read the whole answer. A failure here raises
   :class:`~.exchange_errors.Lost`: it may come after the origin acted on the request.

Each phase ends by a deadline, not by a timeout per read: an origin that trickles its answer a
byte at a time (or a proxy its ``CONNECT`` answer) is cut off when the phase's time is up, however
often it sends (:mod:`.bounded_answer`). An answer is read up to :data:`MAX_ANSWER_BYTES` and
refused past it, before it is held in memory: WeChat's answers are a few KiB.

An idle connection the origin has since closed (its keep-alive timeout) is found *before* a
request is written on it: a socket that polls readable while no answer is due holds either the
origin's FIN or bytes nobody asked for, and is dropped for a new connection (phase 1 again).

HTTPS verifies the certificate and the host name with ``ssl.create_default_context``, trusting
``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` when set (a file or a directory), else ``certifi``'s
bundle when it is installed, else the system's. Redirects are not followed (WeChat's API
answers in place). Proxies: :mod:`wxapush.wechat.proxy`.
"""

from __future__ import annotations

import http.client
import os
import select
import socket
import threading
import time
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from wxapush.config import env_value
from wxapush.errors import Misconfigured
from wxapush.wechat.bounded_answer import AnswerTooLarge, bounded_responses
from wxapush.wechat.exchange_errors import Lost, NotSent
from wxapush.wechat.proxy import proxy_for

if TYPE_CHECKING:
    import ssl

#: Idle connections kept per origin; more only when several threads call at once.
MAX_IDLE = 4
USER_AGENT = "wxapush"
#: The largest answer read (status line, headers and body); WeChat's are a few KiB, its
#: template list a few tens of KiB.
MAX_ANSWER_BYTES = 1024 * 1024
JSON = "application/json"


class OriginConnections:
    """Requests to the origin of ``base_url`` (its path prefixes every request's path).

    Everything a request needs that does not change per call — the target prefix, the headers,
    the proxy, the TLS context — is worked out once here. ``env`` is read for proxies and CA
    bundles at construction (``os.environ`` by default).
    """

    def __init__(self, base_url: str, env: Optional[Mapping[str, str]] = None) -> None:
        env = os.environ if env is None else env
        parts = urlsplit(base_url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {scheme}://…")
        self.https = scheme == "https"
        host = parts.hostname
        port = parts.port or (443 if self.https else 80)
        self.host, self.port = host, port
        self.proxy = proxy_for(scheme, host, port, env)
        # Built now, at the first request: a CA bundle that cannot be read is misconfigured,
        # said before anything is sent.
        self._ssl: Optional[ssl.SSLContext] = _tls_context(env) if self.https else None
        netloc = f"[{host}]" if ":" in host else host
        default_port = port == (443 if self.https else 80)
        authority = netloc if default_port else f"{netloc}:{port}"
        path = parts.path.rstrip("/")
        # Through an http proxy the request line carries the absolute URL (RFC 9112 §3.2.2).
        absolute = self.proxy is not None and not self.https
        self._prefix = f"{scheme}://{authority}{path}" if absolute else path
        base_headers = [("Host", authority), ("User-Agent", USER_AGENT), ("Accept", JSON)]
        if absolute and self.proxy is not None and self.proxy.authorization:
            base_headers.append(("Proxy-Authorization", self.proxy.authorization))
        self._headers = tuple(base_headers)
        self._json_headers = (*base_headers, ("Content-Type", JSON))
        self._idle: List[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def exchange(
        self,
        method: str,
        path_and_query: str,
        body: Optional[bytes],
        *,
        connect_timeout: float,
        read_timeout: float,
        deadline: Optional[float] = None,
    ) -> Tuple[int, bytes]:
        """Send one request and read its whole answer: ``(status, body)``.

        The connection is made within ``connect_timeout``; the answer must have arrived whole
        ``read_timeout`` after the request left; neither goes past ``deadline`` (a
        ``time.monotonic()`` instant) when given.

        Raises :class:`NotSent` when no connection could be made (nothing was written), and
        :class:`Lost` when the connection failed after that (the request may have been acted on),
        the answer came too slowly or was larger than :data:`MAX_ANSWER_BYTES`.
        """
        start = time.monotonic()
        end = start + connect_timeout + read_timeout if deadline is None else deadline
        conn = self._checkout() or self._connect(min(start + connect_timeout, end))
        answer_by = min(time.monotonic() + read_timeout, end)
        if answer_by <= time.monotonic():  # connected, but no time left to wait for an answer
            self._checkin(conn)
            raise NotSent("no time left to send", timeout=True)
        # The answer (and every read of it) ends by answer_by, however it trickles in.
        conn.response_class = bounded_responses(answer_by, MAX_ANSWER_BYTES)
        try:
            sock = conn.sock
            assert sock is not None
            sock.settimeout(max(answer_by - time.monotonic(), 0.001))
            conn.putrequest(method, self._prefix + path_and_query, skip_host=True)
            for name, value in self._headers if body is None else self._json_headers:
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)  # headers and body leave in one write
            response = conn.getresponse()
            if response.length is not None and response.length > MAX_ANSWER_BYTES:
                raise AnswerTooLarge  # refused before reading it
            data = response.read()
        except socket.timeout:
            conn.close()
            raise Lost("no answer in time", timeout=True) from None
        except AnswerTooLarge:
            conn.close()
            raise Lost(f"answer over {MAX_ANSWER_BYTES} bytes") from None
        except (OSError, http.client.HTTPException):
            conn.close()
            raise Lost("connection lost") from None
        except BaseException:
            conn.close()
            raise
        if response.will_close:
            conn.close()
        else:
            self._checkin(conn)
        return response.status, data

    def close(self) -> None:
        """Close the idle connections (a later request opens a new one)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # -- connections --------------------------------------------------------------------------

    def _checkout(self) -> Optional[http.client.HTTPConnection]:
        while True:
            with self._lock:
                if not self._idle:
                    return None
                conn = self._idle.pop()
            if _still_open(conn):
                return conn
            conn.close()  # the origin closed it while idle: never write on it

    def _checkin(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def _connect(self, connect_by: float) -> http.client.HTTPConnection:
        timeout = connect_by - time.monotonic()
        if timeout <= 0:
            raise NotSent("no time left to connect", timeout=True)
        host, port = (self.proxy.host, self.proxy.port) if self.proxy else (self.host, self.port)
        conn: http.client.HTTPConnection
        if self.https:
            # The TLS handshake is bounded as a whole by the socket's timeout (CPython's ssl
            # module counts one deadline across the handshake's reads).
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._ssl)
            if self.proxy is not None:
                tunnel_headers: Dict[str, str] = {}
                if self.proxy.authorization:
                    tunnel_headers["Proxy-Authorization"] = self.proxy.authorization
                conn.set_tunnel(self.host, self.port, tunnel_headers)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        # The proxy's answer to CONNECT is read by the same deadline.
        conn.response_class = bounded_responses(connect_by, MAX_ANSWER_BYTES)
        try:
            conn.connect()
        except socket.timeout:
            conn.close()
            raise NotSent("connect timeout", timeout=True) from None
        except (OSError, http.client.HTTPException, AnswerTooLarge):
            # Refused, unreachable, unresolvable, the tunnel refused, the certificate refused.
            conn.close()
            raise NotSent("could not connect") from None
        sock = conn.sock
        assert sock is not None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn


def _tls_context(env: Mapping[str, str]) -> ssl.SSLContext:
    """Certificate and host name checks, trusting the CAs of :func:`_ca_bundle`."""
    import ssl

    setting, ca = _ca_bundle(env)
    try:
        if ca is not None and os.path.isdir(ca):
            return ssl.create_default_context(capath=ca)
        return ssl.create_default_context(cafile=ca)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise Misconfigured(
            f"{setting}: the CA bundle cannot be loaded ({type(exc).__name__})", setting=setting
        ) from None


def _ca_bundle(env: Mapping[str, str]) -> Tuple[str, Optional[str]]:
    """Where the trusted CAs are, and what said so: the variables requests honoured, certifi,
    else the system's (None)."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        value = env_value(env, name)
        if value is not None:
            return name, value
    try:
        import certifi
    except ImportError:
        return "the system's CA store", None
    where: str = certifi.where()
    return "certifi", where


def _still_open(conn: http.client.HTTPConnection) -> bool:
    """True when an idle connection can carry a request: nothing is waiting to be read on it.

    Readable while idle means the origin closed it (EOF), reset it, or sent something unasked
    (a TLS close_notify, a stray answer); each makes the connection unusable.
    """
    sock = conn.sock
    if sock is None:
        return False
    pending = getattr(sock, "pending", None)  # TLS bytes already decrypted and buffered
    if pending is not None and pending():
        return False
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):  # closed underneath us, or beyond select's descriptor limit
        return False
    return not readable
