"""ChoiceLedger conformance: a subscription push's claim and ledger changes, applied once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, List, Tuple, Type

import pytest

from tests.functional.store.test_concurrency import TIMEOUT, race
from wxapush.store import Store
from wxapush.store.base import GRANT, REVOKE

APP, USER, TPL = "wx0123456789abcdef", "oUser1", "TPL_A"


def test_an_event_seen_twice_changes_the_ledger_once(store: Store) -> None:
    assert store.choices.record_once("wxpush:e1", 60, APP, USER, [(TPL, GRANT)]) is True
    assert store.choices.record_once("wxpush:e1", 60, APP, USER, [(TPL, GRANT)]) is False
    assert store.grants.balance(APP, USER, TPL) == 1
    assert store.choices.record_once("wxpush:e2", 60, APP, USER, [(TPL, GRANT)]) is True
    assert store.grants.balance(APP, USER, TPL) == 2  # another event grants again


def test_changes_apply_in_order_to_the_users_balances(store: Store) -> None:
    store.grants.grant(APP, USER, "TPL_B", count=3)
    changes = [(TPL, GRANT), ("TPL_B", REVOKE), ("TPL_C", REVOKE), ("TPL_D", GRANT), (TPL, GRANT)]
    assert store.choices.record_once("wxpush:e", 60, APP, USER, changes) is True
    balances = [store.grants.balance(APP, USER, t) for t in (TPL, "TPL_B", "TPL_C", "TPL_D")]
    assert balances == [2, 0, 0, 1]
    assert store.choices.record_once("wxpush:r", 60, APP, USER, [(TPL, REVOKE), (TPL, GRANT)])
    assert store.grants.balance(APP, USER, TPL) == 1  # revoke, then the grant after it
    assert store.grants.balance(APP, "oUser2", TPL) is None  # only the named user's
    assert store.grants.balance("wxother", USER, TPL) is None


def test_an_event_without_changes_is_still_claimed(store: Store) -> None:
    assert store.choices.record_once("wxpush:off", 60, APP, USER, []) is True
    assert store.choices.record_once("wxpush:off", 60, APP, USER, [(TPL, GRANT)]) is False
    assert store.grants.balance(APP, USER, TPL) is None


def test_the_claim_is_the_event_logs(store: Store) -> None:
    """One key space with EventLog: forget, prune and first_seen see the same claims."""
    assert store.choices.record_once("wxpush:k", 60, APP, USER, [(TPL, GRANT)]) is True
    assert store.events.first_seen("wxpush:k", 60) is False
    store.events.forget("wxpush:k")  # what a failed handling does: the re-push applies again
    assert store.choices.record_once("wxpush:k", 60, APP, USER, [(TPL, GRANT)]) is True
    assert store.grants.balance(APP, USER, TPL) == 2
    assert store.events.first_seen("wxpush:seen", 60) is True
    assert store.choices.record_once("wxpush:seen", 60, APP, USER, [(TPL, GRANT)]) is False
    store.choices.record_once("wxpush:short", 1, APP, USER, [])
    assert store.events.prune(time.time() + 10) == 1  # the 1 s window ended; the others did not
    assert store.choices.record_once("wxpush:short", 60, APP, USER, []) is True


def test_a_key_is_new_again_after_its_window(store: Store) -> None:
    assert store.choices.record_once("wxpush:w", 0.05, APP, USER, [(TPL, GRANT)]) is True
    deadline = time.monotonic() + 5
    while not store.choices.record_once("wxpush:w", 60, APP, USER, [(TPL, GRANT)]):
        assert time.monotonic() < deadline, "the window never ended"
        time.sleep(0.02)
    assert store.grants.balance(APP, USER, TPL) == 2


@pytest.mark.parametrize("change", [(TPL, "add"), (TPL,), (7, GRANT), (TPL, GRANT, 1)])
def test_a_malformed_change_is_refused_before_anything_is_written(
    store: Store, change: Any
) -> None:
    with pytest.raises(ValueError):
        store.choices.record_once("wxpush:bad", 60, APP, USER, [(TPL, GRANT), change])
    assert store.grants.balance(APP, USER, TPL) is None
    assert store.events.first_seen("wxpush:bad", 60) is True  # not claimed


def _break_the_ledger(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> Tuple[Type[BaseException], Callable[[], None]]:
    """Make the next ledger write fail as the store would; return its error and what mends it."""
    if type(store).__name__ == "RedisStore":
        import redis

        # A real fault on the server: a balance that is not a number fails HINCRBY.
        on_redis: Any = store
        client, key = on_redis.client, on_redis.keys.grants(APP, USER)
        client.hset(key, "TPL_B", "not a number")
        return redis.ResponseError, lambda: client.hdel(key, "TPL_B")

    # The composed stores write through GrantLedger: its write fails as a lost database would.
    def fail(*args: Any, **kwargs: Any) -> int:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(store.grants, "grant", fail)
    return ConnectionError, monkeypatch.undo


def test_a_failed_write_loses_nothing_and_the_retry_applies_it_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    changes = [(TPL, REVOKE), ("TPL_B", GRANT)]
    store.grants.grant(APP, USER, TPL, count=2)
    error, mend = _break_the_ledger(store, monkeypatch)
    with pytest.raises(error):
        store.choices.record_once("wxpush:f", 60, APP, USER, changes)
    mend()
    # WeChat's retry of the push is handled, and its changes land once.
    assert store.choices.record_once("wxpush:f", 60, APP, USER, changes) is True
    assert store.choices.record_once("wxpush:f", 60, APP, USER, changes) is False
    assert store.grants.balance(APP, USER, TPL) == 0
    assert store.grants.balance(APP, USER, "TPL_B") == 1


def test_redis_after_a_lost_reply_the_retry_finds_the_push_applied(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis's one script writes claim and changes together: after a lost reply the claim
    stands only with its changes, so nothing is forgotten and the retry applies nothing twice."""
    if type(store).__name__ != "RedisStore":
        pytest.skip("the composed stores forget the claim when a write fails (test above)")
    import redis

    choices: Any = store.choices
    script = choices._record

    def lost_reply(**kwargs: Any) -> Any:
        script(**kwargs)
        raise redis.ConnectionError("the reply was lost")

    monkeypatch.setattr(choices, "_record", lost_reply)
    with pytest.raises(redis.ConnectionError):
        store.choices.record_once("wxpush:lost", 60, APP, USER, [(TPL, GRANT)])
    monkeypatch.undo()
    assert store.choices.record_once("wxpush:lost", 60, APP, USER, [(TPL, GRANT)]) is False
    assert store.grants.balance(APP, USER, TPL) == 1


def test_processes_racing_on_one_push_grant_once(store: Store, store_url: str) -> None:
    assert sum(race(store_url, "record_choice", "wxpush:race")) == 1
    assert store.grants.balance(APP, USER, TPL) == 1
    assert store.events.first_seen("wxpush:race", 60) is False


def test_threads_racing_on_one_push_grant_once(store: Store) -> None:
    start = threading.Barrier(16)

    def work(index: int) -> List[bool]:
        start.wait(timeout=60)
        return [
            store.choices.record_once(f"wxpush:t{n}", 60, APP, USER, [(TPL, GRANT)])
            for n in range(4)
        ]

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(work, range(16), timeout=TIMEOUT))
    assert [sum(column) for column in zip(*outcomes)] == [1, 1, 1, 1]
    assert store.grants.balance(APP, USER, TPL) == 4
