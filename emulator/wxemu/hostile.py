"""Answers written the way a hostile or broken upstream writes them (``hostile`` faults).

The request was carried out (a send is delivered); its answer then arrives:

* ``trickle`` — the whole answer (status line, headers, a body padded to 4 KiB) one byte every
  ``interval_ms``: a client that times out each read, not the exchange, waits for ever;
* ``oversize`` — ``Content-Length`` of 256 MiB, and that many bytes as fast as they are read;
* ``flood`` — no length, the body runs until the client closes (up to 1 GiB);
* ``endless_chunks`` — chunked, one 1 KiB chunk every ``interval_ms``, never the last chunk;
* ``huge_chunk`` — chunked, the first chunk announced at 4 GiB;
* ``garbage`` — bytes that are not HTTP, then the connection closes;
* ``short_body`` — ``Content-Length`` 100 bytes more than is sent, then the connection closes;
* ``long_body`` — ``Content-Length`` shorter than the body: the answer is cut, the rest is left
  on the connection as if it were the next answer.

Each stops when the client goes away (a write fails).
"""

from __future__ import annotations

import os
import time
from io import BufferedIOBase

KINDS = (
    "trickle",
    "oversize",
    "flood",
    "endless_chunks",
    "huge_chunk",
    "garbage",
    "short_body",
    "long_body",
)
_BLOCK = b" " * 65536
_OVERSIZE = 256 * 1024 * 1024
_FLOOD = 1024 * 1024 * 1024


def write(out: BufferedIOBase, kind: str, interval: float, payload: bytes) -> None:
    """Write the answer ``payload`` to ``out`` the ``kind`` way (:data:`KINDS`)."""
    head = "HTTP/1.1 200 OK\r\nContent-Type: application/json; encoding=utf-8\r\nServer: wxemu\r\n"
    if kind == "trickle":
        body = payload.ljust(4096)
        answer = f"{head}Content-Length: {len(body)}\r\n\r\n".encode("latin-1") + body
        for index in range(len(answer)):
            out.write(answer[index : index + 1])
            out.flush()
            time.sleep(interval)
    elif kind == "oversize":
        _stream(out, f"{head}Content-Length: {_OVERSIZE}\r\n\r\n", payload, _OVERSIZE)
    elif kind == "flood":
        _stream(out, f"{head}Connection: close\r\n\r\n", payload, _FLOOD)
    elif kind == "endless_chunks":
        out.write(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode("latin-1"))
        out.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        while True:
            out.write(b"400\r\n" + _BLOCK[:1024] + b"\r\n")
            out.flush()
            time.sleep(interval)
    elif kind == "huge_chunk":
        out.write(f"{head}Transfer-Encoding: chunked\r\n\r\nffffffff\r\n".encode("latin-1"))
        _blocks(out, payload, _FLOOD)
    elif kind == "garbage":
        out.write(b"\x16\x03\x01garbage " + os.urandom(64) + b"\r\n\r\n")
    elif kind == "short_body":
        out.write(f"{head}Content-Length: {len(payload) + 100}\r\n\r\n".encode("latin-1") + payload)
    elif kind == "long_body":
        cut = max(1, len(payload) // 2)
        out.write(f"{head}Content-Length: {cut}\r\n\r\n".encode("latin-1") + payload)
    else:
        raise ValueError(f"not a hostile kind: {kind}")
    out.flush()


def _stream(out: BufferedIOBase, head: str, payload: bytes, size: int) -> None:
    out.write(head.encode("latin-1"))
    _blocks(out, payload, size)


def _blocks(out: BufferedIOBase, payload: bytes, size: int) -> None:
    out.write(payload)
    sent = len(payload)
    while sent < size:
        block = _BLOCK[: min(len(_BLOCK), size - sent)]
        out.write(block)
        sent += len(block)
