"""send through its real entry point, against wxemu over HTTP."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from wxapush.app import current_app, reset_app
from wxapush.config import reset_settings
from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import Invoke, log_records, send_event, token_fetches

OTHER_OPENID = "oWxEmu-SomeoneElse-000000000"


def assert_error(result: dict[str, Any], slug: str, errcode: int) -> None:
    assert result["error"] == slug, result
    assert result["errcode"] == errcode, result
    assert isinstance(result["retryable"], bool)


def test_send_is_accepted_logged_and_reaches_wechat(invoke: Invoke, wxemu: RunningServer) -> None:
    result = invoke("send", send_event())
    assert result["errcode"] == 0 and result["errmsg"] == "ok"
    assert result["status"] == "sent" and result["duplicate"] is False
    assert isinstance(result["msgid"], int)
    [message] = wxemu.messages(demo.APPID, demo.OPENID)
    assert message["msgid"] == result["msgid"]
    assert message["data"]["thing1"] == {"value": "手机保护壳"}
    assert message["miniprogram_state"] == "formal" and message["lang"] == "zh_CN"
    [record] = log_records()
    assert record.log_id == result["log_id"]
    assert (record.status, record.msgid, record.attempts) == ("sent", result["msgid"], 1)


def test_camel_case_fields_and_legacy_fields_with_warnings(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    event = send_event(miniprogramState="trial", formId="abc", emphasisKeyword="thing1.DATA")
    event["templateId"] = event.pop("template_id")
    result = invoke("send", event)
    assert result["errcode"] == 0, result
    assert [w.split()[0] for w in result["warnings"]] == ["formId", "emphasisKeyword"]
    [message] = wxemu.messages(demo.APPID)
    assert message["miniprogram_state"] == "trial"
    assert "formId" not in message and "form_id" not in message


def test_too_long_thing_never_reaches_wechat(invoke: Invoke, wxemu: RunningServer) -> None:
    event = send_event()
    event["data"]["thing1"] = "字" * 21
    result = invoke("send", event)
    assert_error(result, "invalid_argument", 47003)
    assert result["field"] == "data.thing1.value"
    assert result["errmsg"] == "argument invalid! data.thing1.value invalid"
    assert wxemu.messages(demo.APPID) == []
    [record] = log_records()
    assert (record.status, record.errcode, record.log_id) == ("rejected", 47003, result["log_id"])


def test_repeated_idempotency_key_sends_once(invoke: Invoke, wxemu: RunningServer) -> None:
    first = invoke("send", send_event(idempotency_key="order-1-paid"))
    again = invoke("send", send_event(idempotencyKey="order-1-paid"))
    assert first["duplicate"] is False and again["duplicate"] is True
    assert again["msgid"] == first["msgid"] and again["log_id"] == first["log_id"]
    assert len(wxemu.messages(demo.APPID)) == 1
    assert len(log_records()) == 1


def test_idempotency_key_with_another_payload_is_a_conflict(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    invoke("send", send_event(idempotency_key="k1"))
    other = send_event(idempotency_key="k1")
    other["data"]["thing1"] = "另一件商品"
    result = invoke("send", other)
    assert_error(result, "conflict", 990409)
    assert len(wxemu.messages(demo.APPID)) == 1


def test_user_may_send_only_to_itself(invoke: Invoke, wxemu: RunningServer) -> None:
    mine = send_event()
    del mine["touser"]
    assert invoke("send", mine, openid=demo.OPENID)["errcode"] == 0
    result = invoke("send", send_event(touser=OTHER_OPENID), openid=demo.OPENID)
    assert_error(result, "forbidden", 990403)
    assert len(wxemu.messages(demo.APPID)) == 1


def test_no_grant_left_is_not_subscribed(invoke: Invoke, wxemu: RunningServer) -> None:
    template = wxemu.add_template(demo.APPID, "审核结果通知", "结果:{{phrase1.DATA}}\n", 2)
    wxemu.grant(demo.APPID, demo.OPENID, template, 1)
    event = send_event(template_id=template, data={"phrase1": "审核通过"})
    assert invoke("send", event)["errcode"] == 0
    result = invoke("send", event)
    assert_error(result, "not_subscribed", 43101)
    assert [r.status for r in log_records()] == ["failed", "sent"]


def test_unknown_template_is_invalid_template(invoke: Invoke) -> None:
    result = invoke("send", send_event(template_id="x" * 43))
    assert_error(result, "invalid_template", 40037)


def test_missing_template_id_is_invalid_request(invoke: Invoke) -> None:
    event = send_event()
    del event["template_id"]
    result = invoke("send", event)
    assert_error(result, "invalid_request", 990400)
    assert log_records() == []


def test_hundred_sends_cost_one_token_fetch(invoke: Invoke, wxemu: RunningServer) -> None:
    for _ in range(100):
        assert invoke("send", send_event())["errcode"] == 0
    assert token_fetches(wxemu) == 1
    assert len(wxemu.messages(demo.APPID)) == 100


def test_expired_token_costs_exactly_one_more_fetch(invoke: Invoke, wxemu: RunningServer) -> None:
    assert invoke("send", send_event())["errcode"] == 0
    wxemu.advance(7200 + 301)  # past expiry and the 5-minute overlap: wxemu answers 42001
    for _ in range(5):
        assert invoke("send", send_event())["errcode"] == 0
    assert token_fetches(wxemu) == 2
    assert len(wxemu.messages(demo.APPID)) == 6


def test_token_invalidated_elsewhere_costs_exactly_one_more_fetch(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    assert invoke("send", send_event())["errcode"] == 0
    # Another party force-refreshes twice, 30 s apart: the leaked-token response.
    body = {
        "grant_type": "client_credential",
        "appid": demo.APPID,
        "secret": demo.SECRET,
        "force_refresh": True,
    }
    for _ in range(2):
        wxemu.advance(31)
        assert (
            "access_token" in wxemu.http.post(wxemu.url("/cgi-bin/stable_token"), json=body).json()
        )
    wxemu.advance(301)
    before = token_fetches(wxemu)
    assert invoke("send", send_event())["errcode"] == 0
    assert token_fetches(wxemu) == before + 1


def test_system_busy_is_retried(invoke: Invoke, wxemu: RunningServer) -> None:
    wxemu.fault("/cgi-bin/message/subscribe/send", errcode=-1, times=1)
    result = invoke("send", send_event())
    assert result["errcode"] == 0, result
    assert len(wxemu.messages(demo.APPID)) == 1
    assert log_records()[0].status == "sent"


def test_http_5xx_is_retried(invoke: Invoke, wxemu: RunningServer) -> None:
    wxemu.fault("/cgi-bin/message/subscribe/send", status=503, times=2)
    assert invoke("send", send_event())["errcode"] == 0
    assert len(wxemu.messages(demo.APPID)) == 1


def test_persistent_failure_is_upstream_error_and_frees_the_key(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    wxemu.fault("/cgi-bin/message/subscribe/send", errcode=-1, times=10)
    result = invoke("send", send_event(idempotency_key="k-busy"))
    assert_error(result, "upstream_error", -1)
    assert result["retryable"] is True
    [record] = log_records()
    assert record.status == "failed" and record.idempotency_key is None
    wxemu.control("POST", "reset")
    retry = invoke("send", send_event(idempotency_key="k-busy"))
    assert retry["errcode"] == 0 and retry["duplicate"] is False, retry


@contextmanager
def machine_zone(name: str) -> Iterator[None]:
    """The process's local zone ``name`` for the block."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.mark.parametrize(
    ("moment", "zone", "until_midnight"),
    [
        ("2026-03-01T23:30:00+08:00", "America/Los_Angeles", 1800.0),  # Beijing's evening
        ("2026-03-01T00:00:00+08:00", "Asia/Shanghai", 86400.0),  # WeChat's day just began
        ("2026-03-01T15:59:59+00:00", "Europe/London", 1.0),  # a second before it ends
    ],
)
def test_the_daily_quota_answers_retry_after_to_wechats_midnight(
    invoke: Invoke,
    wxemu: RunningServer,
    monkeypatch: pytest.MonkeyPatch,
    moment: str,
    zone: str,
    until_midnight: float,
) -> None:
    """45009 is WeChat's day's quota, not a rate: retryable, with retry_after to midnight in
    Beijing time, whatever WXAPUSH_TZ and the process's TZ are."""
    from datetime import datetime

    monkeypatch.setenv("WXAPUSH_TZ", zone)
    reset_settings()
    reset_app()
    now = datetime.fromisoformat(moment).timestamp()
    current_app().clock = lambda: now
    wxemu.set_daily_limit(demo.APPID, "/cgi-bin/message/subscribe/send", 1)
    assert invoke("send", send_event())["errcode"] == 0
    with machine_zone("Pacific/Kiritimati"):  # UTC+14: another date than Beijing's at 23:30
        result = invoke("send", send_event(idempotency_key="order-2-paid"))
    assert_error(result, "quota_exhausted", 45009)
    assert result["retryable"] is True and result["retry_after"] == until_midnight
    assert result["retry_at"] == now + until_midnight
    assert "midnight Beijing time" in result["hint"]
    assert len(wxemu.messages(demo.APPID)) == 1
    [record] = log_records(status="failed")
    assert record.errcode == 45009 and record.idempotency_key is None  # the key is free again
    wxemu.set_daily_limit(demo.APPID, "/cgi-bin/message/subscribe/send", 10)  # WeChat's next day
    again = invoke("send", send_event(idempotency_key="order-2-paid"))
    assert again["errcode"] == 0 and again["duplicate"] is False


def test_the_daily_quota_of_the_token_answers_quota_exhausted(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    wxemu.fault("/cgi-bin/stable_token", errcode=45009, times=1)
    result = invoke("get_token", {})
    assert_error(result, "quota_exhausted", 45009)
    assert 0 < result["retry_after"] <= 86400


@pytest.mark.parametrize(
    ("override", "errcode", "field"),
    [
        ({"miniprogram_state": "beta"}, 47003, "miniprogram_state"),
        ({"lang": "fr_FR"}, 47003, "lang"),
        ({"page": "pages/index index"}, 41030, "page"),
    ],
)
def test_state_lang_and_page_are_checked_locally(
    invoke: Invoke, wxemu: RunningServer, override: dict[str, Any], errcode: int, field: str
) -> None:
    result = invoke("send", send_event(**override))
    assert_error(result, "invalid_argument", errcode)
    assert result["field"] == field
    assert wxemu.messages(demo.APPID) == []


@pytest.mark.parametrize(
    "event",
    [
        {"touser": demo.OPENID, "template_id": demo.TEMPLATE_ID},  # no data
        {"touser": 7, "template_id": demo.TEMPLATE_ID, "data": {}},
        {"template_id": demo.TEMPLATE_ID, "data": {}},  # a service must name touser
        {
            "touser": demo.OPENID,
            "template_id": demo.TEMPLATE_ID,
            "data": {},
            "idempotency_key": "k" * 129,
        },
        {"touser": "o" * 129, "template_id": demo.TEMPLATE_ID, "data": {}},
        {"touser": demo.OPENID, "template_id": "t" * 129, "data": {}},
        {"touser": demo.OPENID, "template_id": demo.TEMPLATE_ID, "data": {}, "page": "p" * 1025},
        {  # the two spellings disagree
            "touser": demo.OPENID,
            "template_id": demo.TEMPLATE_ID,
            "templateId": "another-template",
            "data": {},
        },
    ],
)
def test_malformed_requests_are_invalid_request(invoke: Invoke, event: dict[str, Any]) -> None:
    assert_error(invoke("send", event), "invalid_request", 990400)
    assert log_records() == []


def test_not_subscribed_frees_the_key_so_the_send_can_follow_a_subscription(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    template = wxemu.add_template(demo.APPID, "审核结果通知", "结果:{{phrase1.DATA}}\n", 2)
    event = send_event(template_id=template, data={"phrase1": "审核通过"}, idempotency_key="r-1")
    first = invoke("send", event)
    assert_error(first, "not_subscribed", 43101)  # WeChat: no grant
    wxemu.grant(demo.APPID, demo.OPENID, template, 1)  # the user subscribes
    again = invoke("send", event)
    assert again["errcode"] == 0 and again["duplicate"] is False, again
    assert [r.status for r in log_records()] == ["sent", "failed"]


def test_a_local_not_subscribed_refusal_frees_the_key_too(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WXAPUSH_GRANT_POLICY", "enforce")
    reset_settings()
    reset_app()
    event = send_event(idempotency_key="r-2")
    assert_error(invoke("send", event), "not_subscribed", 43101)
    assert wxemu.messages(demo.APPID) == []  # refused without calling WeChat
    current_app().store.grants.grant(demo.APPID, demo.OPENID, demo.TEMPLATE_ID)
    again = invoke("send", event)
    assert again["errcode"] == 0 and again["duplicate"] is False, again
    assert len(wxemu.messages(demo.APPID)) == 1
