"""Shared test plumbing: service discovery for Redis, PostgreSQL and MariaDB.

Tests that need a server ask for one of the ``*_url`` fixtures. When the server is absent they
skip with a reason, unless ``WXAPUSH_REQUIRE_SERVICES=1`` (set by ``.ci/run``), where they fail.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from tests import suite_clock
from wxemu.testing import RunningServer, running_server

# Every log line of the suite is searched for the secrets and openids the tests use.
pytest_plugins = ["tests.reliability.secrets_plugin"]


def pytest_configure(config: pytest.Config) -> None:
    """Start the suite at the instant WXAPUSH_TEST_CLOCK chooses (noon in Shanghai by default)."""
    try:
        suite_clock.install()
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_unconfigure(config: pytest.Config) -> None:
    suite_clock.uninstall()


def pytest_report_header(config: pytest.Config) -> str:
    return suite_clock.describe()


SERVICES = {
    "redis": ("WXAPUSH_TEST_REDIS", "redis://127.0.0.1:6379/15", 6379),
    "postgresql": ("WXAPUSH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test", 5432),
    "mysql": ("WXAPUSH_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test", 3306),
}


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def service_url(name: str) -> str:
    """A test service's URL; skip when it is down (fail under WXAPUSH_REQUIRE_SERVICES=1)."""
    env_var, default, port = SERVICES[name]
    url = os.environ.get(env_var, default)
    if not _reachable(port):
        reason = f"{name} is not reachable on 127.0.0.1:{port} (set {env_var} or start it)"
        if os.environ.get("WXAPUSH_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture
def redis_url() -> str:
    return service_url("redis")


@pytest.fixture
def postgres_url() -> str:
    return service_url("postgresql")


@pytest.fixture
def mysql_url() -> str:
    return service_url("mysql")


@pytest.fixture(scope="module")
def wxemu_server() -> Iterator[RunningServer]:
    """A wxemu server (real HTTP on 127.0.0.1) per test module: a module's hooks and pushes in
    flight never reach another's."""
    with running_server() as server:
        yield server


@pytest.fixture
def wxemu(wxemu_server: RunningServer) -> RunningServer:
    """The running wxemu, freshly reset with its demo app."""
    wxemu_server.reset()
    return wxemu_server
