"""Alerts: refresh_code's timer posts to the group robots that wxemu fakes, once per change."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.functional.conftest import Invoke, send_event
from tests.functional.test_functions import TIMER
from wxapush.alerts import ledger
from wxapush.app import current_app
from wxapush.config import reset_settings
from wxemu.testing import RunningServer

ROBOT_KEY = "test-robot-key-0001"
SEND_PATH = "/cgi-bin/message/subscribe/send"


def robot_posts(wxemu: RunningServer, kind: str = "wecom") -> list[dict[str, Any]]:
    posts: list[dict[str, Any]] = wxemu.control("GET", f"robots?kind={kind}")["posts"]
    return posts


@pytest.fixture
def robot(env: dict[str, str], wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A WeCom group robot's webhook on wxemu, set as WXAPUSH_ALERT_WEBHOOK."""
    wxemu.control("DELETE", "robots")
    url = f"{wxemu.base_url}/cgi-bin/webhook/send?key={ROBOT_KEY}"
    monkeypatch.setenv("WXAPUSH_ALERT_WEBHOOK", url)
    reset_settings()
    ledger.forget_memory()
    return url


def test_a_spent_daily_quota_is_posted_once_then_cleared_when_sends_succeed(
    invoke: Invoke, wxemu: RunningServer, robot: str
) -> None:
    assert invoke("refresh_code", TIMER)["alerts"]["posted"] == 0  # nothing to say yet
    wxemu.fault(SEND_PATH, errcode=45009, times=2)
    refused = invoke("send", send_event())
    assert refused["errcode"] == 45009, refused

    first = invoke("refresh_code", TIMER)
    assert first["errcode"] == 0 and first["alerts"]["firing"] == ["quota_daily"], first
    (post,) = robot_posts(wxemu)
    assert post["key"] == ROBOT_KEY and post["errcode"] == 0
    assert post["body"]["msgtype"] == "markdown"
    content = post["body"]["markdown"]["content"]
    assert "45009" in content and content.index("额度") < content.index("quota")  # Chinese first

    invoke("send", send_event())  # still refused: the condition holds, nothing new to say
    assert invoke("refresh_code", TIMER)["alerts"]["posted"] == 0
    assert len(robot_posts(wxemu)) == 1

    assert invoke("send", send_event())["errcode"] == 0  # the quota is back
    cleared = invoke("refresh_code", TIMER)
    assert cleared["alerts"] == {"ok": True, "posted": 1, "failed": 0, "firing": []}
    last = robot_posts(wxemu)[-1]["body"]["markdown"]["content"]
    assert "恢复" in last and "45009" in last
    assert len(robot_posts(wxemu)) == 2
    kinds = [(a["condition"], a["state"]) for a in ledger.alerts_between(
        current_app().store.tokens, current_app().settings.appid, 0, 1e12
    )]  # fmt: skip
    assert kinds == [("quota_daily", "cleared"), ("quota_daily", "firing")]


def test_a_refusing_robot_is_logged_without_its_key_and_tried_again(
    invoke: Invoke, wxemu: RunningServer, robot: str, caplog: pytest.LogCaptureFixture
) -> None:
    wxemu.control("POST", "robots", json={"refuse": ROBOT_KEY})
    wxemu.fault(SEND_PATH, errcode=45009)
    invoke("send", send_event())
    with caplog.at_level(logging.WARNING, logger="wxapush.alerts"):
        result = invoke("refresh_code", TIMER)
    assert result["errcode"] == 0 and result["alerts"]["failed"] == 1  # the timer still succeeds
    (warning,) = [r for r in caplog.records if r.name.startswith("wxapush.alerts")]
    assert "93000" in warning.getMessage() and ROBOT_KEY not in warning.getMessage()
    assert robot_posts(wxemu)[0]["errcode"] == 93000
    invoke("refresh_code", TIMER)  # the same alert again: it was never taken
    assert [p["errcode"] for p in robot_posts(wxemu)] == [93000, 93000]


@pytest.mark.parametrize("kind", ["dingtalk", "feishu"])
def test_dingtalk_and_feishu_robots_get_their_own_format(
    invoke: Invoke, wxemu: RunningServer, robot: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = "robot/send?access_token=" if kind == "dingtalk" else "open-apis/bot/v2/hook/"
    monkeypatch.setenv("WXAPUSH_ALERT_WEBHOOK", f"{wxemu.base_url}/{path}{ROBOT_KEY}")
    wxemu.fault(SEND_PATH, errcode=45009)
    invoke("send", send_event())
    assert invoke("refresh_code", TIMER)["alerts"]["posted"] == 1
    (post,) = robot_posts(wxemu, kind)
    assert post["errcode"] == 0 and post["key"] == ROBOT_KEY
    if kind == "dingtalk":
        assert post["body"]["msgtype"] == "markdown" and "45009" in post["body"]["markdown"]["text"]
    else:
        assert post["body"]["msg_type"] == "text" and "45009" in post["body"]["content"]["text"]


def test_a_failing_token_fetch_is_an_alert(
    invoke: Invoke, wxemu: RunningServer, robot: str
) -> None:
    wxemu.fault("/cgi-bin/stable_token", errcode=-1, times=10)
    wxemu.fault("/cgi-bin/token", errcode=-1, times=10)
    result = invoke("refresh_code", TIMER)
    assert "token" in result["alerts"]["firing"], result
    assert any("access_token" in p["body"]["markdown"]["content"] for p in robot_posts(wxemu))


def test_without_a_webhook_alerts_are_still_recorded(
    invoke: Invoke, wxemu: RunningServer, env: dict[str, str]
) -> None:
    ledger.forget_memory()
    wxemu.fault(SEND_PATH, errcode=45009)
    invoke("send", send_event())
    result = invoke("refresh_code", TIMER)
    assert result["alerts"] == {"ok": True, "posted": 0, "failed": 0, "firing": ["quota_daily"]}
    app = current_app()
    (entry,) = ledger.alerts_between(app.store.tokens, app.settings.appid, 0, 1e12)
    assert entry["condition"] == "quota_daily" and entry["state"] == "firing"


def test_the_dashboard_lists_the_periods_alerts(
    invoke: Invoke, wxemu: RunningServer, robot: str
) -> None:
    from tests.functional.test_dashboard import call, envelope, session_cookie, sign_in

    wxemu.fault(SEND_PATH, errcode=45009)
    invoke("send", send_event())
    invoke("refresh_code", TIMER)
    cookie = session_cookie(sign_in())
    answer = envelope(call("GET", "/dashboard/api/alerts", cookie=cookie))
    assert answer["errcode"] == 0, answer
    (alert,) = answer["alerts"]
    assert alert["condition"] == "quota_daily" and alert["state"] == "firing"
    assert alert["title"].startswith("今日") and alert["time"].endswith("+08:00")
    before = envelope(
        call("GET", "/dashboard/api/alerts", cookie=cookie, query={"end_date": "2020-01-01"})
    )
    assert before["alerts"] == []
