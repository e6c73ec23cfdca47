"""SendLog.summarize on SQLite: one GROUP BY query over the (appid, created_at) index.

Grouped by (period, template_id, status, errcode): a few hundred rows however large the log,
folded into the summary's three views here. One statement is one snapshot.
"""

from __future__ import annotations

from typing import Any, List, Sequence, Tuple

from wxapush.store.base import LogSummary
from wxapush.store.common import SummaryBuilder, check_bounds
from wxapush.store.sqlite.database import Database


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
    out = SummaryBuilder(len(edges) - 1)
    with db.connection() as conn:
        rows = conn.execute(
            f"SELECT {case} AS period, template_id, status, COALESCE(errcode, 0) AS code,"
            " COUNT(*) FROM send_log INDEXED BY send_log_time"
            " WHERE appid = ? AND created_at >= ? AND created_at < ?"
            " GROUP BY period, template_id, status, code",
            (*case_params, appid, edges[0], edges[-1]),
        )
        for period, template_id, status, errcode, n in rows:
            out.row(int(period), template_id, status, errcode, n)
    return out.build()
