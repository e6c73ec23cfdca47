"""wxemu's group robots: WeCom, DingTalk and Feishu webhooks that record what they were sent."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from wxemu.testing import ControlPlaneError, RunningServer

MARKDOWN = {"msgtype": "markdown", "markdown": {"content": "### 告警\n45009"}}
DING = {"msgtype": "markdown", "markdown": {"title": "告警", "text": "45009"}}
FEISHU = {"msg_type": "text", "content": {"text": "告警 45009"}}


@pytest.fixture(autouse=True)
def clean(wxemu: RunningServer) -> None:
    wxemu.control("DELETE", "robots")


def post(wxemu: RunningServer, path: str, body: Any) -> dict[str, Any]:
    answer = requests.post(wxemu.base_url + path, json=body, timeout=5)
    assert answer.status_code == 200
    result: dict[str, Any] = answer.json()
    return result


def test_each_robot_takes_its_own_format_and_records_it(wxemu: RunningServer) -> None:
    assert post(wxemu, "/cgi-bin/webhook/send?key=k-1", MARKDOWN) == {"errcode": 0, "errmsg": "ok"}
    assert post(wxemu, "/robot/send?access_token=t-1", DING) == {"errcode": 0, "errmsg": "ok"}
    ok = {"code": 0, "msg": "success", "data": {}}
    assert post(wxemu, "/open-apis/bot/v2/hook/h-1", FEISHU) == ok
    posts = wxemu.control("GET", "robots")["posts"]
    assert [(p["kind"], p["key"], p["errcode"]) for p in posts] == [
        ("wecom", "k-1", 0), ("dingtalk", "t-1", 0), ("feishu", "h-1", 0),
    ]  # fmt: skip
    assert posts[0]["body"] == MARKDOWN
    assert len(wxemu.control("GET", "robots?kind=feishu")["posts"]) == 1


def test_a_refused_key_gets_each_robots_invalid_key_error(wxemu: RunningServer) -> None:
    wxemu.control("POST", "robots", json={"refuse": "bad-1"})
    assert post(wxemu, "/cgi-bin/webhook/send?key=bad-1", MARKDOWN)["errcode"] == 93000
    assert post(wxemu, "/cgi-bin/webhook/send", MARKDOWN)["errcode"] == 93000  # no key
    assert post(wxemu, "/robot/send?access_token=bad-1", DING)["errcode"] == 300001
    assert post(wxemu, "/open-apis/bot/v2/hook/bad-1", FEISHU)["code"] == 19001


def test_bad_bodies_and_queued_errors(wxemu: RunningServer) -> None:
    assert post(wxemu, "/cgi-bin/webhook/send?key=k", {"msgtype": "nope"})["errcode"] == 40008
    long = {"msgtype": "markdown", "markdown": {"content": "告" * 1400}}  # 4200 bytes
    assert post(wxemu, "/cgi-bin/webhook/send?key=k", long)["errcode"] == 40058
    assert post(wxemu, "/open-apis/bot/v2/hook/h", {"text": "x"})["code"] == 9499
    wxemu.control("POST", "robots", json={"kind": "wecom", "errcode": 45009, "times": 1})
    assert post(wxemu, "/cgi-bin/webhook/send?key=k", MARKDOWN)["errcode"] == 45009
    assert post(wxemu, "/cgi-bin/webhook/send?key=k", MARKDOWN)["errcode"] == 0
    with pytest.raises(ControlPlaneError):
        wxemu.control("POST", "robots", json={"kind": "slack", "errcode": 1})


def test_reset_forgets_the_posts(wxemu: RunningServer) -> None:
    post(wxemu, "/cgi-bin/webhook/send?key=k", MARKDOWN)
    wxemu.reset()
    assert wxemu.control("GET", "robots")["posts"] == []
