"""Once WeChat accepted a send, the caller hears it; what the log could not record is reconciled.

A store that fails after WeChat's answer must not make a retrying caller send the message again:
the answer is success with the msgid and a warning, the record stays ``pending`` with its key,
and either WeChat's delivery report settles it or refresh_code's reconciliation marks it
``unknown`` — after which its key answers ``unknown`` instead of ``conflict`` forever.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import pytest

from tests.functional.conftest import Invoke, log_records, send_event
from tests.functional.test_receive_event import call, secure, sent_event
from tests.functional.test_send import assert_error
from wxapush.app import current_app
from wxapush.services import reconcile
from wxapush.store.base import LogRecord, new_log_id
from wxemu import demo
from wxemu.testing import RunningServer

EVER = {"begin_date": "2020-01-01", "end_date": "2099-12-31"}


def fail_next_updates(monkeypatch: pytest.MonkeyPatch, times: int = 2) -> list[str]:
    """The next ``times`` writes of an outcome to the send log fail as a lost database would
    (the mark that the call to WeChat starts still succeeds)."""
    log = current_app().store.log
    real = log.update
    failed: list[str] = []

    def update(log_id: str, **changes: Any) -> bool:
        if len(failed) < times and "status" in changes:
            failed.append(log_id)
            raise sqlite3.OperationalError("disk I/O error")
        return real(log_id, **changes)

    monkeypatch.setattr(log, "update", update)
    return failed


def test_a_store_failure_after_wechat_accepted_answers_success_with_a_warning(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke("send_log", EVER)  # the app (and its store) exist before the fault is set
    failed = fail_next_updates(monkeypatch)
    event = send_event(idempotency_key="order-7-paid")
    result = invoke("send", event)
    assert result["errcode"] == 0 and result["status"] == "sent", result
    assert isinstance(result["msgid"], int) and failed == [result["log_id"]] * 2
    assert any("could not record" in w for w in result["warnings"])
    [record] = log_records()
    assert (record.status, record.idempotency_key) == ("pending", "order-7-paid")
    # A retry sends nothing: the key is held while the record is pending.
    retry = invoke("send", event)
    assert_error(retry, "conflict", 990409)
    assert len(wxemu.messages(demo.APPID)) == 1


def test_reconciliation_makes_a_stale_pending_record_unknown_and_its_key_answer_so(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke("send_log", EVER)
    fail_next_updates(monkeypatch)
    event = send_event(idempotency_key="order-8-paid")
    first = invoke("send", event)
    assert first["errcode"] == 0
    # Not yet: a pending record younger than the bound may still be answered by its send.
    answer = invoke("refresh_code", {"Type": "Timer", "TriggerName": "t", "Time": "x"})
    assert answer["reconcile"] == {"ok": True, "unknown": 0, "never_sent": 0}
    monkeypatch.setattr(reconcile, "PENDING_BOUND", 0.0)  # as if the bound had passed
    answer = invoke("refresh_code", {"Type": "Timer", "TriggerName": "t", "Time": "x"})
    assert answer["reconcile"] == {"ok": True, "unknown": 1, "never_sent": 0}
    [record] = log_records()
    assert (record.status, record.idempotency_key) == ("unknown", "order-8-paid")
    retry = invoke("send", event)
    assert_error(retry, "upstream_error", 990504)
    assert (retry["status"], retry["duplicate"], retry["retryable"]) == ("unknown", True, False)
    assert retry["log_id"] == first["log_id"]
    assert [r["status"] for r in invoke("send_log", {**EVER, "status": "unknown"})["list"]] == [
        "unknown"
    ]
    assert len(wxemu.messages(demo.APPID)) == 1


def test_reconciliation_leaves_settled_and_recent_records_alone(invoke: Invoke) -> None:
    invoke("send_log", EVER)
    log = current_app().store.log
    now = time.time()
    old_sent = _record("sent", now - 5000)
    old_pending = _record("pending", now - 5000)
    new_pending = _record("pending", now - 10)
    for record in (old_sent, old_pending, new_pending):
        log.claim(record)
    app = current_app()
    assert reconcile.reconcile(app, time.monotonic() + 10) == {"unknown": 1, "never_sent": 0}
    assert [log.get(r.log_id).status for r in (old_sent, old_pending, new_pending)] == [  # type: ignore[union-attr]
        "sent",
        "unknown",
        "pending",
    ]


def test_a_delivery_report_settles_a_record_the_log_never_learned_the_msgid_of(
    callback_env: dict[str, str], invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke("send_log", EVER)
    monkeypatch.setattr("wxapush.services.receive_event.MSGID_WAIT", 0.05)
    fail_next_updates(monkeypatch)
    sent = invoke("send", send_event(idempotency_key="k-report"))
    assert sent["errcode"] == 0
    assert [r.msgid for r in log_records()] == [None]
    assert call(*secure(sent_event(sent["msgid"])))["body"] == "success"
    [record] = log_records()
    assert (record.status, record.msgid) == ("delivered", sent["msgid"])


def _record(status: str, created_at: float) -> LogRecord:
    return LogRecord(
        log_id=new_log_id(),
        appid=demo.APPID,
        touser=demo.OPENID,
        template_id=demo.TEMPLATE_ID,
        page=None,
        data=json.loads('{"thing1": {"value": "x"}}'),
        miniprogram_state="formal",
        lang="zh_CN",
        status=status,
        created_at=created_at,
        updated_at=created_at,
        attempts=1 if status == "pending" else 0,  # a pending send whose call started
    )


def test_a_store_failure_after_an_unknown_outcome_is_not_made_retryable(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke("send_log", EVER)
    wxemu.fault("/cgi-bin/message/subscribe/send", drop=True)  # WeChat sends, the answer is lost
    fail_next_updates(monkeypatch)
    result = invoke("send", send_event())  # no key: a blind retry would send it twice
    assert_error(result, "upstream_error", 990504)
    assert result["retryable"] is False and result["warnings"]
    assert [r.status for r in log_records()] == ["pending"]
    assert len(wxemu.messages(demo.APPID)) == 1


def test_an_unexpected_failure_logs_no_openid_and_no_message_data(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from wxapush.services import send

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"bug while handling {args!r}")  # quotes the whole request

    monkeypatch.setattr(send, "validate_send", broken)
    event = send_event(data={**send_event()["data"], "thing1": "私密的订单内容"})
    result = invoke("send", event)
    assert_error(result, "internal", 990500)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "bug while handling" in text
    assert demo.OPENID not in text and "私密的订单内容" not in text and "SF1234567890" not in text


def test_a_single_store_blip_after_wechat_accepted_is_written_again(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke("send_log", EVER)
    fail_next_updates(monkeypatch, times=1)
    result = invoke("send", send_event(idempotency_key="order-9-paid"))
    assert result["errcode"] == 0 and "warnings" not in result
    [record] = log_records()
    assert (record.status, record.msgid) == ("sent", result["msgid"])
