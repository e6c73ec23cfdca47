"""The combination a fleet deploys: records in one store, tokens/locks/limits in a Redis cache."""

from __future__ import annotations

from typing import Iterator, Tuple

import pytest

from tests.functional.store import _namespaces
from tests.functional.store.conftest import _new_prefix, _with_prefix
from tests.functional.store.test_send_log import APP, T0, make
from wxapush.app import open_shared_store
from wxapush.config import Settings
from wxapush.store import LogPage, LogQuery, Store, TokenRecord, open_store
from wxapush.store.combined import CombinedStore


@pytest.fixture
def urls(store_url: str, redis_url: str) -> Iterator[Tuple[str, str]]:
    """(records URL of each backend, a fresh Redis cache URL)."""
    prefix = _new_prefix()
    yield store_url, _with_prefix(redis_url, prefix)
    _namespaces.drop_redis(redis_url, prefix)


@pytest.fixture
def combined(urls: Tuple[str, str]) -> Iterator[Store]:
    """The store a function opens for WXAPUSH_STORE + WXAPUSH_CACHE."""
    opened = open_shared_store(Settings(appid=APP, store_url=urls[0], cache_url=urls[1]))
    yield opened
    opened.close()


def test_the_cache_setting_combines_the_two(combined: Store) -> None:
    assert isinstance(combined, CombinedStore)
    assert type(combined.tokens).__name__ == "RedisTokenCache"
    assert type(combined.limiter).__name__ == "RedisRateLimiter"
    assert combined.log is combined.records.log and combined.events is combined.records.events
    # A push's claim and its ledger writes stay together, in the records' store.
    assert (
        combined.choices is combined.records.choices and combined.grants is combined.records.grants
    )


def test_tokens_and_limits_live_in_the_cache_records_in_the_store(
    combined: Store, urls: Tuple[str, str]
) -> None:
    combined.tokens.put_token("token:wx1:stable", TokenRecord("T", 2e9, 1.0))
    assert combined.tokens.acquire_lock("fetch", "me", ttl=60)
    assert combined.limiter.acquire("send:wx1", rate=1) == 0.0
    record = make(key="order-1")
    assert combined.log.claim(record)[1] is True
    combined.grants.grant(APP, "oUser1", "TPL_A")
    records, cache = open_store(urls[0]), open_store(urls[1])
    try:
        assert cache.tokens.get_token("token:wx1:stable") == TokenRecord("T", 2e9, 1.0)
        assert records.tokens.get_token("token:wx1:stable") is None
        assert cache.tokens.acquire_lock("fetch", "other", ttl=60) is False
        assert records.tokens.acquire_lock("fetch", "other", ttl=60) is True
        assert cache.limiter.acquire("send:wx1", rate=1) > 0.5
        assert records.log.get(record.log_id) == record
        assert cache.log.query(LogQuery(APP, T0, T0 + 1)) == LogPage(0, [])
        assert records.grants.balance(APP, "oUser1", "TPL_A") == 1
        assert cache.grants.balance(APP, "oUser1", "TPL_A") is None
    finally:
        records.close()
        cache.close()
