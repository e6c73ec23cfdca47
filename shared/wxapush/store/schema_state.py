"""A store's schema against this code's: what ``wxapush migrate`` plans and applies.

Every backend versions its layout: SQLite in ``PRAGMA user_version``, the SQL backends in
``<prefix>_schema_version``, Redis in the hash ``<prefix>:schema``. ``MIGRATIONS[v]`` of a
backend takes version v-1 to v.

**Rollback.** A newer release may leave a store that an older one can still use: its steps only
add (a nullable column, a table, an index). Such a release records ``readable_from``, the
oldest schema version whose code may keep using the store (SQLite: the table ``schema_compat``;
SQL: ``<prefix>_schema_compat``; Redis: the field ``readable_from`` of ``<prefix>:schema``).
A store ahead of this code is used as it is when ``readable_from`` is at most this code's
version, and refused (:class:`~wxapush.store.base.SchemaVersionError`) otherwise: without the
marker, a newer schema is assumed to be unreadable.

Stdlib only: the backends' modules are imported when a URL names them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Tuple

from wxapush.store.base import StoreURLError

#: Every backend's setting that lets a cold start migrate (``WXAPUSH_MIGRATE``): see app.py.
MIGRATE_MODES = ("auto", "off")


@dataclass(frozen=True)
class SchemaState:
    """One store's schema as this code sees it."""

    #: ``sqlite``, ``postgresql``, ``mysql`` or ``redis``
    backend: str
    #: the file, or the table / key prefix (never a password)
    where: str
    #: None: nothing created yet
    version: Optional[int]
    #: the version this code reads and writes
    target: int
    #: what migrating would do, one line per step, in order
    pending: Tuple[str, ...] = ()
    #: the oldest version whose code may use this store (a newer release's marker), if recorded
    readable_from: Optional[int] = None

    @property
    def ahead(self) -> bool:
        """Written by a newer wxapush."""
        return self.version is not None and self.version > self.target

    @property
    def usable(self) -> bool:
        """This code may use the store (after migrating, if steps are pending)."""
        if not self.ahead:
            return True
        return self.readable_from is not None and self.readable_from <= self.target

    def describe(self) -> str:
        """One line a person reads: where the store is, at which version, what is pending."""
        level = "no schema yet" if self.version is None else f"schema version {self.version}"
        head = f"{self.backend} {self.where}: {level}; this wxapush reads version {self.target}"
        if self.ahead:
            return head + (
                f" (a newer release's store, readable from version {self.readable_from})"
                if self.usable
                else " (a newer release's store: refused)"
            )
        if not self.pending:
            older = ""
            if self.readable_from is not None and self.readable_from < self.target:
                older = f"; releases reading version {self.readable_from} may use it too"
            return head + f" (up to date{older})"
        return head + f" ({len(self.pending)} step(s) pending)"


def describe_steps(notes: Mapping[int, str], start: Optional[int], target: int) -> Tuple[str, ...]:
    """The lines of the steps from ``start`` (None: a new store) up to ``target``."""
    if start is None:
        return (f"create every table at version {target}",)
    return tuple(f"step {v}: {notes.get(v, '(undescribed)')}" for v in range(start + 1, target + 1))


def readable(where: str, version: int, readable_from: Optional[int], target: int) -> None:
    """Refuse a store ``version`` ahead of ``target`` unless its marker lets this code in."""
    from wxapush.store.base import SchemaVersionError

    if version > target and (readable_from is None or readable_from > target):
        raise SchemaVersionError(where, version, target)


def _backend(url: Optional[str]) -> Tuple[str, Callable[[Optional[str], bool], SchemaState]]:
    from wxapush.store import BACKEND_MODULES

    scheme = (url or "sqlite:").partition(":")[0].lower().split("+", 1)[0]
    if scheme == "sqlite":
        return "sqlite", _sqlite
    module_name = BACKEND_MODULES.get(scheme)
    if module_name is None:
        raise StoreURLError(f"unknown store scheme {scheme!r}")
    module = importlib.import_module(f"wxapush.store.{module_name}")
    run: Callable[[Optional[str], bool], SchemaState] = module.schema_state
    return module_name, run


def _sqlite(url: Optional[str], apply: bool) -> SchemaState:
    from wxapush.store import default_store_path, sqlite_path
    from wxapush.store.sqlite import database

    path = sqlite_path(url) if url else default_store_path()
    return database.schema_state(path, apply)


def inspect(url: Optional[str]) -> SchemaState:
    """The schema of the store ``url`` names (None: the embedded default); changes nothing."""
    return _backend(url)[1](url, False)


def migrate(url: Optional[str]) -> Tuple[SchemaState, SchemaState]:
    """Apply the pending steps (creating a new store): the states before and after.

    A store ahead of this code is left as it is (:class:`SchemaVersionError` if unusable).
    """
    run = _backend(url)[1]
    before = run(url, False)
    if before.ahead or not before.pending:
        readable(before.where, before.version or 0, before.readable_from, before.target)
        return before, before
    return before, run(url, True)
