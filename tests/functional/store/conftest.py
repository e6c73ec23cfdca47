"""The conformance suite's backends: each entry yields the URL of a fresh, empty store.

Every test here runs once per backend. Adding a backend is one entry in BACKENDS: a function of
(request, tmp_path) returning a URL whose store holds nothing yet — e.g. for redis, take the
``redis_url`` fixture (tests/conftest.py; it skips when the server is down) and flush its test
database; for SQL, ``postgres_url`` / ``mysql_url`` with the tables dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Iterator

import pytest
from wxapush.store import Store, open_store


def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite://{tmp_path / 'store.db'}"  # tmp_path is absolute: sqlite:///…


BACKENDS: Dict[str, Callable[[pytest.FixtureRequest, Path], str]] = {
    "sqlite": _sqlite,
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
