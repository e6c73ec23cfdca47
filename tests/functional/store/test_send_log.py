"""SendLog conformance: idempotent claims, updates, exact msgids, queries, pruning."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional

import pytest

from wxapush.store import GrantKey, LogPage, LogQuery, LogRecord, Store, new_log_id

APP = "wx0123456789abcdef"
T0 = 1_700_000_000.0


def make(
    created_at: float = T0,
    *,
    appid: str = APP,
    touser: str = "oUser1",
    template_id: str = "TPL_A",
    status: str = "pending",
    key: Optional[str] = None,
    page: Optional[str] = "pages/index/index?id=1",
    **more: Any,
) -> LogRecord:
    return LogRecord(
        log_id=new_log_id(),
        appid=appid,
        touser=touser,
        template_id=template_id,
        page=page,
        data={"thing1": {"value": "订单已发货"}, "number2": {"value": "42"}},
        miniprogram_state="formal",
        lang="zh_CN",
        status=status,
        created_at=created_at,
        updated_at=created_at,
        idempotency_key=key,
        **more,
    )


def test_claim_inserts_and_get_round_trips(store: Store) -> None:
    record = make(payload_hash="h1", page=None)
    assert store.log.claim(record) == (record, True)
    assert store.log.get(record.log_id) == record


def test_get_absent(store: Store) -> None:
    assert store.log.get(new_log_id()) is None


def test_claims_without_a_key_never_collide(store: Store) -> None:
    for _ in range(5):
        assert store.log.claim(make())[1] is True
    assert store.log.query(LogQuery(APP, T0, T0 + 1)).total == 5


def test_a_claimed_key_returns_the_first_record_and_writes_nothing(store: Store) -> None:
    first = make(key="order-1", payload_hash="h1")
    store.log.claim(first)
    store.log.update(first.log_id, status="sent", msgid=7, updated_at=T0 + 1)
    again = make(T0 + 5, key="order-1", payload_hash="h2")  # another payload: caller's conflict
    existing, created = store.log.claim(again)
    assert created is False
    assert existing.log_id == first.log_id
    assert (existing.status, existing.msgid, existing.payload_hash) == ("sent", 7, "h1")
    assert store.log.get(again.log_id) is None


def test_update_can_free_a_key(store: Store) -> None:
    """send frees the key of a send that failed retryably, so that a retry really retries."""
    first = make(key="retry-me")
    store.log.claim(first)
    store.log.update(first.log_id, status="failed", errcode=-1, idempotency_key=None)
    freed = store.log.get(first.log_id)
    assert freed is not None and freed.idempotency_key is None
    assert store.log.claim(make(key="retry-me"))[1] is True


def test_update_without_changes_changes_nothing(store: Store) -> None:
    record = make()
    store.log.claim(record)
    store.log.update(record.log_id)
    assert store.log.get(record.log_id) == record


def test_keys_are_per_app(store: Store) -> None:
    assert store.log.claim(make(key="k"))[1] is True
    assert store.log.claim(make(key="k", appid="wxother"))[1] is True


def test_claim_refuses_an_unknown_status(store: Store) -> None:
    with pytest.raises(ValueError):
        store.log.claim(make(status="lost"))


def test_update_applies_changes(store: Store) -> None:
    record = make()
    store.log.claim(record)
    store.log.update(
        record.log_id, status="failed", errcode=45011, errmsg="api minute-quota reach limit",
        attempts=2, updated_at=T0 + 3,
    )  # fmt: skip
    expected = replace(
        record, status="failed", errcode=45011, errmsg="api minute-quota reach limit",
        attempts=2, updated_at=T0 + 3,
    )  # fmt: skip
    assert store.log.get(record.log_id) == expected


def test_update_of_an_absent_record_is_a_key_error(store: Store) -> None:
    with pytest.raises(KeyError):
        store.log.update(new_log_id(), status="sent")
    with pytest.raises(KeyError):
        store.log.update(new_log_id())


@pytest.mark.parametrize(
    "changes", [{"status": "lost"}, {"appid": "wx"}, {"created_at": 1.0}, {"nope": 1}]
)
def test_update_refuses_bad_changes(store: Store, changes: dict[str, Any]) -> None:
    record = make()
    store.log.claim(record)
    with pytest.raises(ValueError):
        store.log.update(record.log_id, **changes)
    assert store.log.get(record.log_id) == record


@pytest.mark.parametrize(
    "msgid", [1988810812324364291, 2**63 - 1, 2**63, 2**63 + 12345, 2**64 - 1, 0]
)
def test_msgid_round_trips_exactly(store: Store, msgid: int) -> None:
    record = make()
    store.log.claim(record)
    store.log.update(record.log_id, status="sent", msgid=msgid)
    got = store.log.get(record.log_id)
    assert got is not None and got.msgid == msgid and type(got.msgid) is int
    found = store.log.find_by_msgid(APP, msgid)
    assert found is not None and found.log_id == record.log_id and found.msgid == msgid
    assert store.log.find_by_msgid(APP, msgid - 1 if msgid else 1) is None
    assert store.log.find_by_msgid("wxother", msgid) is None


def test_claim_with_a_msgid(store: Store) -> None:
    record = make(msgid=2**63 + 1, status="sent")
    store.log.claim(record)
    assert store.log.find_by_msgid(APP, 2**63 + 1) == record


def test_msgid_out_of_range_is_refused(store: Store) -> None:
    record = make()
    store.log.claim(record)
    with pytest.raises(ValueError):
        store.log.update(record.log_id, msgid=2**64)


def page_ids(store: Store, q: LogQuery) -> tuple[int, list[str]]:
    page = store.log.query(q)
    return page.total, [r.log_id for r in page.records]


def test_query_bounds_since_inclusive_until_exclusive(store: Store) -> None:
    at = {t: make(T0 + t) for t in (0, 10, 20, 30)}
    for r in at.values():
        store.log.claim(r)
    assert page_ids(store, LogQuery(APP, T0 + 10, T0 + 30)) == (
        2,
        [at[20].log_id, at[10].log_id],
    )
    assert page_ids(store, LogQuery(APP, T0 + 10.5, T0 + 10.75)) == (0, [])


def test_query_filters_and_app_isolation(store: Store) -> None:
    records = [
        make(T0 + 1, touser="oA", template_id="T1", status="sent"),
        make(T0 + 2, touser="oA", template_id="T2", status="failed"),
        make(T0 + 3, touser="oB", template_id="T1", status="sent"),
        make(T0 + 4, touser="oA", template_id="T1", status="sent", appid="wxother"),
    ]
    for r in records:
        store.log.claim(r)
    ids = [r.log_id for r in records]

    def window(**filters: Any) -> LogQuery:
        return LogQuery(APP, T0, T0 + 100, **filters)

    assert page_ids(store, window()) == (3, [ids[2], ids[1], ids[0]])
    assert page_ids(store, window(touser="oA")) == (2, [ids[1], ids[0]])
    assert page_ids(store, window(template_id="T1")) == (2, [ids[2], ids[0]])
    assert page_ids(store, window(status="sent")) == (2, [ids[2], ids[0]])
    assert page_ids(store, window(touser="oA", template_id="T1", status="sent")) == (
        1,
        [ids[0]],
    )
    assert page_ids(store, window(status="delivered")) == (0, [])


def test_query_by_errcode_with_the_other_filters_and_pages(store: Store) -> None:
    plan = [("failed", 43101), ("failed", -1), ("rejected", 43101), ("sent", 0), ("pending", None)]
    records = []
    for i in range(15):
        status, errcode = plan[i % 5]
        records.append(make(T0 + (i % 4), status=status, errcode=errcode))
    records.append(make(T0 + 1, status="failed", errcode=43101, appid="wxother"))
    for r in records:
        store.log.claim(r)

    def expected(**match: Any) -> list[str]:
        found = [r for r in records[:15] if all(getattr(r, k) == v for k, v in match.items())]
        return [r.log_id for r in sorted(found, key=lambda r: (r.created_at, r.log_id))][::-1]

    refused = expected(errcode=43101)
    assert page_ids(store, LogQuery(APP, T0, T0 + 10, errcode=43101, count=100)) == (6, refused)
    pages = [page_ids(store, LogQuery(APP, T0, T0 + 10, errcode=43101, offset=o, count=4))
             for o in (0, 4, 8)]  # fmt: skip
    assert pages == [(6, refused[:4]), (6, refused[4:]), (6, [])]
    both = LogQuery(APP, T0, T0 + 10, status="failed", errcode=43101)
    assert page_ids(store, both) == (3, expected(status="failed", errcode=43101))
    assert page_ids(store, LogQuery(APP, T0, T0 + 10, errcode=-1))[0] == 3
    assert page_ids(store, LogQuery(APP, T0, T0 + 10, errcode=0))[0] == 3
    assert page_ids(store, LogQuery(APP, T0, T0 + 10, errcode=45009)) == (0, [])
    with pytest.raises(ValueError):
        store.log.query(LogQuery(APP, T0, T0 + 10, errcode="43101"))  # type: ignore[arg-type]


def test_paging_is_stable_and_newest_first_with_equal_times(store: Store) -> None:
    records = [make(T0 + (i % 3)) for i in range(23)]  # many share one created_at
    for r in records:
        store.log.claim(r)
    expected = [r.log_id for r in sorted(records, key=lambda r: (r.created_at, r.log_id))][::-1]
    seen: list[str] = []
    for offset in range(0, 30, 5):
        total, ids = page_ids(store, LogQuery(APP, T0, T0 + 10, offset=offset, count=5))
        assert total == 23
        seen += ids
    assert seen == expected
    again = [page_ids(store, LogQuery(APP, T0, T0 + 10, offset=o, count=5))[1] for o in (5, 10)]
    assert again == [expected[5:10], expected[10:15]]


def test_query_count_zero_and_offset_past_the_end(store: Store) -> None:
    for i in range(3):
        store.log.claim(make(T0 + i))
    assert page_ids(store, LogQuery(APP, T0, T0 + 10, count=0)) == (3, [])
    assert page_ids(store, LogQuery(APP, T0, T0 + 10, offset=3)) == (3, [])


def test_query_refuses_negative_paging_and_unknown_status(store: Store) -> None:
    for bad in (LogQuery(APP, T0, T0 + 1, offset=-1), LogQuery(APP, T0, T0 + 1, status="x")):
        with pytest.raises(ValueError):
            store.log.query(bad)


def test_query_returns_full_records(store: Store) -> None:
    record = make(key="k", payload_hash="h", msgid=2**63 + 5, status="sent", attempts=1)
    store.log.claim(record)
    assert store.log.query(LogQuery(APP, T0, T0 + 1)) == LogPage(1, [record])


def test_prune_deletes_records_created_before(store: Store) -> None:
    old = [make(T0 - 100), make(T0 - 1, appid="wxother")]
    kept = [make(T0), make(T0 + 100)]
    for r in old + kept:
        store.log.claim(r)
    assert store.log.prune(T0) == 2
    assert all(store.log.get(r.log_id) is None for r in old)
    assert all(store.log.get(r.log_id) == r for r in kept)
    assert store.log.prune(T0) == 0


def test_expire_idempotency_frees_old_keys_and_keeps_the_records(store: Store) -> None:
    old, young = make(T0 - 100, key="old"), make(T0, key="young")
    unkeyed = make(T0 - 100)
    for r in (old, young, unkeyed):
        store.log.claim(r)
    assert store.log.expire_idempotency(T0) == 1
    kept = store.log.get(old.log_id)
    assert kept is not None and kept.idempotency_key is None and kept.log_id == old.log_id
    assert store.log.claim(make(T0 + 1, key="old"))[1] is True  # the key is free again
    assert store.log.claim(make(T0 + 1, key="young"))[1] is False  # this one is not
    assert store.log.expire_idempotency(T0) == 0


# --- update(use_grant=...): the outcome and the grant it used in one write ---------------------

GRANT = GrantKey(APP, "oUser1", "TPL_A")


def test_update_with_use_grant_takes_one_in_the_same_write(store: Store) -> None:
    record = make()
    store.log.claim(record)
    store.grants.grant(APP, "oUser1", "TPL_A", 2)
    store.log.update(record.log_id, use_grant=GRANT, status="sent", msgid=7, updated_at=T0 + 1)
    got = store.log.get(record.log_id)
    assert got is not None and (got.status, got.msgid) == ("sent", 7)
    assert store.grants.balance(APP, "oUser1", "TPL_A") == 1
    store.log.update(record.log_id, updated_at=T0 + 2)  # without use_grant: the ledger stays
    assert store.grants.balance(APP, "oUser1", "TPL_A") == 1


def test_update_with_use_grant_leaves_a_zero_or_unknown_balance(store: Store) -> None:
    record = make()
    store.log.claim(record)
    store.grants.revoke(APP, "oUser1", "TPL_A")
    store.log.update(record.log_id, use_grant=GRANT, status="sent", updated_at=T0 + 1)
    assert store.grants.balance(APP, "oUser1", "TPL_A") == 0
    other = GrantKey(APP, "oNobody", "TPL_A")
    store.log.update(record.log_id, use_grant=other, status="delivered", updated_at=T0 + 2)
    assert store.grants.balance(APP, "oNobody", "TPL_A") is None
    got = store.log.get(record.log_id)
    assert got is not None and got.status == "delivered"


def test_a_repeated_update_takes_no_second_grant(store: Store) -> None:
    """A retry after a lost reply repeats the write: the status no longer changes, and the
    ledger must not pay twice for one message."""
    record = make()
    store.log.claim(record)
    store.grants.grant(APP, "oUser1", "TPL_A", 3)
    for _ in range(2):
        store.log.update(record.log_id, use_grant=GRANT, status="sent", msgid=7, updated_at=T0)
    assert store.grants.balance(APP, "oUser1", "TPL_A") == 2
    store.log.update(record.log_id, use_grant=GRANT, errmsg="ok", updated_at=T0 + 1)
    assert store.grants.balance(APP, "oUser1", "TPL_A") == 2  # no status change: none taken


def test_update_of_an_absent_record_takes_no_grant(store: Store) -> None:
    store.grants.grant(APP, "oUser1", "TPL_A", 1)
    with pytest.raises(KeyError):
        store.log.update(new_log_id(), use_grant=GRANT, status="sent", updated_at=T0)
    assert store.grants.balance(APP, "oUser1", "TPL_A") == 1


# --- bounded totals: a page costs the same at any size of log ----------------------------------


def test_total_is_exact_up_to_the_bound(store: Store) -> None:
    for i in range(10):
        store.log.claim(make(T0 + i))
    page = store.log.query(LogQuery(APP, T0, T0 + 10, count=3, exact_up_to=10))
    assert (page.total, page.total_exact, len(page.records)) == (10, True, 3)
    user = store.log.query(LogQuery(APP, T0, T0 + 10, touser="oUser1", exact_up_to=10))
    assert (user.total, user.total_exact) == (10, True)


def test_past_the_bound_the_total_is_a_lower_bound_flagged(store: Store, store_url: str) -> None:
    records = [make(T0 + i) for i in range(40)]
    for record in records:
        store.log.claim(record)
    page = store.log.query(LogQuery(APP, T0, T0 + 40, count=5, offset=2, exact_up_to=9))
    # The page itself is exact whatever the total: newest first, from the offset.
    assert [r.log_id for r in page.records] == [r.log_id for r in records[::-1][2:7]]
    if store_url.startswith("redis"):  # a sorted set counts in O(log n): always exact
        assert (page.total, page.total_exact) == (40, True)
    else:  # "9+": a lower bound, flagged
        assert (page.total, page.total_exact) == (10, False)
    far = store.log.query(LogQuery(APP, T0, T0 + 40, offset=38, count=5, exact_up_to=9))
    assert [r.log_id for r in far.records] == [records[1].log_id, records[0].log_id]
    none = store.log.query(LogQuery(APP, T0, T0 + 40, offset=40, count=5, exact_up_to=9))
    assert none.records == []


def test_a_negative_bound_is_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        store.log.query(LogQuery(APP, T0, T0 + 1, exact_up_to=-1))
