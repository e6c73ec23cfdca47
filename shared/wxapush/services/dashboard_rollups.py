"""refresh_code's rollup step: count the send log's closed periods once, for the dashboard.

The buckets are the days of the retention window in ``WXAPUSH_TZ`` that have ended, and the
hours of today that have ended: the dashboard's summary reads those counts and counts live only
the open hour (``LogRollups``; store/sql/rollups.py, store/redis/rollups.py). A store without
rollups (SQLite counts its own file) has nothing to do.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, Dict, List, Optional, Tuple

from wxapush.app import App
from wxapush.dates import start_of, today
from wxapush.store.base import LogRollups

HOUR = 3600


def buckets(now: float, tz: Any, retention_days: int) -> List[Tuple[int, int]]:
    """The closed days of the window (the one prune keeps, and the day it cuts into), and the
    closed hours of today, as ``(start, end)`` unix seconds."""
    day = today(tz, now)
    out = []
    for back in range(retention_days + 1, 0, -1):
        start, end = (
            start_of(day - timedelta(days=back), tz),
            start_of(day - timedelta(days=back - 1), tz),
        )
        out.append((int(start), int(end)))
    hour = int(start_of(day, tz))
    while hour + HOUR <= now:
        out.append((hour, hour + HOUR))
        hour += HOUR
    return out


def rollups_of(app: App) -> Optional[LogRollups]:
    found: Optional[LogRollups] = getattr(app.store, "rollups", None)
    return found


def roll_up(app: App, deadline: float) -> Dict[str, Any]:
    """refresh_code's step: (re)count the buckets that need it; how many."""
    rollups = rollups_of(app)
    if rollups is None:
        return {"buckets": 0}
    now = time.time()
    settings = app.settings
    wanted = buckets(now, settings.tzinfo, settings.log_retention_days)
    return {"buckets": rollups.roll_up(settings.appid, wanted, now, deadline)}
