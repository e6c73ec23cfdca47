"""Days and displayed times in ``WXAPUSH_TZ``: never the machine's local zone.

A function runs on a machine whose zone is UTC (SCF) or anything at all (a laptop, CI), while
its users' days are Shanghai's (or the configured zone's): "today", a day's boundaries and every
rendered time are computed here from an explicit zone.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timezone, tzinfo
from datetime import time as dtime
from typing import Optional


def today(tz: tzinfo, now: Optional[float] = None) -> date:
    """The current date in ``tz`` (``now``: unix seconds, default the current time)."""
    return datetime.fromtimestamp(time.time() if now is None else now, tz).date()


def start_of(day: date, tz: tzinfo) -> float:
    """Unix seconds of the first instant of ``day`` in ``tz``."""
    return datetime.combine(day, dtime.min, tzinfo=tz).timestamp()


def iso(timestamp: float, tz: tzinfo) -> str:
    """``timestamp`` in ISO 8601 in ``tz``, to the ms: ``2026-12-02T01:53:38.000+08:00``."""
    moment = datetime.fromtimestamp(timestamp, timezone.utc).astimezone(tz)
    return moment.isoformat(timespec="milliseconds")
