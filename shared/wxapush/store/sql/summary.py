"""SendLog.summarize on SQL: one GROUP BY query over the period's records.

Grouped by (period, template_id, status, errcode): a few hundred rows however large the log,
folded into the summary's three views here. One statement is one snapshot, and one pass over
the ``<prefix>_send_log_summary`` index, which holds every column the query reads (PostgreSQL
and MySQL answer from the index alone).
"""

from __future__ import annotations

from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from wxapush.store.base import LogSummary
from wxapush.store.common import SummaryBuilder, check_bounds


def period_of(column: Any, bounds: Sequence[int]) -> Any:
    """The index of the period ``column`` falls in, as a CASE over the bounds.

    A CASE, not arithmetic on the day's length: a day is 23 or 25 hours long where the zone
    changes to or from summer time.
    """
    whens = [(column < bound, i) for i, bound in enumerate(bounds[1:])]
    return sa.case(*whens)


def summarize(engine: Engine, table: sa.Table, appid: str, bounds: Sequence[float]) -> LogSummary:
    edges = check_bounds(bounds)
    c = table.c
    in_range = sa.and_(c.appid == appid, c.created_at >= edges[0], c.created_at < edges[-1])
    period = period_of(c.created_at, edges).label("period")
    code = sa.func.coalesce(c.errcode, 0).label("code")
    query = (
        sa.select(period, c.template_id, c.status, code, sa.func.count().label("n"))
        .where(in_range)
        .group_by(period, c.template_id, c.status, code)
    )
    out = SummaryBuilder(len(edges) - 1)
    with engine.connect() as conn:
        for index, template_id, status, errcode, n in conn.execute(query):
            out.row(int(index), template_id, status, errcode, n)
    return out.build()
