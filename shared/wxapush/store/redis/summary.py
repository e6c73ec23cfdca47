"""SendLog.summarize on Redis: counters the send-log scripts keep per quarter hour, summed.

Every claim, update and prune adjusts the counters of the record's quarter hour in the same Lua
script that writes the record (``lua.tally``), so they always match the records; one script
reads a whole range at once, a snapshot of one moment. The records are never read.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, Sequence
from urllib.parse import unquote

from wxapush.store.base import LogSummary
from wxapush.store.common import SummaryBuilder, check_bounds


def summarize(script: Any, prefix: str, appid: str, bounds: Sequence[float]) -> LogSummary:
    edges = check_bounds(bounds)
    out = SummaryBuilder(len(edges) - 1)
    answer = script(keys=[], args=[prefix, appid, str(edges[0]), str(edges[-1])])
    for quarter, flat in zip(answer[::2], answer[1::2]):
        period = bisect_right(edges, int(quarter)) - 1
        for name, value in zip(flat[::2], flat[1::2]):
            _count(out, period, name.split(":"), int(value))
    return out.build()


def _count(out: SummaryBuilder, period: int, parts: Sequence[str], n: int) -> None:
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
