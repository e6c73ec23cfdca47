"""SendLog.summarize on SQLite: three GROUP BY queries over the (appid, created_at) index."""

from __future__ import annotations

from typing import Any, List, Sequence, Tuple

from wxapush.store.base import LogSummary
from wxapush.store.common import SummaryBuilder, check_bounds
from wxapush.store.sqlite.database import Database

_RANGE = "appid = ? AND created_at >= ? AND created_at < ?"


def period_case(column: str, bounds: Sequence[int]) -> Tuple[str, List[Any]]:
    """``CASE WHEN column < b1 THEN 0 WHEN column < b2 THEN 1 … END`` and its parameters.

    A CASE, not arithmetic on the day's length: a day is 23 or 25 hours long where the zone
    changes to or from summer time.
    """
    whens = " ".join(f"WHEN {column} < ? THEN {i}" for i in range(len(bounds) - 1))
    return f"CASE {whens} END", list(bounds[1:])


def summarize(db: Database, appid: str, bounds: Sequence[float]) -> LogSummary:
    edges = check_bounds(bounds)
    case, case_params = period_case("created_at", edges)
    where = [appid, edges[0], edges[-1]]
    out = SummaryBuilder(len(edges) - 1)
    with db.snapshot() as conn:  # the three counts from one state
        rows = conn.execute(
            f"SELECT {case} AS period, status, COUNT(*) FROM send_log INDEXED BY send_log_time"
            f" WHERE {_RANGE} GROUP BY period, status",
            (*case_params, *where),
        )
        for period, status, count in rows:
            out.period(int(period), status, count)
        rows = conn.execute(
            "SELECT template_id, status, COUNT(*) FROM send_log INDEXED BY send_log_time"
            f" WHERE {_RANGE} GROUP BY template_id, status",
            where,
        )
        for template_id, status, count in rows:
            out.template(template_id, status, count)
        rows = conn.execute(
            "SELECT template_id, status, errcode, COUNT(*) FROM send_log"
            f" INDEXED BY send_log_time WHERE {_RANGE} AND errcode IS NOT NULL AND errcode != 0"
            " GROUP BY template_id, status, errcode",
            where,
        )
        for template_id, status, errcode, count in rows:
            out.errcode(template_id, status, errcode, count)
    return out.build()
