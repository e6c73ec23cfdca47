"""login and sessions end to end against wxemu, over the Function URL shape."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any, Dict, Iterator, Optional
from zoneinfo import ZoneInfo

import pytest

from wxapush import session
from wxapush.app import current_app, reset_app
from wxapush.config import reset_settings
from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import ADMIN_KEY, handler, log_records, send_event

SESSION_SECRET = "functional-session-secret-000001"
OTHER_OPENID = "oOther_user_000000000000000a"


@pytest.fixture
def login_env(env: Dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Dict[str, str]]:
    monkeypatch.setenv("WXAPUSH_SESSION_SECRET", SESSION_SECRET)
    reset_settings()
    reset_app()
    yield {**env, "WXAPUSH_SESSION_SECRET": SESSION_SECRET}


def url_call(
    name: str, body: Any = None, auth: Optional[str] = None, method: str = "POST", **query: str
) -> Any:
    """``name``'s main_handler reached through its Function URL (the doc's event shape)."""
    headers = {
        "content-type": "application/json",
        "host": "1250000000-x-ap-guangzhou.scf.tencentcs.com",
    }
    if auth is not None:
        headers["authorization"] = auth
    event = {
        "body": "" if body is None else json.dumps(body),
        "headers": headers,
        "httpMethod": method,
        "path": "/",
        "queryString": query,
    }
    answer = handler(name)(event, {"request_id": "r", "time_limit_in_ms": 10_000})
    assert set(answer) == {"statusCode", "headers", "body"}, answer
    return answer


def body_of(answer: Any) -> Dict[str, Any]:
    value: Dict[str, Any] = json.loads(answer["body"])
    return value


def refused(answer: Any, status: int, slug: str, errcode: int) -> Dict[str, Any]:
    body = body_of(answer)
    assert (answer["statusCode"], body["error"], body["errcode"]) == (status, slug, errcode), body
    return body


def login(wxemu: RunningServer, openid: str = demo.OPENID) -> Dict[str, Any]:
    code = wxemu.login_code(demo.APPID, openid)["code"]
    answer = url_call("login", {"code": code})
    assert answer["statusCode"] == 200, answer
    return body_of(answer)


def days() -> Dict[str, str]:
    # Around today in WXAPUSH_TZ (the default zone), never the machine's local date.
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    return {
        "begin_date": (today - timedelta(days=1)).isoformat(),
        "end_date": (today + timedelta(days=1)).isoformat(),
    }


def test_code_to_session_to_send_and_own_log(
    login_env: Dict[str, str], wxemu: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = login(wxemu)
    assert set(answer) == {"errcode", "errmsg", "session", "expires_in", "openid"}
    assert (answer["errcode"], answer["errmsg"]) == (0, "ok")
    assert answer["openid"] == demo.OPENID and answer["expires_in"] == 7200
    auth = f"Session {answer['session']}"

    request = send_event()
    del request["touser"]  # a user sends to itself
    sent = url_call("send", request, auth)
    assert sent["statusCode"] == 200, sent
    assert body_of(sent)["status"] == "sent"
    assert wxemu.messages(demo.APPID)[-1]["touser"] == demo.OPENID

    mine = url_call("send_log", auth=auth, method="GET", **days())
    assert mine["statusCode"] == 200, mine
    listed = body_of(mine)
    assert listed["total"] == 1 and listed["list"][0]["touser"] == demo.OPENID

    # A service's message to someone else stays out of the user's log.
    wxemu.grant(demo.APPID, OTHER_OPENID, demo.TEMPLATE_ID, 1)
    other = url_call("send", send_event(touser=OTHER_OPENID), f"Bearer {ADMIN_KEY}")
    assert other["statusCode"] == 200, other
    assert body_of(url_call("send_log", days(), auth))["total"] == 1

    # WeChat's session_key goes nowhere: not in an answer, a record or a log line.
    everything = json.dumps([answer, body_of(sent), listed]) + caplog.text
    everything += json.dumps([r.__dict__ for r in log_records()], default=str)
    assert "session_key" not in everything
    assert SESSION_SECRET not in everything


def test_a_session_user_may_not_send_to_or_read_another_openid(
    login_env: Dict[str, str], wxemu: RunningServer
) -> None:
    auth = f"Session {login(wxemu)['session']}"
    refused(url_call("send", send_event(touser=OTHER_OPENID), auth), 403, "forbidden", 990403)
    peek = {**days(), "touser": OTHER_OPENID}
    refused(url_call("send_log", peek, auth), 403, "forbidden", 990403)
    refused(url_call("get_token", {}, auth), 403, "forbidden", 990403)
    refused(url_call("refresh_code", {}, auth), 403, "forbidden", 990403)
    assert wxemu.messages(demo.APPID) == []


def test_a_session_user_records_its_own_subscription(
    login_env: Dict[str, str], wxemu: RunningServer
) -> None:
    auth = f"Session {login(wxemu)['session']}"
    result = {"errMsg": "requestSubscribeMessage:ok", demo.TEMPLATE_ID: "accept"}
    answer = url_call("send", {"action": "record_subscription", "result": result}, auth)
    assert answer["statusCode"] == 200, answer


@pytest.mark.parametrize("kind", ["tampered", "expired", "other_app", "malformed", "unsigned"])
def test_bad_sessions_are_unauthorized(
    login_env: Dict[str, str], wxemu: RunningServer, kind: str
) -> None:
    good = login(wxemu)["session"]
    token = {
        "tampered": good[:-3] + ("xyz" if not good.endswith("xyz") else "abc"),
        "expired": session.issue(demo.APPID, demo.OPENID, SESSION_SECRET, 60, now=1e9),
        "other_app": session.issue("wx0000000000000002", demo.OPENID, SESSION_SECRET, 600),
        "malformed": "not a session",
        "unsigned": session.issue(demo.APPID, demo.OPENID, "guessed-secret-00000000", 600),
    }[kind]
    body = refused(url_call("send", send_event(), f"Session {token}"), 401, "unauthorized", 990401)
    assert "login" in body["hint"]
    refused(url_call("send_log", days(), f"Session {token}"), 401, "unauthorized", 990401)
    assert wxemu.messages(demo.APPID) == []


def test_a_reused_or_unknown_code_is_refused_as_wechat_says(
    login_env: Dict[str, str], wxemu: RunningServer
) -> None:
    code = wxemu.login_code(demo.APPID)["code"]
    assert url_call("login", {"code": code})["statusCode"] == 200
    body = refused(url_call("login", {"code": code}), 401, "unauthorized", 40163)
    assert "wx.login" in body["errmsg"] and "wx.login()" in body["hint"]
    refused(url_call("login", {"code": "A" * 32}), 401, "unauthorized", 40029)
    expired = wxemu.login_code(demo.APPID)["code"]
    wxemu.advance(301)
    refused(url_call("login", {"code": expired}), 401, "unauthorized", 40029)


@pytest.mark.parametrize(
    "errcode, status, slug",
    [(40226, 403, "forbidden"), (45011, 429, "rate_limited"), (40125, 500, "misconfigured")],
)
def test_wechat_refusals_map_to_clear_answers(
    login_env: Dict[str, str], wxemu: RunningServer, errcode: int, status: int, slug: str
) -> None:
    code = wxemu.login_code(demo.APPID)["code"]
    wxemu.fault("/sns/jscode2session", errcode=errcode, times=5)
    body = refused(url_call("login", {"code": code}), status, slug, errcode)
    assert "session" not in body


@pytest.mark.parametrize(
    "request_body", [{}, {"code": ""}, {"code": 42}, {"code": "a b"}, {"code": "x" * 200}]
)
def test_a_bad_login_request_is_invalid(
    login_env: Dict[str, str], wxemu: RunningServer, request_body: Dict[str, Any]
) -> None:
    refused(url_call("login", request_body), 400, "invalid_request", 990400)


def test_login_refuses_get_with_allow(login_env: Dict[str, str]) -> None:
    answer = url_call("login", method="GET")
    refused(answer, 405, "invalid_request", 990405)
    assert answer["headers"]["Allow"] == "POST"


def test_login_without_a_session_secret_is_misconfigured_and_keeps_the_code(
    env: Dict[str, str], wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WXAPUSH_SESSION_SECRET", "undefined")
    reset_settings()
    reset_app()
    code = wxemu.login_code(demo.APPID)["code"]
    body = refused(url_call("login", {"code": code}), 500, "misconfigured", 990501)
    assert body["setting"] == "WXAPUSH_SESSION_SECRET"
    monkeypatch.setenv("WXAPUSH_SESSION_SECRET", SESSION_SECRET)
    reset_settings()
    reset_app()
    assert url_call("login", {"code": code})["statusCode"] == 200  # the code was not spent


def test_a_session_from_a_rotated_secret_still_works(
    login_env: Dict[str, str], wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = login(wxemu)["session"]
    monkeypatch.setenv("WXAPUSH_SESSION_SECRET", "the-next-session-secret-000002")
    monkeypatch.setenv("WXAPUSH_SESSION_SECRET_PREVIOUS", SESSION_SECRET)
    reset_settings()
    reset_app()
    assert url_call("send_log", days(), f"Session {token}")["statusCode"] == 200
    assert current_app().settings.session_secret_previous == SESSION_SECRET


@pytest.mark.usefixtures("login_env")
def test_a_lost_login_answer_is_not_retryable_the_code_may_be_spent(wxemu: RunningServer) -> None:
    """WeChat may have spent the code before the connection dropped: repeating the same request
    would be refused (40163), so the answer says to get a new code, not to retry."""
    code = wxemu.login_code(demo.APPID, demo.OPENID)["code"]
    wxemu.fault("/sns/jscode2session", drop=True)
    body = refused(url_call("login", {"code": code}), 502, "upstream_error", 990504)
    assert body["retryable"] is False and "wx.login() again" in body["errmsg"]
    again = refused(url_call("login", {"code": code}), 401, "unauthorized", 40163)
    assert again["retryable"] is False
