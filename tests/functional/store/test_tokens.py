"""TokenCache conformance: one-record tokens, compare-and-invalidate, owner-only expiring locks."""

from __future__ import annotations

import threading
import time
from typing import Any

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


def test_prune_tokens_deletes_the_ended_records_under_the_prefix_only(store: Store) -> None:
    now = time.time()
    ended = {"credentials:wx1:10.0.0.1:locked": now - 10, "credentials:wx1:locked": now - 1}
    kept = {
        "credentials:wx1:10.0.0.2:locked": now + 60,  # still locked
        "credentials:wx2:10.0.0.1:locked": now - 10,  # another app's
        "Credentials:wx1:10.0.0.3:locked": now - 10,  # keys are exact bytes
        "token:wx1:stable": now - 10,  # an expired access token: not a lock
        "credentials:wx1": now - 10,  # shorter than the prefix
    }
    for key, expires_at in {**ended, **kept}.items():
        store.tokens.put_token(key, TokenRecord("locked", expires_at, now - 20))
    pruned = store.tokens.prune_tokens("credentials:wx1:", now)
    for key, expires_at in kept.items():
        assert store.tokens.get_token(key) == TokenRecord("locked", expires_at, now - 20), key
    if type(store).__name__ == "RedisStore":
        # Each record is a key with a TTL: Redis drops an ended one a day after it ended.
        from wxapush.store.redis.ledgers import TOKEN_GRACE

        on_redis: Any = store
        assert pruned == 0
        for key in ended:
            assert 0 < on_redis.client.pttl(on_redis.keys.token(key)) <= TOKEN_GRACE * 1000
    else:
        assert pruned == 2
        assert [store.tokens.get_token(key) for key in ended] == [None, None]


def test_a_prune_prefix_is_text_not_a_pattern(store: Store) -> None:
    now = time.time()
    for key in ("cred_%:a", "credXY:a", "cred_%Z:b"):
        store.tokens.put_token(key, TokenRecord("locked", now - 10, now - 20))
    store.tokens.prune_tokens("cred_%:", now)
    assert store.tokens.get_token("credXY:a") is not None
    assert store.tokens.get_token("cred_%Z:b") is not None
