"""TokenCache conformance: one-record tokens, compare-and-invalidate, owner-only expiring locks."""

from __future__ import annotations

import threading
import time

from wxapush.store import Store, TokenRecord

KEY = "wx0123456789abcdef:stable"


def test_absent_token_is_none(store: Store) -> None:
    assert store.tokens.get_token(KEY) is None


def test_put_then_get_returns_the_whole_record(store: Store) -> None:
    record = TokenRecord(token="ACCESS_TOKEN-1", expires_at=1_700_007_200.25, fetched_at=1.5)
    store.tokens.put_token(KEY, record)
    assert store.tokens.get_token(KEY) == record


def test_put_replaces_and_keys_are_independent(store: Store) -> None:
    store.tokens.put_token(KEY, TokenRecord("old", 100.0, 1.0))
    store.tokens.put_token(KEY, TokenRecord("new", 200.0, 2.0))
    store.tokens.put_token("other", TokenRecord("x", 300.0, 3.0))
    assert store.tokens.get_token(KEY) == TokenRecord("new", 200.0, 2.0)
    assert store.tokens.get_token("other") == TokenRecord("x", 300.0, 3.0)


def test_expired_record_is_still_returned(store: Store) -> None:
    stale = TokenRecord("expired", expires_at=time.time() - 3600, fetched_at=time.time() - 10800)
    store.tokens.put_token(KEY, stale)
    assert store.tokens.get_token(KEY) == stale


def test_invalidate_removes_the_matching_token(store: Store) -> None:
    store.tokens.put_token(KEY, TokenRecord("t1", 100.0, 1.0))
    assert store.tokens.invalidate_token(KEY, "t1") is True
    assert store.tokens.get_token(KEY) is None
    assert store.tokens.invalidate_token(KEY, "t1") is False


def test_invalidating_a_stale_token_keeps_the_newer_one(store: Store) -> None:
    store.tokens.put_token(KEY, TokenRecord("t1", 100.0, 1.0))
    store.tokens.put_token(KEY, TokenRecord("t2", 200.0, 2.0))  # another instance refreshed
    assert store.tokens.invalidate_token(KEY, "t1") is False
    assert store.tokens.get_token(KEY) == TokenRecord("t2", 200.0, 2.0)


def test_invalidate_absent_key(store: Store) -> None:
    assert store.tokens.invalidate_token("nothing-here", "t") is False


def test_readers_never_see_a_torn_record(store: Store) -> None:
    """Each record's fields belong together (token i <-> expiry i), whatever the interleaving."""
    stop = threading.Event()
    torn: list[TokenRecord] = []

    def write() -> None:
        try:
            for i in range(300):
                store.tokens.put_token(KEY, TokenRecord(f"t{i}", float(i), float(i) / 2))
        finally:
            stop.set()

    def read() -> None:
        while not stop.is_set():
            got = store.tokens.get_token(KEY)
            if got is not None and (
                got.token != f"t{int(got.expires_at)}" or got.fetched_at != got.expires_at / 2
            ):
                torn.append(got)

    threads = [threading.Thread(target=f, daemon=True) for f in (write, read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert stop.is_set() and not torn


def test_lock_is_exclusive_and_not_reentrant(store: Store) -> None:
    assert store.tokens.acquire_lock("fetch", "a", ttl=60) is True
    assert store.tokens.acquire_lock("fetch", "b", ttl=60) is False
    assert store.tokens.acquire_lock("fetch", "a", ttl=60) is False
    assert store.tokens.acquire_lock("another", "b", ttl=60) is True


def test_only_the_owner_releases(store: Store) -> None:
    assert store.tokens.acquire_lock("fetch", "a", ttl=60)
    assert store.tokens.release_lock("fetch", "b") is False
    assert store.tokens.acquire_lock("fetch", "b", ttl=60) is False  # still a's
    assert store.tokens.release_lock("fetch", "a") is True
    assert store.tokens.release_lock("fetch", "a") is False
    assert store.tokens.acquire_lock("fetch", "b", ttl=60) is True


def test_release_of_a_lock_never_taken(store: Store) -> None:
    assert store.tokens.release_lock("never", "a") is False


def test_a_lock_past_its_ttl_is_free(store: Store) -> None:
    assert store.tokens.acquire_lock("fetch", "dead", ttl=1.0)
    assert store.tokens.acquire_lock("fetch", "b", ttl=60) is False
    deadline = time.monotonic() + 10  # poll: the assertion is that it frees, not when exactly
    while not store.tokens.acquire_lock("fetch", "b", ttl=60):
        assert time.monotonic() < deadline, "an expired lock was never freed"
        time.sleep(0.05)
    # the presumed-dead owner wakes up: it must not release b's lock
    assert store.tokens.release_lock("fetch", "dead") is False
    assert store.tokens.acquire_lock("fetch", "c", ttl=60) is False
