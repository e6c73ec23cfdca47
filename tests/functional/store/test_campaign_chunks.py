"""CampaignQueue's chunked campaigns, every backend: open, append (idempotent per chunk), start.

An open campaign's recipients are never leased; ``start`` queues them all at once; a chunk
appended again (a retry) writes nothing and answers what is stored; concurrent appends of one
chunk write it once.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import List

from tests.functional.store.test_campaigns import APP, NOW, campaign
from wxapush.store import Store
from wxapush.store.base import Campaign, Recipient


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
