"""The secrets scan: every log line a run wrote, searched for the secrets and openids it used.

wxapush's own loggers and its drivers' (urllib3, psycopg, redis…) are captured at DEBUG;
wxemu's are not (the emulator plays WeChat, which knows the tokens it issued).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import quote, unquote

from wxapush.logs import JsonFormatter

#: The shortest value worth searching for (shorter ones match by chance).
MIN_SECRET = 8


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.json = JsonFormatter()  # the line as SCF writes it, extras included

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("wxemu"):
            return
        try:
            self.lines.append(self.format(record) + "\n" + self.json.format(record))
        except Exception:  # a record that cannot be formatted is a finding of its own
            self.lines.append(f"UNFORMATTABLE {record.name} {record.msg!r}")


@contextmanager
def capture_logs() -> Iterator[list[str]]:
    """Every log line written inside the block (all loggers but wxemu's, at DEBUG)."""
    root = logging.getLogger()
    capture = _Capture()
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        yield capture.lines
    finally:
        root.removeHandler(capture)
        root.setLevel(level)


def leaks(lines: Iterable[str], secrets: Iterable[str]) -> list[str]:
    """The lines that quote a secret (as written, percent-encoded or decoded), shortened."""
    forms = set()
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET:
            forms.update({secret, quote(secret, safe=""), unquote(secret)})
    found = []
    for line in lines:
        for form in forms:
            if form in line:
                found.append(f"{form[:4]}… in {line[:160]!r}")
    return found
