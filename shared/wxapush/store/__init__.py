"""Storage: the seams (``wxapush.store.base``) and ``open_store``, which picks a backend by URL.

Backends are imported only when a URL names them, so a function never pays for a driver it does
not use: importing this package loads the stdlib and the seams, nothing else.

URLs (``WXAPUSH_STORE``):

* unset or empty — the embedded default, ``default_store_path()``.
* ``sqlite:///abs/path.db`` — an absolute path (the path part of the URL, as in ``file:///``;
  SQLAlchemy's ``sqlite:////abs/path.db`` means the same file).
* ``sqlite:rel/path.db`` or ``sqlite://rel/path.db`` — a relative path, resolved against the same
  base directory as the default: the current directory, or the system temp directory (``/tmp``)
  on SCF, where only ``/tmp`` is writable. ``sqlite://`` alone is the default path.
* ``redis://``, ``rediss://``, ``unix://`` (a Redis socket), ``postgresql[+driver]://``,
  ``mysql[+driver]://``, ``mariadb://`` — the shared backends, each a module here exposing
  ``open_url(url) -> Store``. A ``?prefix=name`` option namespaces their keys or tables.

``WXAPUSH_CACHE`` adds a second store for tokens, locks and the rate limiter
beside the records (``combined.CombinedStore``); docs/stores.md says which to choose when.
"""

from __future__ import annotations

import importlib
import os
from typing import Optional
from urllib.parse import unquote

from wxapush.store.base import (
    STATUSES,
    BackendNotAvailableError,
    GrantKey,
    GrantLedger,
    LogPage,
    LogQuery,
    LogRecord,
    LogSummary,
    RateLimiter,
    SchemaBehindError,
    SchemaVersionError,
    SendLog,
    Store,
    StoreURLError,
    TemplateInfo,
    TemplateRegistry,
    TokenCache,
    TokenRecord,
    new_log_id,
)

__all__ = [
    "STATUSES",
    "BackendNotAvailableError",
    "GrantKey",
    "GrantLedger",
    "LogPage",
    "LogQuery",
    "LogRecord",
    "LogSummary",
    "RateLimiter",
    "SchemaBehindError",
    "SchemaVersionError",
    "SendLog",
    "Store",
    "StoreURLError",
    "TemplateInfo",
    "TemplateRegistry",
    "TokenCache",
    "TokenRecord",
    "default_store_path",
    "new_log_id",
    "open_store",
]

DEFAULT_RELATIVE_PATH = os.path.join(".wxapush", "wxapush.db")

#: scheme -> module (under wxapush.store) that opens it; imported on first use only.
BACKEND_MODULES = {
    "redis": "redis",
    "rediss": "redis",
    "unix": "redis",
    "postgresql": "sql",
    "postgres": "sql",
    "mysql": "sql",
    "mariadb": "sql",
}


def on_scf() -> bool:
    """True inside Tencent SCF, where only /tmp is writable (TENCENTCLOUD_RUNENV=SCF is set)."""
    return bool(os.environ.get("TENCENTCLOUD_RUNENV") or os.environ.get("SCF_RUNTIME"))


def base_directory() -> str:
    """Where the embedded store and relative sqlite paths live: cwd, else the temp directory."""
    cwd = os.getcwd()
    if on_scf() or not os.access(cwd, os.W_OK):
        import tempfile  # here: tempfile loads shutil, bz2 and lzma, which no send needs

        return tempfile.gettempdir()
    return cwd


def default_store_path() -> str:
    """The embedded store's file: ``.wxapush/wxapush.db`` under ``base_directory()``."""
    return os.path.join(base_directory(), DEFAULT_RELATIVE_PATH)


def sqlite_path(url: str) -> str:
    """The absolute file path a ``sqlite:`` URL names (see the module docstring)."""
    rest, sep, query = url[len("sqlite:") :].partition("?")
    if sep:
        raise StoreURLError(f"sqlite URLs take no query parameters: {query!r}")
    if rest.startswith("//"):
        rest = rest[2:]
    path = unquote(rest)
    if path.lstrip("/") == ":memory:" or path.startswith("file:"):
        raise StoreURLError(
            "an in-memory sqlite store cannot be shared between connections; name a file"
        )
    if not path:
        return default_store_path()
    if os.path.isabs(path):
        return os.path.normpath("/" + path.lstrip("/"))  # POSIX keeps a leading "//"
    return os.path.normpath(os.path.join(base_directory(), path))


def open_store(url: Optional[str], migrate: bool = True) -> Store:
    """Open the store a URL names (``None`` or empty: the embedded default).

    A new store is created and an older schema migrated on open, unless ``migrate`` is False
    (``WXAPUSH_MIGRATE=off``): then either raises :class:`SchemaBehindError`. A schema written by
    a newer release raises :class:`SchemaVersionError` (see ``schema_state``).

    Raises StoreURLError (a ValueError) for a malformed or unknown URL, and its subclass
    BackendNotAvailableError for a known backend this installation does not provide. A
    deployment's records-plus-cache pair (``WXAPUSH_STORE`` + ``WXAPUSH_CACHE``) is opened by
    :func:`wxapush.app.open_shared_store` as two stores joined by ``combined.CombinedStore``.
    """
    if not url:
        from wxapush.store.sqlite import SqliteStore

        return SqliteStore(default_store_path(), migrate=migrate)
    scheme, sep, _ = url.partition(":")
    if not sep or not scheme:
        raise StoreURLError(f"store URL has no scheme: expected e.g. sqlite:///path, got {url!r}")
    scheme = scheme.lower()
    if scheme == "sqlite":
        from wxapush.store.sqlite import SqliteStore

        return SqliteStore(sqlite_path(url), migrate=migrate)
    base = scheme.split("+", 1)[0]  # postgresql+psycopg, mysql+pymysql: the backend checks it
    module_name = BACKEND_MODULES.get(base)
    if module_name is None:
        known = ", ".join(["sqlite", *BACKEND_MODULES])
        raise StoreURLError(f"unknown store scheme {scheme!r}; known: {known}")
    qualified = f"wxapush.store.{module_name}"
    try:
        module = importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name != qualified:  # the backend exists, its driver is not installed
            raise BackendNotAvailableError(
                f"store scheme {scheme!r} needs the {exc.name!r} package:"
                f" pip install 'wxapush[{module_name}]'"
            ) from exc
        raise BackendNotAvailableError(
            f"store scheme {scheme!r} is not available yet in this version of wxapush"
            " (use sqlite:///path or leave WXAPUSH_STORE unset)"
        ) from None
    store: Store = module.open_url(url, migrate=migrate)
    return store
