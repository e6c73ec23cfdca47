"""SendLog.summarize on SQL: three GROUP BY queries in one REPEATABLE READ snapshot."""

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
    count = sa.func.count().label("n")
    by_period = sa.select(period, c.status, count).where(in_range).group_by(period, c.status)
    by_template = (
        sa.select(c.template_id, c.status, count).where(in_range).group_by(c.template_id, c.status)
    )
    refused = in_range & c.errcode.is_not(None) & (c.errcode != 0)
    by_errcode = (
        sa.select(c.template_id, c.status, c.errcode, count)
        .where(refused)
        .group_by(c.template_id, c.status, c.errcode)
    )
    out = SummaryBuilder(len(edges) - 1)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():  # the three counts from one snapshot
            for index, status, n in conn.execute(by_period):
                out.period(int(index), status, n)
            for template_id, status, n in conn.execute(by_template):
                out.template(template_id, status, n)
            for template_id, status, errcode, n in conn.execute(by_errcode):
                out.errcode(template_id, status, errcode, n)
    return out.build()
