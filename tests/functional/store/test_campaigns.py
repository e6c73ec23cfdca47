"""CampaignQueue and Counters conformance: every backend, the same contract (see store/base.py)."""

from __future__ import annotations

import time
from collections import Counter
from typing import List

from wxapush.store import LogQuery, Store
from wxapush.store.base import Campaign, Lease, Recipient

APP = "wxapp-campaigns"
NOW = 1_900_000_000.0


def campaign(bid: str = "b1", total: int = 3, hash_: str = "h1") -> Campaign:
    return Campaign(
        broadcast_id=bid,
        appid=APP,
        template_id="tpl-1",
        page="pages/x",
        data={"thing1": {"value": "降价"}},
        miniprogram_state="formal",
        lang="zh_CN",
        status="queued",
        total=total,
        created_at=NOW,
        updated_at=NOW,
        request_hash=hash_,
    )


def recipients(n: int) -> List[Recipient]:
    return [
        Recipient(i, f"o-user-{i}", {"thing1": {"value": f"#{i}"}} if i == 0 else None)
        for i in range(n)
    ]


def test_create_is_idempotent_by_broadcast_id(store: Store) -> None:
    created, new = store.campaigns.create(campaign(), recipients(3))
    assert new is True and created.total == 3
    again, new = store.campaigns.create(campaign(hash_="other"), recipients(5))
    assert new is False
    assert (again.request_hash, again.total, again.status) == ("h1", 3, "queued")
    assert again.data == {"thing1": {"value": "降价"}} and again.page == "pages/x"
    assert store.campaigns.get(APP, "b1") == again
    assert store.campaigns.get(APP, "nope") is None
    assert store.campaigns.counts(APP, "b1") == {"queued": 3}


def test_lease_settle_until_done(store: Store) -> None:
    q = store.campaigns
    q.create(campaign(), recipients(3))
    first = q.lease(APP, "w1", NOW, 30, 2)
    assert [(x.seq, x.touser) for x in sorted(first, key=lambda x: x.seq)] == [
        (0, "o-user-0"),
        (1, "o-user-1"),
    ]
    assert next(x for x in first if x.seq == 0).data == {"thing1": {"value": "#0"}}
    assert q.get(APP, "b1").status == "running"  # type: ignore[union-attr]
    # while leased, nobody else gets them
    second = q.lease(APP, "w2", NOW, 30, 10)
    assert [x.seq for x in second] == [2]
    assert q.lease(APP, "w3", NOW, 30, 10) == []
    assert q.settle(APP, "w1", [(lease, "sent") for lease in first], NOW) == {"sent": 2}
    assert q.get(APP, "b1").status == "running"  # type: ignore[union-attr]
    assert q.settle(APP, "w2", [(second[0], "not_subscribed")], NOW) == {"not_subscribed": 1}
    assert q.counts(APP, "b1") == {"sent": 2, "not_subscribed": 1}
    assert q.get(APP, "b1").status == "done"  # type: ignore[union-attr]


def test_an_expired_lease_is_taken_over_and_the_old_owner_cannot_settle(store: Store) -> None:
    q = store.campaigns
    q.create(campaign(total=1), recipients(1))
    [dead] = q.lease(APP, "dead", NOW, 0.2, 10)
    assert q.lease(APP, "alive", NOW, 0.2, 10) == []
    time.sleep(0.3)  # Redis measures a lease by the entry's idle time on the server
    [taken] = q.lease(APP, "alive", NOW + 1, 0.2, 10)
    assert taken.seq == dead.seq
    assert q.settle(APP, "dead", [(dead, "sent")], NOW) == {}
    assert q.settle(APP, "alive", [(taken, "sent")], NOW) == {"sent": 1}
    assert q.settle(APP, "alive", [(taken, "failed")], NOW) == {}
    assert q.counts(APP, "b1") == {"sent": 1}


def test_defer_counts_deferred_until_due_then_settles(store: Store) -> None:
    q = store.campaigns
    q.create(campaign(total=2), recipients(2))
    leases = q.lease(APP, "w", NOW, 30, 10)
    for lease in leases:
        assert q.defer(APP, lease, "w", NOW + 3600) is True
    assert q.counts(APP, "b1") == {"deferred": 2}
    assert q.lease(APP, "w", NOW + 60, 30, 10) == []
    due = q.lease(APP, "w", NOW + 3600, 30, 10)
    assert sorted(x.seq for x in due) == [0, 1]
    q.settle(APP, "w", [(lease, "sent") for lease in due], NOW + 3600)
    assert q.counts(APP, "b1") == {"sent": 2}
    assert q.get(APP, "b1").status == "done"  # type: ignore[union-attr]


def test_retry_puts_back_with_one_more_attempt(store: Store) -> None:
    q = store.campaigns
    q.create(campaign(total=1), recipients(1))
    [lease] = q.lease(APP, "w", NOW, 30, 10)
    assert lease.attempts == 0
    assert q.defer(APP, lease, "w", NOW + 5, retry=True) is True
    assert q.counts(APP, "b1") == {"queued": 1}
    [again] = q.lease(APP, "w", NOW + 5, 30, 10)
    assert again.attempts == 1
    assert q.defer(APP, lease, "other", NOW, retry=True) is False


def test_cancel_stops_what_is_not_sent(store: Store) -> None:
    q = store.campaigns
    q.create(campaign(total=4), recipients(4))
    [held] = q.lease(APP, "w", NOW, 30, 1)
    assert q.cancel(APP, "b1", NOW) is True
    assert q.cancel(APP, "b1", NOW) is False
    assert q.get(APP, "b1").status == "cancelled"  # type: ignore[union-attr]
    assert q.lease(APP, "w2", NOW, 30, 10) == []
    # the recipient in flight when the campaign was cancelled keeps its real outcome
    assert q.settle(APP, "w", [(held, "sent")], NOW) == {"sent": 1}
    assert q.counts(APP, "b1") == {"sent": 1, "cancelled": 3}
    assert q.cancel(APP, "missing", NOW) is False


def test_a_batch_settles_many_campaigns_and_outcomes_in_one_write(store: Store) -> None:
    q = store.campaigns
    q.create(campaign("a", total=3), recipients(3))
    q.create(campaign("b", total=2), recipients(2))
    leases = q.lease(APP, "w", NOW, 0.2, 10)
    assert len(leases) == 5
    time.sleep(0.3)  # Redis measures a lease by the entry's idle time on the server
    [taken] = q.lease(APP, "w2", NOW + 1, 0.2, 1)  # one of them, taken over
    outcome = {0: "sent", 1: "capped", 2: "sent"}
    expected = Counter(outcome[x.seq] for x in leases if x.seq != taken.seq or
                       x.broadcast_id != taken.broadcast_id)  # fmt: skip
    assert q.settle(APP, "w", [(x, outcome[x.seq]) for x in leases], NOW + 1) == expected
    other = "b" if taken.broadcast_id == "a" else "a"
    assert q.get(APP, other).status == "done"  # type: ignore[union-attr]
    assert q.get(APP, taken.broadcast_id).status == "running"  # type: ignore[union-attr]
    assert q.settle(APP, "w2", [(taken, "sent")], NOW + 1) == {"sent": 1}
    assert q.get(APP, taken.broadcast_id).status == "done"  # type: ignore[union-attr]
    assert q.settle(APP, "w", [], NOW) == {}


def test_a_batch_with_an_unknown_outcome_writes_nothing(store: Store) -> None:
    import pytest

    q = store.campaigns
    q.create(campaign(total=2), recipients(2))
    first, second = q.lease(APP, "w", NOW, 30, 10)
    with pytest.raises(ValueError, match="unknown outcome"):
        q.settle(APP, "w", [(first, "sent"), (second, "delivered")], NOW)
    assert q.counts(APP, "b1") == {"queued": 2}


def test_dispatch_marks_the_record_unless_the_campaign_is_cancelled(store: Store) -> None:
    from tests.functional.store.test_send_log import make

    q = store.campaigns
    q.create(campaign(total=3), recipients(3))
    records = [make(NOW + i, broadcast_id="b1", status="pending") for i in range(3)]
    for record in records:
        store.log.claim(record)
    ids = [r.log_id for r in records]
    assert q.dispatch(APP, "b1", ids[0], NOW + 5) == "marked"
    marked = store.log.get(ids[0])
    assert marked is not None and (marked.attempts, marked.updated_at) == (1, NOW + 5)
    assert store.log.update(ids[1], status="rejected", updated_at=NOW) is True
    assert q.dispatch(APP, "b1", ids[1], NOW + 5) == "lost"  # no longer pending
    assert q.dispatch(APP, "b1", "no-such-log-id", NOW + 5) == "lost"
    assert q.cancel(APP, "b1", NOW + 6) is True
    assert q.dispatch(APP, "b1", ids[2], NOW + 7) == "cancelled"
    untouched = store.log.get(ids[2])
    assert untouched is not None and untouched.attempts == 0 and untouched.status == "pending"


def test_queues_of_two_apps_and_campaigns_are_apart(store: Store) -> None:
    q = store.campaigns
    q.create(campaign("a"), recipients(3))
    q.create(campaign("b", total=2), recipients(2))
    other = Campaign(**{**campaign("a").__dict__, "appid": "wxapp-other"})
    q.create(other, recipients(3))
    leases: List[Lease] = q.lease(APP, "w", NOW, 30, 100)
    assert sorted((x.broadcast_id, x.seq) for x in leases) == [
        ("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1)
    ]  # fmt: skip
    assert q.counts("wxapp-other", "a") == {"queued": 3}


def test_send_log_filters_by_broadcast_id(store: Store) -> None:
    from tests.functional.store.test_send_log import APP as appid
    from tests.functional.store.test_send_log import make

    for i, bid in enumerate(["b1", "b1", "b2", None]):
        store.log.claim(make(NOW + i, touser=f"u{i % 2}", broadcast_id=bid))

    def total(**kw: object) -> int:
        return store.log.query(LogQuery(appid, 0, 4e9, **kw)).total  # type: ignore[arg-type]

    assert total(broadcast_id="b1") == 2
    assert total(broadcast_id="b1", touser="u1") == 1
    assert total(broadcast_id="b2", status="pending") == 1
    assert total(broadcast_id="b1", template_id="nope") == 0
    got = store.log.query(LogQuery(appid, 0, 4e9, broadcast_id="b2")).records
    assert [r.broadcast_id for r in got] == ["b2"]


def test_counters_take_up_to_the_limit_and_give_back(store: Store) -> None:
    c = store.counters
    assert [c.take("cap:u1:2026-12-01", 2, 60) for _ in range(3)] == [True, True, False]
    assert c.take("cap:u2:2026-12-01", 2, 60) is True
    c.give_back("cap:u1:2026-12-01")
    assert c.take("cap:u1:2026-12-01", 2, 60) is True
    assert c.take("cap:u1:2026-12-01", 2, 60) is False
    c.give_back("cap:never")
    assert c.take("cap:never", 1, 60) is True


def test_an_expired_counter_counts_from_zero(store: Store) -> None:
    assert store.counters.take("cap:short", 1, 0.2) is True
    assert store.counters.take("cap:short", 1, 0.2) is False
    time.sleep(0.3)
    assert store.counters.take("cap:short", 1, 0.2) is True


def test_prune_deletes_the_counters_whose_time_ended(store: Store, store_url: str) -> None:
    c = store.counters
    assert c.take("cap:old", 1, 60) is True and c.take("cap:new", 1, 600) is True
    pruned = c.prune(time.time() + 120)  # as if two minutes passed: cap:old's time is up
    assert pruned == (0 if store_url.startswith("redis") else 1)  # Redis expires keys itself
    assert c.take("cap:new", 1, 600) is False  # a live counter keeps its count
    assert c.prune(time.time()) == 0


def test_a_version_3_sqlite_file_gains_the_broadcast_tables(tmp_path: object) -> None:
    import sqlite3
    from pathlib import Path

    from tests.functional.store.test_send_log import make
    from wxapush.store.sqlite import SqliteStore
    from wxapush.store.sqlite.database import MIGRATIONS

    path = str(Path(str(tmp_path)) / "old.db")
    conn = sqlite3.connect(path)
    for version in (1, 2, 3):
        for statement in MIGRATIONS[version]:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    try:
        record = make(broadcast_id="b1")
        store.log.claim(record)
        assert store.log.get(record.log_id) == record
        assert store.campaigns.create(campaign(), recipients(2))[1] is True
        assert store.campaigns.counts(APP, "b1") == {"queued": 2}
    finally:
        store.close()


def test_grant_holders_are_the_users_with_a_balance(store: Store) -> None:
    g = store.grants
    for openid in ("oB:colon", "oA", "oC%pct"):
        g.grant(APP, openid, "tpl-1")
    g.grant(APP, "oD", "tpl-2")
    g.revoke(APP, "oA", "tpl-1")
    g.grant("wxapp-other", "oE", "tpl-1")
    assert g.holders(APP, "tpl-1") == ["oB:colon", "oC%pct"]
    assert g.holders(APP, "tpl-2") == ["oD"]
    assert g.holders(APP, "nope") == []
