"""Plumbing the server backends (redis, sql) share: pooled clients per URL, URL options.

Stdlib only, like ``base``: importing it never pulls in a driver.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Generic, List, Optional, Tuple, TypeVar

H = TypeVar("H")


class SharedHandles(Generic[H]):
    """One client (a connection pool) per URL per process, shared by every store opened on it.

    A function instance opens one store, but tests and the CLI open many on one server: they
    share the pool, and the last ``release`` closes it.
    """

    def __init__(self, make: Callable[[str], H], close: Callable[[H], None]) -> None:
        self._make, self._close = make, close
        self._lock = threading.Lock()
        self._handles: Dict[str, List[Any]] = {}  # url -> [handle, users]

    def acquire(self, url: str) -> H:
        with self._lock:
            entry = self._handles.get(url)
            if entry is None:
                entry = self._handles[url] = [self._make(url), 0]
            entry[1] += 1
            handle: H = entry[0]
            return handle

    def release(self, url: str) -> None:
        with self._lock:
            entry = self._handles.get(url)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            del self._handles[url]
        self._close(entry[0])

    def handles(self) -> List[H]:
        with self._lock:
            return [entry[0] for entry in self._handles.values()]


def pop_url_option(url: str, name: str) -> Tuple[str, Optional[str]]:
    """``url`` without its ``name=value`` query option, and that value (None if absent).

    wxapush's own options (``prefix``) must not reach the driver, which would refuse them.
    """
    from urllib.parse import parse_qsl, urlencode

    base, _, query = url.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    values = [v for k, v in pairs if k == name]
    if not values:
        return url, None
    rest = urlencode([(k, v) for k, v in pairs if k != name])
    return base + ("?" + rest if rest else ""), values[-1]
