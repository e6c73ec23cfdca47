"""The conformance suite's backends: each entry yields the URL of a fresh, empty store.

Every test here runs once per backend. Adding a backend is one entry in BACKENDS: a function of
(request, tmp_path) returning a URL whose store holds nothing yet. The shared servers are shared
with other runs, so a test never flushes or drops anything but its own namespace (``?prefix=``:
a Redis key prefix, a SQL table prefix):

* redis: a new prefix per test, its keys deleted afterwards;
* SQL: creating nine tables costs MariaDB half a second, so one prefix per session is created
  once and emptied before each test, and dropped at the end; a test marked ``fresh_schema``
  gets a prefix no table exists under yet.

The ``*_url`` fixtures (tests/conftest.py) skip when a server is down, or fail under
WXAPUSH_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Callable, Dict, Iterator

import pytest

from tests.functional.store import _namespaces
from wxapush.store import Store, open_store


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fresh_schema: the SQL backends start from an empty database (no tables)"
    )


def _with_prefix(server: str, prefix: str) -> str:
    return f"{server}{'&' if '?' in server else '?'}prefix={prefix}"


def _new_prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite://{tmp_path / 'store.db'}"  # tmp_path is absolute: sqlite:///…


def _redis(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    server = request.getfixturevalue("redis_url")
    prefix = _new_prefix()
    request.addfinalizer(lambda: _namespaces.drop_redis(server, prefix))
    return _with_prefix(server, prefix)


@pytest.fixture(scope="session")
def _sql_namespaces() -> Iterator[Dict[str, str]]:
    """server URL -> this session's prefix on it; dropped when the session ends."""
    made: Dict[str, str] = {}
    yield made
    for server, prefix in made.items():
        _namespaces.drop_sql(server, prefix)


def _sql(fixture: str) -> Callable[[pytest.FixtureRequest, Path], str]:
    def make(request: pytest.FixtureRequest, tmp_path: Path) -> str:
        server = request.getfixturevalue(fixture)
        if request.node.get_closest_marker("fresh_schema"):
            prefix = _new_prefix()
            request.addfinalizer(lambda: _namespaces.drop_sql(server, prefix))
            return _with_prefix(server, prefix)
        made = request.getfixturevalue("_sql_namespaces")
        if server not in made:
            made[server] = _new_prefix()
        else:
            _namespaces.empty_sql(server, made[server])
        return _with_prefix(server, made[server])

    return make


BACKENDS: Dict[str, Callable[[pytest.FixtureRequest, Path], str]] = {
    "sqlite": _sqlite,
    "redis": _redis,
    "postgresql": _sql("postgres_url"),
    "mysql": _sql("mysql_url"),
}


@pytest.fixture(params=sorted(BACKENDS))
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty store of each backend (nothing opened yet)."""
    return BACKENDS[request.param](request, tmp_path)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


def store_of(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store of one backend, closed after: the body of a fixture over a few backends
    (``yield from store_of(request.param, request, tmp_path)``)."""
    opened = open_store(BACKENDS[backend](request, tmp_path))
    try:
        yield opened
    finally:
        opened.close()
