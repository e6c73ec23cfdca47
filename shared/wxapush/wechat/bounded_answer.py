"""HTTP answers read by a deadline and up to a size: what ``http.client`` does not bound.

``http.client`` applies the socket's timeout to each read, so an origin sending one byte just
inside the timeout holds the caller for as long as it likes; and it reads a body of any length
into memory. :func:`bounded_responses` makes the ``response_class`` of a connection whose
answers read from the socket with the time left before a deadline (so the whole answer, not each
read, ends by it) and count what they read (status line, headers, body), refusing the answer as
soon as it passes the limit, before it is held.
"""

from __future__ import annotations

import http.client
import io
import socket
import time
from typing import TYPE_CHECKING, Any, Callable, Optional, cast

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class AnswerTooLarge(Exception):
    """The answer is larger than the limit (declared so, or found so while reading)."""


class _DeadlineReads(io.RawIOBase):
    """Reads from a socket, each with the time left before ``deadline``; at most ``limit``
    bytes in all. Like ``socket.makefile``'s reader (which it wraps) it keeps the socket open
    until it is closed itself, even when the connection lets go of the socket first."""

    def __init__(self, sock: socket.socket, deadline: float, limit: int) -> None:
        super().__init__()
        self._sock = sock
        self._io = sock.makefile("rb", buffering=0)
        self._deadline = deadline
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> Optional[int]:
        if self._left < 0:
            raise AnswerTooLarge
        time_left = self._deadline - time.monotonic()
        if time_left <= 0:
            raise socket.timeout("the answer did not end in time")
        self._sock.settimeout(time_left)
        view = memoryview(buffer).cast("B")
        # One byte more than allowed is read, to tell "exactly the limit" from "over it".
        count = self._io.readinto(view[: self._left + 1])
        if count is None:
            return None
        self._left -= count
        if self._left < 0:
            raise AnswerTooLarge
        return count

    def close(self) -> None:
        self._io.close()
        super().close()


class _Answer(io.BufferedReader):
    """The buffered side: a read of more than the limit is refused before a buffer is made
    for it (a chunk header may announce gigabytes)."""

    def __init__(self, raw: _DeadlineReads, limit: int) -> None:
        super().__init__(raw)
        self._limit = limit

    def read(self, size: Optional[int] = -1) -> bytes:
        if size is not None and size > self._limit:
            raise AnswerTooLarge
        return super().read(size)


class _BoundedSocket:
    """What :class:`http.client.HTTPResponse` asks of a socket: ``makefile("rb")``."""

    def __init__(self, sock: socket.socket, deadline: float, limit: int) -> None:
        self._sock = sock
        self._deadline = deadline
        self._limit = limit

    def makefile(self, mode: str) -> _Answer:
        assert mode == "rb"
        return _Answer(_DeadlineReads(self._sock, self._deadline, self._limit), self._limit)


def bounded_responses(deadline: float, limit: int) -> type[http.client.HTTPResponse]:
    """A ``response_class`` for :class:`http.client.HTTPConnection`: answers read whole by
    ``deadline`` (``time.monotonic()``) and refused past ``limit`` bytes."""

    def make(sock: socket.socket, *args: Any, **kwargs: Any) -> http.client.HTTPResponse:
        bounded = cast(socket.socket, _BoundedSocket(sock, deadline, limit))
        return http.client.HTTPResponse(bounded, *args, **kwargs)

    factory: Callable[..., http.client.HTTPResponse] = make
    # http.client only ever calls response_class(sock, method=...): a factory serves.
    return cast("type[http.client.HTTPResponse]", factory)
