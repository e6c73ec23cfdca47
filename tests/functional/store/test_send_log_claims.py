"""SendLog conformance: the compare-and-set update behind a claim's take-over and dispatch.

``update(only_if=…)`` applies its changes only while the record still holds the given values,
in the same atomic write, on every backend (see ``services/send_claim``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from tests.functional.store.test_send_log import T0, make
from wxapush.store import Store, new_log_id


def test_a_condition_that_holds_applies_the_changes(store: Store) -> None:
    record = make(key="k1", payload_hash="h")
    store.log.claim(record)
    assert store.log.update(
        record.log_id, only_if={"status": "pending", "attempts": 0}, attempts=1, updated_at=T0 + 1
    )
    assert store.log.get(record.log_id) == replace(record, attempts=1, updated_at=T0 + 1)


def test_a_condition_that_fails_changes_nothing(store: Store) -> None:
    record = make(key="k2", payload_hash="h", attempts=1)
    store.log.claim(record)
    taken = store.log.update(
        record.log_id,
        only_if={"status": "pending", "attempts": 0},
        status="rejected",
        idempotency_key=None,
        updated_at=T0 + 1,
    )
    assert taken is False
    assert store.log.get(record.log_id) == record
    # the key is still held: a new claim of it finds the record
    assert store.log.claim(make(key="k2"))[1] is False


def test_a_repeated_conditional_update_is_idempotent(store: Store) -> None:
    """A dispatch retried after its reply was lost: the second write finds its own first."""
    record = make(key="k3", payload_hash="h")
    store.log.claim(record)
    for _ in range(2):
        assert store.log.update(record.log_id, only_if={"status": "pending"}, attempts=1,
                                updated_at=T0 + 2)  # fmt: skip
    assert store.log.get(record.log_id) == replace(record, attempts=1, updated_at=T0 + 2)


def test_a_take_over_frees_the_key_for_a_new_claim(store: Store) -> None:
    stale = make(key="k4", payload_hash="h")
    store.log.claim(stale)
    assert store.log.update(stale.log_id, only_if={"status": "pending", "attempts": 0},
                            status="rejected", idempotency_key=None, updated_at=T0 + 1)  # fmt: skip
    fresh = make(key="k4", payload_hash="h")
    assert store.log.claim(fresh) == (fresh, True)
    # the stale record's late dispatch fails: it is no longer pending
    assert store.log.update(stale.log_id, only_if={"status": "pending"}, attempts=1,
                            updated_at=T0 + 2) is False  # fmt: skip


def test_of_racing_take_overs_and_a_dispatch_exactly_one_wins(store: Store) -> None:
    def take_over(log_id: str) -> bool:
        return store.log.update(log_id, only_if={"status": "pending", "attempts": 0},
                                status="rejected", updated_at=T0 + 1)  # fmt: skip

    def dispatch(log_id: str) -> bool:
        return store.log.update(log_id, only_if={"status": "pending"}, attempts=1,
                                updated_at=T0 + 1)  # fmt: skip

    for round_ in range(5):
        record = make(key=f"race-{round_}", payload_hash="h")
        store.log.claim(record)
        with ThreadPoolExecutor(4) as pool:
            racing = [pool.submit(take_over, record.log_id) for _ in range(3)]
            racing.append(pool.submit(dispatch, record.log_id))
            *takes, dispatched = [future.result() for future in racing]
        final = store.log.get(record.log_id)
        assert final is not None
        assert sum(takes) + (final.status == "pending") == 1
        assert dispatched == (final.status == "pending")


def test_a_conditional_update_of_an_absent_record_is_a_key_error(store: Store) -> None:
    with pytest.raises(KeyError):
        store.log.update(new_log_id(), only_if={"status": "pending"}, attempts=1)


@pytest.mark.parametrize("only_if", [{"touser": "x"}, {"status": "lost"}, {"attempts": "0"}])
def test_update_refuses_bad_conditions(store: Store, only_if: dict[str, object]) -> None:
    record = make()
    store.log.claim(record)
    with pytest.raises(ValueError):
        store.log.update(record.log_id, only_if=only_if, attempts=1)
    assert store.log.get(record.log_id) == record
