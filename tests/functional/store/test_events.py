"""EventLog: WeChat's re-pushes of one event are handled once."""

from __future__ import annotations

import time

from tests.functional.store.test_concurrency import race
from wxapush.store import Store


def test_first_seen_only_once_within_the_window(store: Store) -> None:
    assert store.events.first_seen("wx1:msgid:7:sent", ttl=60) is True
    assert store.events.first_seen("wx1:msgid:7:sent", ttl=60) is False
    assert store.events.first_seen("wx1:msgid:8:sent", ttl=60) is True


def test_forget_lets_the_next_push_through(store: Store) -> None:
    assert store.events.first_seen("k", ttl=60) is True
    store.events.forget("k")
    assert store.events.first_seen("k", ttl=60) is True


def test_a_key_is_new_again_after_its_window(store: Store) -> None:
    assert store.events.first_seen("k", ttl=0.05) is True
    deadline = time.monotonic() + 5
    while not store.events.first_seen("k", ttl=60):
        assert time.monotonic() < deadline, "the window never ended"
        time.sleep(0.02)


def test_prune_removes_only_ended_windows(store: Store) -> None:
    store.events.first_seen("old", ttl=1)
    store.events.first_seen("new", ttl=3600)
    assert store.events.prune(time.time() + 10) == 1
    assert store.events.first_seen("old", ttl=60) is True
    assert store.events.first_seen("new", ttl=60) is False


def test_processes_racing_on_one_event_handle_it_once(store: Store, store_url: str) -> None:
    assert sum(race(store_url, "see_event", "wx1:msgid:9:sent")) == 1
    assert store.events.first_seen("wx1:msgid:9:sent", ttl=60) is False
