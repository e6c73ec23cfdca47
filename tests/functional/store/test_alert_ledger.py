"""The alerts' document in every backend's token cache: read back whole, bounded in size."""

from __future__ import annotations

from wxapush.alerts import ledger
from wxapush.store import Store

APPID = "wx0123456789abcdef"


def test_the_document_round_trips_and_its_history_is_bounded(store: Store) -> None:
    assert ledger.load(store.tokens, APPID) == ledger.empty()
    doc = ledger.empty()
    doc["firing"]["quota_daily"] = {"since": 1.0, "posted_at": 2.0, "retry": False}
    doc["history"] = [
        {"at": 1_000_000.0 + i, "condition": "quota_daily", "state": "firing",
         "title": "今日接口调用额度已用尽（45009）", "detail": "详" * 500}
        for i in range(400)
    ]  # fmt: skip
    ledger.save(store.tokens, APPID, doc, now=1_000_400.0)
    back = ledger.load(store.tokens, APPID)
    assert back["firing"] == doc["firing"]
    assert 0 < len(back["history"]) <= ledger.HISTORY_MAX
    assert back["history"][-1]["at"] == 1_000_399.0  # the newest are kept
    assert all(len(h["detail"]) <= ledger.TEXT_MAX for h in back["history"])
    listed = ledger.alerts_between(store.tokens, APPID, 1_000_398.0, 1_000_400.0)
    assert [h["at"] for h in listed] == [1_000_399.0, 1_000_398.0]


def test_the_lock_keeps_a_second_timer_out(store: Store) -> None:
    with ledger.Held(store.tokens, APPID) as first:
        assert first
        with ledger.Held(store.tokens, APPID) as second:
            assert not second
    with ledger.Held(store.tokens, APPID) as again:
        assert again
