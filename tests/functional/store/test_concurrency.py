"""Concurrency conformance: N processes (and threads) racing on one key get one truth.

Each process opens its own store on the same URL (forked from a clean forkserver: no store or
connection is inherited) and waits at a barrier, so the operations really overlap. Everything is
bounded by timeouts; no sleeps.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, List

import pytest

from tests.functional.store import _workers
from wxapush.store import LogQuery, Store

N = 8
TIMEOUT = _workers.TIMEOUT


def race(url: str, task: str, *args: Any, open_late: bool = False) -> List[Any]:
    """Run ``task`` in N fresh processes at once; return their results, in process order."""
    ctx = _workers.context()
    barrier = ctx.Barrier(N)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_workers.run, args=(url, task, i, args, barrier, results, open_late))
        for i in range(N)
    ]
    return _workers.gather(procs, results)


def test_processes_racing_on_one_idempotency_key_one_wins(store: Store, store_url: str) -> None:
    outcomes = race(store_url, "claim_key", "order-42")
    winners = [log_id for created, log_id in outcomes if created]
    assert len(winners) == 1
    assert {log_id for _, log_id in outcomes} == set(winners)  # losers got the winner's record
    page = store.log.query(LogQuery(_workers.APP, 0, 2e9))
    total, records = page.total, page.records
    assert total == 1 and records[0].log_id == winners[0]


def test_processes_racing_for_a_lock_one_owner(store: Store, store_url: str) -> None:
    assert sum(race(store_url, "take_lock", "token-fetch")) == 1


def test_processes_racing_to_consume_exactly_the_balance(store: Store, store_url: str) -> None:
    store.grants.grant(_workers.APP, "oUser1", "TPL_A", count=5)
    assert sum(race(store_url, "consume", 3)) == 5  # 24 attempts, 5 grants
    assert store.grants.balance(_workers.APP, "oUser1", "TPL_A") == 0


@pytest.mark.fresh_schema
def test_cold_processes_opening_a_fresh_store_at_once(store_url: str) -> None:
    """First use creates the schema; N processes doing it together must all succeed."""
    outcomes = race(store_url, "claim_key", "cold", open_late=True)
    assert sum(created for created, _ in outcomes) == 1


def test_threads_sharing_one_store(store: Store) -> None:
    store.grants.grant(_workers.APP, "oUser1", "TPL_A", count=20)
    start = threading.Barrier(16)

    def work(index: int) -> List[Any]:
        start.wait(timeout=60)
        claimed = _workers.claim_key(store, index, "threaded")
        return [claimed, _workers.consume(store, index, 4)]

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(work, range(16), timeout=TIMEOUT))
    assert sum(claimed[0] for claimed, _ in outcomes) == 1
    assert sum(consumed for _, consumed in outcomes) == 20
    assert store.grants.balance(_workers.APP, "oUser1", "TPL_A") == 0
