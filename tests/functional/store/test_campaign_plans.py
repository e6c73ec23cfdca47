"""The SQL queue's statements are planned to cost the same at any campaign size (issue 21).

On a fresh schema (no statistics yet: the worst case, a first large campaign), each statement a
lease and a settle send is captured and EXPLAINed as the database would run it:

* the lease's pick walks the ``(appid, state, due_at)`` index in due order — no sort of every
  due row (``state IN (...)`` made PostgreSQL and MariaDB sort them all);
* the updates of leased and settled rows (``seq IN (...)``) go through the primary key — not the
  campaign's whole range of another index, as PostgreSQL chose until its statistics counted
  the new recipients (the start now refreshes them).

Plans, not timings: ``benchmarks/bench_lease.py`` measures the cost at 10³ and 10⁶.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, List, Sequence, Tuple

import pytest

from tests.functional.store.conftest import store_of
from tests.functional.store.test_campaigns import APP, NOW
from wxapush.store.base import Campaign, Recipient
from wxapush.store.sql import pool as sql_pool

pytestmark = pytest.mark.fresh_schema
SIZE = 50_000


@pytest.fixture(params=["postgresql", "mysql"])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from store_of(request.param, request, tmp_path)


def started(store: Any) -> None:
    """A campaign of SIZE recipients built as a large one is: open, append, start."""
    q = store.campaigns
    head = Campaign("big", APP, "tpl", None, {}, "formal", "zh_CN", "open", 0, NOW, NOW, "h")
    q.create(head, [])
    for first in range(0, SIZE, 10_000):
        chunk = [Recipient(seq, f"o-{seq}") for seq in range(first, first + 10_000)]
        assert q.append(APP, "big", chunk, NOW) == ("open", [])
    assert q.start(APP, "big", NOW) is True


def captured(monkeypatch: pytest.MonkeyPatch) -> List[Tuple[str, Sequence[Any]]]:
    """Every statement on the recipients table from now on, with its parameters."""
    seen: List[Tuple[str, Sequence[Any]]] = []
    for name in ("execute", "rows"):
        real = getattr(sql_pool.Connection, name)

        def spy(self: Any, sql: str, params: Sequence[Any] = (), _real: Any = real) -> Any:
            if "_recipients" in sql and not sql.startswith("EXPLAIN"):
                seen.append((sql, params))
            return _real(self, sql, params)

        monkeypatch.setattr(sql_pool.Connection, name, spy)
    return seen


def plan(store: Any, sql: str, params: Sequence[Any]) -> Tuple[str, str]:
    """The database's plan of ``sql``: the index it reads the recipients by, and the whole
    plan as text (PostgreSQL's lines, MySQL's rows) for the failure's message."""
    with store.pool.connection() as conn:
        if conn.dialect.name == "postgresql":
            lines = [str(row[0]) for row in conn.rows(f"EXPLAIN {sql}", params)]
            text = "\n".join(lines)
            scans = [line for line in lines if " Scan " in line or line.lstrip().startswith("->")]
            used = " ".join(scans)
            index = "primary key" if "_recipients_pkey" in used else used
            return ("sorted" if "Sort" in text else index), text
        cursor = conn.raw.cursor()
        cursor.execute(f"EXPLAIN {sql}", tuple(params))
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row)) for row in cursor.fetchall()]
        cursor.close()
        text = repr(rows)
        [row] = [r for r in rows if str(r["table"]).endswith("_recipients")]
        if "filesort" in str(row["Extra"]):
            return "sorted", text
        return ("primary key" if row["key"] == "PRIMARY" else str(row["key"])), text


def test_leases_and_settles_use_the_due_index_in_order_and_the_primary_key(
    sql_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    started(sql_store)
    seen = captured(monkeypatch)
    q = sql_store.campaigns
    leases = q.lease(APP, "w", NOW, 30, 50)
    assert len(leases) == 50
    assert q.settle(APP, "w", [(lease, "sent") for lease in leases], NOW) == {"sent": 50}
    monkeypatch.undo()
    picks = [s for s in seen if s[0].lstrip().startswith("SELECT") and "SKIP LOCKED" in s[0]]
    updates = [s for s in seen if s[0].lstrip().startswith("UPDATE") and "seq IN" in s[0]]
    assert picks and len(updates) == 2  # the lease's stamp and the settle
    for sql, params in picks:
        index, text = plan(sql_store, sql, params)
        assert index.endswith("_recipients_due") or "_recipients_due " in index, text
    for sql, params in updates:
        index, text = plan(sql_store, sql, params)
        assert index == "primary key", text
