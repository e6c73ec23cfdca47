"""SendLog.summarize on SQL: one GROUP BY query over the period's records.

Grouped by (period, template_id, status, errcode): a few hundred rows however large the log,
folded into the summary's three views here. One statement is one snapshot, and one pass over
the ``<prefix>_send_log_summary`` index, which holds every column the query reads (PostgreSQL
and MySQL answer from the index alone).
"""

from __future__ import annotations

from typing import Sequence

from wxapush.store.base import LogSummary
from wxapush.store.common import SummaryBuilder, check_bounds
from wxapush.store.sql.pool import Pool


def period_of(column: str, bounds: Sequence[int]) -> str:
    """The index of the period ``column`` falls in, as a CASE over the bounds.

    A CASE, not arithmetic on the day's length: a day is 23 or 25 hours long where the zone
    changes to or from summer time. The bounds are written as literals (whole numbers, checked
    by ``check_bounds``) so that GROUP BY repeats the very expression the SELECT list holds.
    """
    whens = " ".join(f"WHEN {column} < {int(bound)} THEN {i}" for i, bound in enumerate(bounds[1:]))
    return f"CASE {whens} END"


def summarize(pool: Pool, table: str, appid: str, bounds: Sequence[float]) -> LogSummary:
    edges = check_bounds(bounds)
    period = period_of("created_at", edges)
    code = "COALESCE(errcode, 0)"
    sql = (
        f"SELECT {period} AS period, template_id, status, {code} AS code, COUNT(*) AS n"
        f" FROM {table} WHERE appid = %s AND created_at >= %s AND created_at < %s"
        f" GROUP BY {period}, template_id, status, {code}"
    )
    params = [appid, edges[0], edges[-1]]
    out = SummaryBuilder(len(edges) - 1)
    with pool.connection() as conn:
        for index, template_id, status, errcode, n in conn.rows(sql, params):
            out.row(int(index), template_id, status, errcode, n)
    return out.build()
