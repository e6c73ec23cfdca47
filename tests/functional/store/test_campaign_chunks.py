"""CampaignQueue's chunked campaigns, every backend: open, append (idempotent per chunk), start.

An open campaign's recipients are never leased; ``start`` queues them all at once; a chunk
appended again (a retry) writes nothing and answers what is stored; concurrent appends of one
chunk write it once; a cancelled open campaign ends every appended recipient ``cancelled`` and
takes no append or start after.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

from tests.functional.store.test_campaigns import APP, NOW, campaign
from wxapush.store import Store
from wxapush.store.base import Campaign, Recipient
from wxapush.store.redis import campaign_chunks as redis_chunks


def opened(bid: str = "c1") -> Campaign:
    return dataclasses.replace(campaign(bid, total=0), status="open")


def chunk(first: int, n: int, stem: str = "o-user") -> List[Recipient]:
    return [
        Recipient(
            first + i, f"{stem}-{first + i}", {"thing1": {"value": "专属"}} if i == 0 else None
        )
        for i in range(n)
    ]


def test_appended_recipients_wait_for_start_then_are_leased_once(store: Store) -> None:
    made, new = store.campaigns.create(opened(), [])
    assert new is True and (made.status, made.total) == ("open", 0)
    assert store.campaigns.append(APP, "c1", chunk(0, 3), NOW) == ("open", [])
    assert store.campaigns.append(APP, "c1", chunk(10_000, 2), NOW) == ("open", [])
    found = store.campaigns.get(APP, "c1")
    assert found is not None and (found.status, found.total) == ("open", 5)
    assert store.campaigns.lease(APP, "w1", NOW + 1, 30, 50) == []  # open: nothing is due
    assert store.campaigns.start(APP, "c1", NOW + 2) is True
    assert store.campaigns.start(APP, "c1", NOW + 2) is False  # once
    leased = store.campaigns.lease(APP, "w1", NOW + 3, 30, 50)
    assert sorted((x.seq, x.touser, x.data) for x in leased) == [
        (r.seq, r.touser, r.data) for r in chunk(0, 3) + chunk(10_000, 2)
    ]
    for lease in leased:
        assert store.campaigns.settle(APP, "w1", [(lease, "sent")], NOW + 4) == {"sent": 1}
    done = store.campaigns.get(APP, "c1")
    assert done is not None and (done.status, done.total) == ("done", 5)
    assert store.campaigns.counts(APP, "c1") == {"sent": 5}


def test_a_chunk_appended_again_writes_nothing_and_answers_what_is_stored(store: Store) -> None:
    store.campaigns.create(opened(), [])
    assert store.campaigns.append(APP, "c1", chunk(0, 3), NOW) == ("open", [])
    status, stored = store.campaigns.append(APP, "c1", chunk(0, 3, stem="other"), NOW)
    assert (status, stored) == ("open", chunk(0, 3))
    found = store.campaigns.get(APP, "c1")
    assert found is not None and found.total == 3


def test_appends_only_to_an_open_campaign(store: Store) -> None:
    assert store.campaigns.append(APP, "missing", chunk(0, 1), NOW) == (None, [])
    store.campaigns.create(campaign("queued-one", total=1), chunk(0, 1))
    assert store.campaigns.append(APP, "queued-one", chunk(10_000, 1), NOW) == ("queued", [])
    store.campaigns.create(opened(), [])
    store.campaigns.append(APP, "c1", chunk(0, 1), NOW)
    assert store.campaigns.start(APP, "c1", NOW)
    assert store.campaigns.append(APP, "c1", chunk(10_000, 1), NOW) == ("queued", [])
    assert store.campaigns.start(APP, "missing", NOW) is False
    found = store.campaigns.get(APP, "c1")
    assert found is not None and found.total == 1


def test_concurrent_appends_of_one_chunk_write_it_once(store: Store) -> None:
    store.campaigns.create(opened(), [])
    answers: List[object] = []

    def append() -> None:
        answers.append(store.campaigns.append(APP, "c1", chunk(20_000, 200), NOW))

    threads = [threading.Thread(target=append) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers.count(("open", [])) == 1
    found = store.campaigns.get(APP, "c1")
    assert found is not None and found.total == 200
    assert store.campaigns.start(APP, "c1", NOW)
    assert len(store.campaigns.lease(APP, "w", NOW + 1, 30, 500)) == 200


def test_a_cancelled_open_campaign_is_never_leased_and_takes_no_more(store: Store) -> None:
    q = store.campaigns
    q.create(opened(), [])
    q.append(APP, "c1", chunk(0, 3), NOW)
    q.append(APP, "c1", chunk(10_000, 2), NOW)
    q.create(opened("empty"), [])  # opened, nothing appended yet
    assert q.cancel(APP, "c1", NOW + 1) is True
    assert q.cancel(APP, "empty", NOW + 1) is True
    assert q.cancel(APP, "c1", NOW + 2) is False  # over: once
    found = q.get(APP, "c1")
    assert found is not None and (found.status, found.total) == ("cancelled", 5)
    assert found.updated_at == NOW + 1
    assert q.counts(APP, "c1") == {"cancelled": 5}
    assert q.counts(APP, "empty") == {}
    # After the cancel: an append writes nothing, a start queues nothing, a lease takes nothing.
    assert q.append(APP, "c1", chunk(20_000, 2), NOW + 3) == ("cancelled", [])
    assert q.append(APP, "c1", chunk(0, 3, stem="other"), NOW + 3) == ("cancelled", [])
    assert q.append(APP, "empty", chunk(0, 1), NOW + 3) == ("cancelled", [])
    assert q.start(APP, "c1", NOW + 4) is False
    assert q.start(APP, "empty", NOW + 4) is False
    q.create(campaign("after", total=1), [Recipient(0, "o-after")])  # the app's queue goes on
    leased = q.lease(APP, "w1", NOW + 5, 30, 50)
    assert [(x.broadcast_id, x.touser) for x in leased] == [("after", "o-after")]
    assert q.settle(APP, "w1", [(leased[0], "sent")], NOW + 6) == {"sent": 1}
    assert q.cancel(APP, "after", NOW + 7) is False  # done: over, as a cancelled one is
    assert q.get(APP, "after").status == "done"  # type: ignore[union-attr]
    assert q.lease(APP, "w2", NOW + 60, 30, 50) == []
    found = q.get(APP, "c1")
    assert found is not None and (found.status, found.total) == ("cancelled", 5)
    assert q.counts(APP, "c1") == {"cancelled": 5}


def test_a_cancel_racing_appends_and_the_start_leaves_nothing_to_send(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Redis's start moves its staged recipients a page at a time: small pages give a cancel
    # many chances to land between two of them.
    monkeypatch.setattr(redis_chunks, "START_PAGE", 7)
    q = store.campaigns
    q.create(opened(), [])
    q.append(APP, "c1", chunk(0, 150), NOW)
    answers: Dict[str, object] = {}

    def run(name: str, step: Callable[[], object]) -> None:
        answers[name] = step()

    steps: Dict[str, Callable[[], object]] = {
        "start": lambda: q.start(APP, "c1", NOW + 1),
        "cancel": lambda: q.cancel(APP, "c1", NOW + 1),
        "append": lambda: q.append(APP, "c1", chunk(10_000, 50), NOW + 1),
    }
    threads = [threading.Thread(target=run, args=item) for item in steps.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers["cancel"] is True  # open or queued when it came: cancelled either way
    found = q.get(APP, "c1")
    assert found is not None and found.status == "cancelled"
    assert found.total == (200 if answers["append"] == ("open", []) else 150)
    assert q.lease(APP, "w1", NOW + 2, 30, 500) == []  # what a start moved is drained, unsent
    assert q.counts(APP, "c1") == {"cancelled": found.total}


@pytest.fixture
def redis_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    from tests.functional.store.conftest import store_of

    yield from store_of("redis", request, tmp_path)


def test_redis_cancel_between_two_pages_of_a_start_sends_none_and_drops_the_staging_list(
    redis_store: Any,
) -> None:
    """White box: Redis's start moves staged seqs into the stream a page per script, so a cancel
    may come between two pages. The entries already moved are drained as cancelled, the rest
    of the staging list is dropped, and the counts add up to the total once."""
    q, client, keys = redis_store.campaigns, redis_store.client, redis_store.keys
    q.create(opened(), [])
    q.append(APP, "c1", chunk(0, 10), NOW)
    head = keys.campaign(APP, "c1")
    one_page = q._script("start", redis_chunks.START)
    assert one_page(keys=[head, f"{head}:staged", keys.queue(APP)], args=["c1", NOW, 4]) == [1]
    assert client.llen(f"{head}:staged") == 6  # 4 moved into the stream, the campaign queued
    assert q.cancel(APP, "c1", NOW + 1) is True
    assert client.exists(f"{head}:staged") == 0
    assert q.start(APP, "c1", NOW + 2) is False
    assert q.counts(APP, "c1") == {"cancelled": 10}
    assert q.lease(APP, "w1", NOW + 3, 30, 50) == []  # the 4 moved entries: drained, unsent
    assert client.xlen(keys.queue(APP)) == 0
    assert q.counts(APP, "c1") == {"cancelled": 10}
    found = q.get(APP, "c1")
    assert found is not None and (found.status, found.total) == ("cancelled", 10)


def test_redis_a_lease_between_two_pages_of_a_start_hands_out_what_was_moved(
    redis_store: Any,
) -> None:
    """White box: a worker leasing between two pages of a start (a campaign over START_PAGE
    recipients, workers running) gets the entries already moved: the first page makes the
    campaign queued. They were drained unsent and uncounted while it stayed open."""
    q, keys = redis_store.campaigns, redis_store.keys
    q.create(opened(), [])
    q.append(APP, "c1", chunk(0, 10), NOW)
    head = keys.campaign(APP, "c1")
    one_page = q._script("start", redis_chunks.START)
    assert one_page(keys=[head, f"{head}:staged", keys.queue(APP)], args=["c1", NOW, 4]) == [1]
    assert q.append(APP, "c1", chunk(10, 2), NOW) == ("queued", [])  # the start has begun
    early = q.lease(APP, "w1", NOW + 1, 30, 50)
    assert sorted(x.seq for x in early) == [0, 1, 2, 3]
    assert q.start(APP, "c1", NOW + 2) is True  # the rest of the start (a retry, say)
    rest = q.lease(APP, "w2", NOW + 3, 30, 50)
    assert sorted(x.seq for x in rest) == list(range(4, 10))
    settled = q.settle(APP, "w1", [(x, "sent") for x in early], NOW + 4)
    settled2 = q.settle(APP, "w2", [(x, "sent") for x in rest], NOW + 4)
    assert (settled, settled2) == ({"sent": 4}, {"sent": 6})
    assert q.counts(APP, "c1") == {"sent": 10}
    assert q.get(APP, "c1").status == "done"  # type: ignore[union-attr]
    assert q.start(APP, "c1", NOW + 5) is False
