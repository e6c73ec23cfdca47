"""What a store driver's exception means for the caller, decided by the exception's type.

Two answers, never ``internal``:

* the input's fault — a value the database refuses (a NUL in PostgreSQL text, a value too long
  for a MySQL column, a number out of a column's range): ``invalid_request`` (990400), not
  retryable, since the same request fails the same way;
* the store's fault — unreachable, timed out, locked, out of memory, anything else the driver
  raises: ``upstream_error`` with ``990503``, retryable.

Only the type and the driver's name reach the caller; the message (which may quote values) goes
nowhere but the function log, and then without bound values (see docs/stores.md, SQL).
"""

from __future__ import annotations

from typing import Optional, Tuple

from wxapush.errors import STORE_UNAVAILABLE, InvalidRequest, UpstreamError, WxapushError

#: The drivers behind the stores. Their exceptions mean the store (a server, a file) refused or
#: failed, not wxapush: the operator looks at WXAPUSH_STORE / WXAPUSH_CACHE.
STORE_DRIVERS = frozenset({"sqlite3", "redis", "psycopg", "pymysql"})

#: (module prefix, class name) of the exceptions that blame the input. PEP 249's ``DataError``
#: is "problems with the processed data" in every driver; redis-py raises its ``DataError`` for a
#: value it cannot encode.
_INPUT_FAULTS: Tuple[Tuple[str, str], ...] = (
    ("psycopg", "DataError"),
    ("pymysql", "DataError"),
    ("sqlite3", "DataError"),
    ("redis", "DataError"),
)


def _driver(exc: BaseException) -> Optional[str]:
    name = type(exc).__module__.partition(".")[0]
    return name if name in STORE_DRIVERS else None


def is_input_fault(exc: BaseException) -> bool:
    """True when the driver refused the data itself: the same request would fail again."""
    for cls in type(exc).__mro__:
        module = cls.__module__.partition(".")[0]
        if (module, cls.__name__) in _INPUT_FAULTS:
            return True
    return False


def store_failure(exc: BaseException) -> Optional[WxapushError]:
    """The answer for a driver's exception, or None if ``exc`` is not a store driver's."""
    driver = _driver(exc)
    if driver is None:
        return None
    if is_input_fault(exc):
        return InvalidRequest(
            f"the store refused a value of this request ({driver}: {type(exc).__name__})"
        )
    return UpstreamError(
        f"the store failed ({driver}: {type(exc).__name__}); see the function log",
        errcode=STORE_UNAVAILABLE,
        retryable=True,
    )
