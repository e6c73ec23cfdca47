"""RateLimiter conformance: a token bucket shared by every process, reservations never lost."""

from __future__ import annotations

import time

import pytest

from tests.functional.store.test_concurrency import race
from wxapush.store import Store

SLACK = 0.05  # seconds: the clocks here are one host's, but reads and writes take time


def test_a_burst_goes_at_once_then_one_per_interval(store: Store) -> None:
    waits, slots = [], []
    for _ in range(6):
        waits.append(store.limiter.acquire("send:wx1", rate=10, burst=3, max_wait=60))
        slots.append(time.time() + waits[-1])  # when this reservation may go
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert all(wait > 0 for wait in waits[3:])
    # the 4th slot is one interval after the first, then one per interval
    for k in (3, 4, 5):
        assert abs(slots[k] - slots[0] - (k - 2) * 0.1) <= SLACK


def test_a_wait_over_max_wait_reserves_nothing(store: Store) -> None:
    assert store.limiter.acquire("k", rate=1, burst=1) == 0.0
    refused = store.limiter.acquire("k", rate=1, burst=1, max_wait=0.2)
    assert 0.2 < refused <= 1.0
    again = store.limiter.acquire("k", rate=1, burst=1, max_wait=0.2)
    assert again <= refused  # the refusal took no slot: the wait did not grow
    reserved = store.limiter.acquire("k", rate=1, burst=1, max_wait=5)
    assert 0.5 < reserved <= 1.0
    assert store.limiter.acquire("k", rate=1, burst=1, max_wait=5) > 1.5  # after that slot


def test_keys_are_independent(store: Store) -> None:
    assert store.limiter.acquire("a", rate=1) == 0.0
    assert store.limiter.acquire("a", rate=1) > 0.5
    assert store.limiter.acquire("b", rate=1) == 0.0


def test_the_bucket_refills(store: Store) -> None:
    assert store.limiter.acquire("k", rate=20, burst=1) == 0.0
    deadline = time.monotonic() + 5
    while store.limiter.acquire("k", rate=20, burst=1) > 0:
        assert time.monotonic() < deadline, "the bucket never refilled"
        time.sleep(0.01)


@pytest.mark.parametrize(
    "bad", [{"rate": 0}, {"rate": -1}, {"rate": float("inf")}, {"burst": 0}, {"max_wait": -1}]
)
def test_bad_parameters_are_refused(store: Store, bad: dict[str, float]) -> None:
    args = {"rate": 1.0, "burst": 1, "max_wait": 0.0, **bad}
    with pytest.raises(ValueError):
        store.limiter.acquire("k", args["rate"], int(args["burst"]), args["max_wait"])


def test_processes_racing_get_distinct_slots(store: Store, store_url: str) -> None:
    """8 processes × 4 reservations at 20/s: one slot every 50 ms, none shared, none lost."""
    slots = sorted(t for starts in race(store_url, "reserve", 4) for t in starts)
    assert len(slots) == 32
    gaps = [b - a for a, b in zip(slots, slots[1:])]
    assert min(gaps) >= 0.05 - SLACK
    assert slots[-1] - slots[0] >= 31 * 0.05 - SLACK  # 32 slots span 31 intervals at least


def test_prune_deletes_only_the_buckets_at_rest(store: Store, store_url: str) -> None:
    assert store.limiter.acquire("at-rest", rate=1000) == 0.0  # full again 1 ms later
    assert store.limiter.acquire("busy", rate=0.001) == 0.0  # full again in 1,000 s
    time.sleep(0.05)
    pruned = store.limiter.prune(time.time())
    assert pruned == (0 if store_url.startswith("redis") else 1)  # Redis expires keys itself
    assert store.limiter.acquire("busy", rate=0.001, max_wait=1) > 900  # its debt was kept
    assert store.limiter.acquire("at-rest", rate=1000) == 0.0  # as if never used
    assert store.limiter.prune(time.time() - 3600) == 0
