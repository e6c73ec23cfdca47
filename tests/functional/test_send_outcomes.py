"""What a send that did not succeed leaves behind: pending, rejected or failed.

``failed`` means WeChat refused it (or could not be reached); ``rejected`` that it was refused
before anything was sent; ``pending`` that WeChat may have sent it — the key stays held, so a
repeat is a retryable conflict, never a second message.
"""

from __future__ import annotations

import pytest

from wxapush.app import current_app, reset_app
from wxapush.config import reset_settings
from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import Invoke, balance, log_records, send_event, wait_for
from .test_send import assert_error

SEND = "/cgi-bin/message/subscribe/send"
EVER = {"begin_date": "2020-01-01", "end_date": "2099-12-31"}


def test_a_send_wechat_does_not_answer_in_time_stays_pending(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    # WeChat takes 3 s, then delivers: longer than the function has to live.
    wxemu.fault(SEND, delay_ms=3000, times=1)
    event = send_event(idempotency_key="order-9-paid")
    result = invoke("send", event, time_limit_ms=1500)
    assert_error(result, "upstream_error", 990504)
    assert result["retryable"] is False and "outcome is unknown" in result["errmsg"]
    [record] = log_records()
    assert (record.status, record.errcode, record.idempotency_key) == (
        "pending",
        990504,
        "order-9-paid",
    )
    assert record.log_id == result["log_id"]
    # WeChat did deliver it, once: the send was not retried.
    assert wait_for(lambda: wxemu.messages(demo.APPID))
    # The caller's retry is told it may have been sent, instead of sending it again.
    retry = invoke("send", event)
    assert_error(retry, "conflict", 990409)
    assert retry["retryable"] is True and record.log_id in retry["errmsg"]
    assert len(wxemu.messages(demo.APPID)) == 1
    [status] = [r["status"] for r in invoke("send_log", EVER)["list"]]
    assert status == "pending"


def test_no_time_left_before_the_call_is_rejected_and_frees_the_key(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    # 0.2 s to live is less than the transport keeps back: nothing is even tried.
    result = invoke("send", send_event(idempotency_key="k-late"), time_limit_ms=200)
    assert_error(result, "upstream_error", 990504)
    assert result["retryable"] is True
    [record] = log_records()
    assert (record.status, record.errcode, record.idempotency_key) == ("rejected", 990504, None)
    assert wxemu.messages(demo.APPID) == []
    retry = invoke("send", send_event(idempotency_key="k-late"))
    assert (retry["errcode"], retry["duplicate"]) == (0, False)


def test_an_unknown_outcome_keeps_the_grant_used(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WXAPUSH_GRANT_POLICY", "enforce")
    reset_settings()
    reset_app()
    current_app().store.grants.grant(demo.APPID, demo.OPENID, demo.TEMPLATE_ID)
    wxemu.fault(SEND, delay_ms=3000, times=1)
    result = invoke("send", send_event(), time_limit_ms=1500)
    assert_error(result, "upstream_error", 990504)
    # WeChat may have used the user's grant: the ledger does not give it back.
    assert balance() == 0
    assert wait_for(lambda: wxemu.messages(demo.APPID))
