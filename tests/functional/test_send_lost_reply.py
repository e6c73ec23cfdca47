"""A lost reply never strands a send (issue 19, finding 1).

When the ``pending`` claim commits but its reply never reaches the instance, the send answers
``990503`` retryable; a retry of the same key and payload must be able to send, because WeChat
was never called. Only a record whose call to WeChat started (``attempts`` 1) holds its key as
"in progress" and is reconciled ``unknown``.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any, Callable

import pytest

from tests.functional.conftest import Invoke, log_records, send_event
from tests.functional.test_send import assert_error
from wxapush.app import current_app
from wxapush.services import reconcile, send_claim
from wxemu import demo
from wxemu.testing import RunningServer

EVER = {"begin_date": "2020-01-01", "end_date": "2099-12-31"}


def lose_replies(
    monkeypatch: pytest.MonkeyPatch, method: str, times: int, when: Callable[..., bool]
) -> list[Any]:
    """The next ``times`` calls of ``store.log.<method>`` matching ``when`` are written, then
    their reply is lost (as a connection dropped after COMMIT)."""
    log = current_app().store.log
    real = getattr(log, method)
    lost: list[Any] = []

    def lossy(*args: Any, **kwargs: Any) -> Any:
        answer = real(*args, **kwargs)
        if len(lost) < times and when(*args, **kwargs):
            lost.append(answer)
            raise sqlite3.OperationalError("server closed the connection unexpectedly")
        return answer

    monkeypatch.setattr(log, method, lossy)
    return lost


def always(*args: Any, **kwargs: Any) -> bool:
    return True


def test_a_claim_whose_reply_is_lost_for_good_is_sent_by_the_retry(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke("send_log", EVER)  # the app (and its store) exist before the fault is set
    lost = lose_replies(monkeypatch, "claim", send_claim.STORE_TRIES, always)
    event = send_event(idempotency_key="order-1-paid")
    first = invoke("send", event)
    assert_error(first, "upstream_error", 990503)
    assert first["retryable"] is True and len(lost) == send_claim.STORE_TRIES
    assert wxemu.messages(demo.APPID) == []
    # The retry takes the stale claim over (WeChat was never called) and sends: once.
    retry = invoke("send", event)
    assert retry["errcode"] == 0 and retry["status"] == "sent", retry
    again = invoke("send", event)
    assert (again["errcode"], again["duplicate"], again["msgid"]) == (0, True, retry["msgid"])
    assert len(wxemu.messages(demo.APPID)) == 1
    by_status = {r.status: r for r in log_records()}
    assert sorted(by_status) == ["rejected", "sent"]
    stale = by_status["rejected"]
    assert (stale.idempotency_key, stale.attempts) == (None, 0)
    assert stale.errmsg == send_claim.NEVER_SENT


def test_a_claim_whose_reply_is_lost_once_is_sent_by_the_same_call(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke("send_log", EVER)
    for key in ("order-2-paid", None):  # keyed, and a plain send
        lost = lose_replies(monkeypatch, "claim", 1, always)
        result = invoke("send", send_event(idempotency_key=key))
        assert result["errcode"] == 0 and result["status"] == "sent", result
        assert len(lost) == 1
        monkeypatch.undo()
    assert len(wxemu.messages(demo.APPID)) == 2
    assert [r.status for r in log_records()] == ["sent", "sent"]


def test_a_dispatch_whose_reply_is_lost_sends_once(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke("send_log", EVER)
    lost = lose_replies(monkeypatch, "update", 1, lambda *a, **kw: kw.get("attempts") == 1)
    result = invoke("send", send_event(idempotency_key="order-3-paid"))
    assert result["errcode"] == 0 and result["status"] == "sent", result
    assert lost == [True]
    assert len(wxemu.messages(demo.APPID)) == 1
    [record] = log_records()
    assert (record.status, record.attempts) == ("sent", 1)


def test_an_attempt_whose_claim_was_taken_over_sends_nothing(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two attempts of one key: the one taken over before its call sends nothing."""
    invoke("send_log", EVER)
    event = send_event(idempotency_key="order-4-paid")
    real = send_claim.dispatch
    nested: list[Any] = []

    def dispatch(*args: Any) -> bool:
        if not nested:  # the first attempt, about to call WeChat: a retry overtakes it
            nested.append(None)
            nested[0] = invoke("send", event)
        return real(*args)

    monkeypatch.setattr(send_claim, "dispatch", dispatch)
    first = invoke("send", event)
    assert_error(first, "conflict", 990409)
    assert first["retryable"] is True
    assert nested[0]["errcode"] == 0 and nested[0]["status"] == "sent"
    assert len(wxemu.messages(demo.APPID)) == 1


def test_a_send_whose_call_started_still_answers_in_progress(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past WeChat's door nothing is taken over: the outcome may be a message."""
    invoke("send_log", EVER)
    wxemu.fault("/cgi-bin/message/subscribe/send", drop=True)  # WeChat sends, the answer is lost
    event = send_event(idempotency_key="order-5-paid")
    invoke("send", event)
    retry = invoke("send", event)
    assert_error(retry, "conflict", 990409)
    assert len(wxemu.messages(demo.APPID)) == 1


def test_reconciliation_tells_a_claim_that_never_called_wechat_from_one_that_did(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke("send_log", EVER)
    lose_replies(monkeypatch, "claim", send_claim.STORE_TRIES, always)
    never = send_event(idempotency_key="order-6-paid")
    assert_error(invoke("send", never), "upstream_error", 990503)
    monkeypatch.undo()
    wxemu.fault("/cgi-bin/message/subscribe/send", drop=True)
    started = send_event(idempotency_key="order-7-paid")
    invoke("send", started)
    assert reconcile.reconcile(current_app(), time.monotonic() + 10, bound=0.0) == {
        "unknown": 1,
        "never_sent": 1,
    }
    by_key = {r.idempotency_key: r for r in log_records()}
    assert by_key["order-7-paid"].status == "unknown"
    assert None in by_key and by_key[None].status == "rejected"  # the key was freed
    # The never-sent key sends on retry; the started one answers unknown.
    assert invoke("send", never)["status"] == "sent"
    assert_error(invoke("send", started), "upstream_error", 990504)
    assert len(wxemu.messages(demo.APPID)) == 2


def test_a_mark_whose_replies_are_all_lost_is_withdrawn_and_the_retry_sends(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The door's mark written but never confirmed: the call does not start, and the record
    says so (never sent, key freed) instead of holding the key "in progress"."""
    invoke("send_log", EVER)
    marks = lose_replies(
        monkeypatch, "update", send_claim.STORE_TRIES, lambda *a, **kw: kw.get("attempts") == 1
    )
    event = send_event(idempotency_key="order-9-paid")
    first = invoke("send", event)
    assert_error(first, "upstream_error", 990503)
    assert first["retryable"] is True and len(marks) == send_claim.STORE_TRIES
    assert wxemu.messages(demo.APPID) == []
    [record] = log_records()
    assert (record.status, record.idempotency_key, record.errmsg) == (
        "rejected",
        None,
        send_claim.NEVER_SENT,
    )
    retry = invoke("send", event)
    assert retry["errcode"] == 0 and retry["status"] == "sent", retry
    assert len(wxemu.messages(demo.APPID)) == 1
