"""The store-fault soak at CI scale (issue 19): one mixed run per store server.

Lost replies at every round trip (COMMIT included), resets, delays and, on PostgreSQL and
MariaDB, real backend kills, while the soak's callers send keyed messages: nothing lost,
nothing doubled, nothing left ``pending``, no key stranded, and every ``unknown`` a message
WeChat holds. The per-kind runs at full scale are ``benchmarks/bench_reliability.py --only
store``.
"""

from __future__ import annotations

import pytest

from .soak_store import clean, figures, run_store_soak

SENDS = 40


@pytest.mark.parametrize("store", ["postgresql", "mysql", "redis"])
def test_store_faults_lose_double_and_strand_nothing(
    request: pytest.FixtureRequest, store: str
) -> None:
    server = request.getfixturevalue({"postgresql": "postgres_url", "mysql": "mysql_url",
                                      "redis": "redis_url"}[store])  # fmt: skip
    report = run_store_soak("mixed", store, server, SENDS)
    print(figures(report))
    assert sum(report.faults.values()) > 0, "no fault was injected"
    assert (report.lost, report.duplicated, report.pending, report.stranded) == (0, 0, 0, 0)
    assert report.unknown_not_delivered == 0 and report.false_sent == 0
    assert clean(report) and report.log_leaks == []
