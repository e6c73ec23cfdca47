"""broadcast when replies are lost and cancels race the workers (issue 19, findings 2, 3, 13).

* a create retried after its reply was lost answers the campaign it made: nothing doubled;
* once ``cancel`` answers, each worker sends at most the one message already on the wire;
* a worker given less time than its margins says why it did nothing.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any, Dict, List

import pytest

from wxapush.app import current_app
from wxapush.services import broadcast_worker
from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import Invoke
from .test_broadcast import assert_error, configure, create, status, users


def test_a_create_retried_after_its_reply_was_lost_queues_nothing_twice(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    openids = users(wxemu, 3)
    invoke("send_log", {"begin_date": "2020-01-01", "end_date": "2099-12-31"})  # the store
    queue = current_app().store.campaigns
    real = queue.create
    lost: List[Any] = []

    def lossy(*args: Any) -> Any:
        answer = real(*args)
        if not lost:  # committed, and the reply never arrives
            lost.append(answer)
            raise sqlite3.OperationalError("server closed the connection unexpectedly")
        return answer

    monkeypatch.setattr(queue, "create", lossy)
    first = create(invoke, openids)  # no broadcast_id
    assert_error(first, "upstream_error", 990503)
    assert first["retryable"] is True
    retry = create(invoke, openids)
    assert retry["errcode"] == 0 and retry["duplicate"] is True, retry
    assert retry["broadcast_id"] == lost[0][0].broadcast_id
    assert invoke("broadcast", {"action": "work"})["worked"] == {"sent": 3}
    assert invoke("broadcast", {"action": "work"})["worked"] == {}
    assert sorted(m["touser"] for m in wxemu.messages(demo.APPID)) == sorted(openids)


def test_a_create_without_an_id_is_named_by_its_request(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    openids = users(wxemu, 2)
    first = create(invoke, openids)
    again = create(invoke, openids)
    other = create(invoke, openids[:1])
    assert first["broadcast_id"].startswith("auto.") and first["duplicate"] is False
    assert (again["broadcast_id"], again["duplicate"]) == (first["broadcast_id"], True)
    assert other["broadcast_id"] != first["broadcast_id"] and other["duplicate"] is False
    # Over and older than the idempotency TTL, the same request is a new campaign.
    invoke("broadcast", {"action": "cancel", "broadcast_id": first["broadcast_id"]})
    configure(monkeypatch, WXAPUSH_IDEMPOTENCY_TTL="1")
    time.sleep(1.1)
    later = create(invoke, openids)
    assert later["errcode"] == 0 and later["duplicate"] is False, later
    assert later["broadcast_id"] == first["broadcast_id"] + ".2"
    assert create(invoke, openids)["broadcast_id"] == later["broadcast_id"]


def test_cancel_stops_every_worker_within_one_send(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, WXAPUSH_RATE_LIMIT="50")
    created = create(invoke, users(wxemu, 400), broadcast_id="cancel-race")
    assert created["errcode"] == 0, created
    answers: List[Dict[str, Any]] = []

    def work() -> None:
        answers.append(invoke("broadcast", {"action": "work"}, time_limit_ms=20_000))

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    give_up = time.monotonic() + 20
    while len(wxemu.messages(demo.APPID)) < 20 and time.monotonic() < give_up:
        time.sleep(0.02)
    cancelled = invoke("broadcast", {"action": "cancel", "broadcast_id": "cancel-race"})
    at_cancel = len(wxemu.messages(demo.APPID))
    for worker in workers:
        worker.join(30)
    assert cancelled["status"] == "cancelled", cancelled
    assert [a["errcode"] for a in answers] == [0, 0], answers
    after = len(wxemu.messages(demo.APPID)) - at_cancel
    assert after <= len(workers), f"{after} messages accepted after cancel answered"
    report = status(invoke, "cancel-race")
    assert report["counts"]["sent"] == len(wxemu.messages(demo.APPID))
    assert report["counts"]["queued"] == 0


def test_a_worker_with_too_little_time_says_why_it_did_nothing(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    create(invoke, users(wxemu, 2), broadcast_id="short")
    margin_ms = int(broadcast_worker.MARGIN * 1000)
    answer = invoke("broadcast", {"action": "work"}, time_limit_ms=margin_ms)
    assert answer["errcode"] == 0 and answer["worked"] == {}
    [warning] = answer["warnings"]
    assert "time limit" in warning and "未领取" in warning
    # With time enough, no warning.
    answer = invoke("broadcast", {"action": "work"})
    assert answer["worked"] == {"sent": 2} and "warnings" not in answer


def test_a_batch_stopped_by_a_store_failure_records_what_it_sent(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's outcomes are settled in one write at its end (issue 21): a failure in the
    middle of the batch still settles the recipients sent before it, and a worker that never
    settles (killed) loses nothing: its recipients replay their first outcome, unsent again."""
    configure(monkeypatch, WXAPUSH_BROADCAST_LEASE="1")
    created = create(invoke, users(wxemu, 6), broadcast_id="batch-stop")
    assert created["errcode"] == 0, created
    log = current_app().store.log
    real_claim, claims = log.claim, [0]

    def failing_claim(record: Any) -> Any:
        claims[0] += 1
        if claims[0] >= 4:
            raise sqlite3.OperationalError("disk I/O error")
        return real_claim(record)

    monkeypatch.setattr(log, "claim", failing_claim)
    failed = invoke("broadcast", {"action": "work"})
    assert_error(failed, "upstream_error", 990503)
    assert len(wxemu.messages(demo.APPID)) == 3
    counts = status(invoke, "batch-stop")["counts"]
    assert (counts["sent"], counts["queued"]) == (3, 3), counts

    # the next worker, after the lease: the three left are sent once, nothing twice
    monkeypatch.setattr(log, "claim", real_claim)
    queue = current_app().store.campaigns
    monkeypatch.setattr(queue, "settle", lambda *a, **k: {})  # as if killed before settling
    time.sleep(1.1)
    assert invoke("broadcast", {"action": "work"})["errcode"] == 0
    assert len(wxemu.messages(demo.APPID)) == 6
    assert status(invoke, "batch-stop")["counts"]["queued"] == 3  # never settled
    monkeypatch.undo()
    time.sleep(1.1)  # their lease ends: the next worker replays each first outcome
    assert invoke("broadcast", {"action": "work"})["worked"] == {"sent": 3}
    assert len(wxemu.messages(demo.APPID)) == 6
    counts = status(invoke, "batch-stop")["counts"]
    assert (counts["sent"], counts["queued"], status(invoke, "batch-stop")["status"]) == (
        6, 0, "done"
    )  # fmt: skip
