"""The Redis summary's counter fields: counters the send-log scripts keep per quarter hour.

Every claim, update and prune adjusts the counters of the record's quarter hour in the same Lua
script that writes the record (``lua.tally``), so they always match the records; rollups.py
reads them (summed per closed bucket where refresh_code did), a snapshot of one moment. The
records are never read.
"""

from __future__ import annotations

from typing import Sequence
from urllib.parse import unquote

from wxapush.store.common import SummaryBuilder


def count_field(out: SummaryBuilder, period: int, parts: Sequence[str], n: int) -> None:
    """One counter field (``s:<status>``, ``t:<tpl>:<status>``, ``e:<tpl>:<status>:<code>``)."""
    kind = parts[0]
    if kind == "s":
        out.period(period, parts[1], n)
    elif kind == "t":
        out.template(_unescape(parts[1]), parts[2], n)
    elif kind == "e":
        out.errcode(_unescape(parts[1]), parts[2], int(parts[3]), n)


def _unescape(value: str) -> str:
    # keys.esc writes '%' as %25 and ':' as %3A; nothing else is escaped
    return unquote(value) if "%" in value else value
