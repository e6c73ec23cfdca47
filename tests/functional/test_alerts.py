"""Alerts: refresh_code's timer posts to the group robots that wxemu fakes, once per change."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from tests.functional.conftest import Invoke, send_event
from tests.functional.test_functions import TIMER
from wxapush.alerts import ledger
from wxapush.app import current_app
from wxapush.config import reset_settings
from wxapush.store.base import LogRecord, new_log_id
from wxemu import demo
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


# -- the conditions, judged by check() on the real store, with the clock chosen by the test -----

STEPS_OK: dict[str, dict[str, Any]] = {
    "token": {"ok": True},
    "templates": {"ok": True},
    "prune": {"ok": True},
    "reconcile": {"ok": True, "unknown": 0},
}


def judge(now: float, **steps: dict[str, Any]) -> dict[str, Any]:
    from wxapush.alerts.check import check

    return check(current_app(), {**STEPS_OK, **steps}, now=now)


def seed_at(at: float, status: str, errcode: Any = None, broadcast_id: Any = None) -> None:
    record = LogRecord(
        log_id=new_log_id(),
        appid=demo.APPID,
        touser="o-alerts-someone",
        template_id=demo.TEMPLATE_ID,
        page=None,
        data={},
        miniprogram_state="formal",
        lang="zh_CN",
        status=status,
        created_at=at,
        updated_at=at,
        errcode=errcode,
        broadcast_id=broadcast_id,
    )
    current_app().store.log.claim(record)


def test_storms_and_repeats_need_enough_answers_since_the_last_run(
    env: dict[str, str], robot: str, wxemu: RunningServer
) -> None:
    start = time.time() - 1000
    judge(start)
    for i in range(2):
        seed_at(start + 10 + i, "failed", errcode=45011)
    assert judge(start + 100)["firing"] == []  # 45011 twice: not yet "repeatedly"
    for i in range(3):
        seed_at(start + 110 + i, "failed", errcode=45011)
    for i in range(5):
        seed_at(start + 120 + i, "failed", errcode=40001)
    assert judge(start + 200)["firing"] == ["quota_minute", "token_invalid"]
    titles = [p["body"]["markdown"]["content"] for p in robot_posts(wxemu)]
    assert any("45011" in t for t in titles) and any("40001" in t for t in titles)


def test_a_firing_condition_is_said_again_after_an_hour_not_before(
    env: dict[str, str], robot: str, wxemu: RunningServer
) -> None:
    start = time.time() - 8000
    failing = {"token": {"ok": False, "error": "upstream_error", "errmsg": "-1 system error"}}
    judge(start, **failing)
    judge(start + 600, **failing)
    judge(start + 3000, **failing)
    assert len(robot_posts(wxemu)) == 1
    judge(start + 3700, **failing)  # an hour after the first: a reminder
    assert len(robot_posts(wxemu)) == 2
    judge(start + 3800)
    contents = [p["body"]["markdown"]["content"] for p in robot_posts(wxemu)]
    assert len(contents) == 3 and "恢复" in contents[-1] and "access_token" in contents[-1]


def test_unknown_records_and_a_failing_store_are_alerts(
    env: dict[str, str], robot: str, wxemu: RunningServer
) -> None:
    now = time.time()
    down = {"ok": False, "error": "upstream_error", "errmsg": "store down", "errcode": 990503}
    result = judge(now, reconcile={"ok": True, "unknown": 2}, prune=down)
    assert result["firing"] == ["store", "unknown"]
    contents = " ".join(p["body"]["markdown"]["content"] for p in robot_posts(wxemu))
    assert "unknown" in contents and "存储" in contents


def test_a_store_that_cannot_be_read_is_alerted_from_memory_once(
    env: dict[str, str], robot: str, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    tokens = current_app().store.tokens

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(tokens, "acquire_lock", broken)
    now = time.time()
    assert judge(now)["firing"] == ["store"]
    assert judge(now + 60)["firing"] == ["store"]
    assert len(robot_posts(wxemu)) == 1  # remembered by the instance: not said at every tick


def test_delivery_rate_below_the_setting_over_the_last_hour(
    env: dict[str, str], robot: str, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WXAPUSH_CALLBACK_TOKEN", "test-callback-token")
    monkeypatch.setenv("WXAPUSH_ALERT_DELIVERY_RATE", "90%")
    reset_settings()
    now = time.time()
    for i in range(15):
        seed_at(now - 2000 + i, "delivered")
    for i in range(5):
        seed_at(now - 1900 + i, "undelivered")
    assert judge(now)["firing"] == ["delivery"]  # 15 of 20: 75 %
    (post,) = robot_posts(wxemu)
    assert "15/20" in post["body"]["markdown"]["content"]


def test_too_few_sends_are_not_judged_for_the_delivery_rate(
    env: dict[str, str], robot: str, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WXAPUSH_CALLBACK_TOKEN", "test-callback-token")
    reset_settings()
    now = time.time()
    for i in range(5):
        seed_at(now - 2000 + i, "undelivered")
    assert judge(now)["firing"] == []


def test_a_campaign_done_is_noticed_once(
    env: dict[str, str], robot: str, wxemu: RunningServer
) -> None:
    from wxapush.store.base import Campaign, Recipient

    app = current_app()
    now = time.time()
    campaign = Campaign(
        "bc-alerts-1", app.settings.appid, "TPL", None, {}, "formal", "zh_CN", "queued", 1,
        now - 100, now - 100, "h",
    )  # fmt: skip
    app.store.campaigns.create(campaign, [Recipient(0, "o-someone-alerts")])
    judge(now - 50)
    seed_at(now - 40, "sent", broadcast_id="bc-alerts-1")
    judge(now - 30)
    (lease,) = app.store.campaigns.lease(app.settings.appid, "w", now - 20, 60, 10)
    app.store.campaigns.settle(app.settings.appid, "w", [(lease, "sent")], now - 10)
    judge(now)
    judge(now + 60)
    contents = [p["body"]["markdown"]["content"] for p in robot_posts(wxemu)]
    assert len(contents) == 1 and "群发已完成" in contents[0] and "bc-alerts-1" in contents[0]


def test_a_campaign_with_queued_recipients_and_no_progress_is_stalled(
    env: dict[str, str], robot: str, wxemu: RunningServer
) -> None:
    from wxapush.store.base import Campaign, Recipient

    app = current_app()
    now = time.time() - 5000
    campaign = Campaign(
        "bc-alerts-2", app.settings.appid, "TPL", None, {}, "formal", "zh_CN", "queued", 2,
        now, now, "h",
    )  # fmt: skip
    recipients = [Recipient(0, "o-alerts-one"), Recipient(1, "o-alerts-two")]
    app.store.campaigns.create(campaign, recipients)
    seed_at(now + 1, "sent", broadcast_id="bc-alerts-2")
    assert judge(now + 10)["firing"] == []  # watched from its first send
    assert judge(now + 600)["firing"] == []  # ten minutes without progress: not yet
    assert judge(now + 1000)["firing"] == ["campaign:bc-alerts-2:stalled"]
    leases = app.store.campaigns.lease(app.settings.appid, "w", now + 1010, 60, 1)
    app.store.campaigns.settle(app.settings.appid, "w", [(leases[0], "sent")], now + 1020)
    assert judge(now + 1100)["firing"] == []  # it moved
    contents = [p["body"]["markdown"]["content"] for p in robot_posts(wxemu)]
    assert len(contents) == 2 and "停滞" in contents[0] and "恢复" in contents[1]


def test_a_robot_that_never_answers_is_tried_once_per_tick(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket
    import threading

    from wxapush.alerts import robots

    monkeypatch.setattr(robots, "READ_TIMEOUT", 0.2)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])  # and never answer
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    port = server.getsockname()[1]
    monkeypatch.setenv(
        "WXAPUSH_ALERT_WEBHOOK", f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key=k"
    )
    ledger.forget_memory()
    failing = {"ok": False, "error": "upstream_error", "errmsg": "-1", "errcode": -1}
    try:
        result = judge(time.time(), token=failing, reconcile={"ok": True, "unknown": 3})
    finally:
        server.close()
        for conn in accepted:
            conn.close()
    assert result["failed"] == 2 and result["firing"] == ["token", "unknown"]
    assert len(accepted) == 1  # the second alert waits for the next tick
    doc = ledger.load(current_app().store.tokens, current_app().settings.appid)
    assert all(entry["retry"] for entry in doc["firing"].values())
