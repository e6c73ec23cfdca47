"""The suite-wide secrets scan: every log line any test writes is searched for the secrets and
openids the suite uses; a hit fails the run (at the end, with the line and the test).

Registered by ``tests/conftest.py``. Each line is scanned as written and as its JSON line
(:class:`wxapush.logs.JsonFormatter`, the format on SCF), keys and extras included. wxemu's
own loggers are left out (the emulator plays WeChat, which knows what it issued). Access
tokens are recognised by wxemu's format (``89_`` and 133 URL-safe characters), since they are
random.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

import pytest

from wxapush.logs import JsonFormatter
from wxemu import demo

#: The credentials and openids the suite's tests configure (tests/**/conftest.py and modules).
SUITE_SECRETS = (
    demo.SECRET,
    demo.OPENID,
    "test-admin-key-0123456789-0123456789abcdef",
    "test-callback-token",
    "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "appsecret-never-shown-0001",
    "appsecret-0123456789abcdef",
    "admin-key-very-secret",
    "fuzz-admin-key-0123456789-0123456789abcdef",
    "fuzz-callback-token",
    "o6_bmjrPTlm6_2sgVt7hMZOPfL2M",
    "Soak-Pw-9c1f@b2",
    "db-password",
    "cache-password",
    "test-robot-key-0001",
)
ACCESS_TOKEN = re.compile(r"89_[A-Za-z0-9_-]{133}")


class SecretScan(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.forms = sorted({f for s in SUITE_SECRETS for f in (s, quote(s, safe=""))})
        self.lines = 0
        self.found: list[str] = []
        self.test = "(collection)"
        self.json = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("wxemu"):
            return
        try:
            line = record.getMessage()
            if record.exc_info:
                line += logging.Formatter().formatException(record.exc_info)
            # The line as SCF writes it: the invocation's fields and the record's extras too.
            line += "\n" + self.json.format(record)
        except Exception:
            return
        self.lines += 1
        hits = [f for f in self.forms if f in line]
        if ACCESS_TOKEN.search(line):
            hits.append("89_…access token")
        for hit in hits:
            if len(self.found) < 20:
                self.found.append(f"{self.test}: {hit[:6]}… in {record.name}: {line[:200]!r}")


_scan = SecretScan()


def pytest_configure(config: pytest.Config) -> None:
    # On the root: every line any logger emits. wxapush's own loggers emit at DEBUG for the
    # run; the others keep their levels (a test that lowers one, urllib3's, is scanned too).
    logging.getLogger().addHandler(_scan)
    logging.getLogger("wxapush").setLevel(logging.DEBUG)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: object) -> object:
    _scan.test = item.nodeid
    yield


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    logging.getLogger().removeHandler(_scan)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if _scan.found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter is not None:
            reporter.write_line(f"secrets scan: {len(_scan.found)} log line(s) leak", red=True)
            for finding in _scan.found:
                reporter.write_line("  " + finding, red=True)
    elif reporter is not None and _scan.lines:
        reporter.write_line(f"secrets scan: {_scan.lines} log lines, no secret or openid")
