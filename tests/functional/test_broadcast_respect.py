"""The cap and quiet hours under wxemu's clock: move the clock, watch deferred recipients go."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List
from zoneinfo import ZoneInfo

import pytest

from wxapush.app import current_app, reset_app
from wxapush.config import reset_settings
from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import Invoke, log_records, send_event
from .test_broadcast import DATA, assert_error, status, users


def configure(wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    reset_app()
    current_app().clock = wxemu.emulator.clock.now  # the one clock of the test


def quiet_now(wxemu: RunningServer) -> str:
    """Quiet hours from an hour ago to an hour from now (in Asia/Shanghai, wxemu's time)."""
    now = datetime.fromtimestamp(wxemu.emulator.clock.now(), timezone.utc)
    local = now.astimezone(ZoneInfo("Asia/Shanghai"))
    start, end = local - timedelta(hours=1), local + timedelta(hours=1)
    return f"{start:%H:%M}-{end:%H:%M}"


def campaign(invoke: Invoke, recipients: List[str]) -> str:
    created = invoke(
        "broadcast", {"template_id": demo.TEMPLATE_ID, "data": DATA, "recipients": recipients}
    )
    assert created["errcode"] == 0, created
    bid: str = created["broadcast_id"]
    return bid


def work(invoke: Invoke) -> Dict[str, Any]:
    worked: Dict[str, Any] = invoke("broadcast", {"action": "work"})["worked"]
    return worked


def test_quiet_hours_defer_a_campaign_until_they_end(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(wxemu, monkeypatch, WXAPUSH_QUIET_HOURS=quiet_now(wxemu))
    bid = campaign(invoke, users(wxemu, 3))
    assert work(invoke) == {"deferred": 3}
    report = status(invoke, bid)
    assert report["counts"]["deferred"] == 3 and report["status"] == "running"
    assert wxemu.messages(demo.APPID) == []
    wxemu.advance(1800)  # still quiet
    assert work(invoke) == {}
    wxemu.advance(3600 + 120)  # past the end of the quiet hours
    assert work(invoke) == {"sent": 3}
    report = status(invoke, bid)
    assert report["status"] == "done"
    assert (report["counts"]["deferred"], report["counts"]["sent"]) == (0, 3)
    assert len(wxemu.messages(demo.APPID)) == 3


def test_the_daily_cap_skips_capped_users_until_the_next_day(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wxemu.advance_to("12:00")  # a day's cap, far from the day's end
    configure(wxemu, monkeypatch, WXAPUSH_USER_CAP="1/day")
    u1, u2, u3 = users(wxemu, 3)
    for openid in (u1, u2, u3):
        wxemu.emulator.grant(demo.APPID, openid, demo.TEMPLATE_ID, 2)
    first = campaign(invoke, [u1, u2])
    assert work(invoke) == {"sent": 2}
    second = campaign(invoke, [u1, u3])
    assert work(invoke) == {"sent": 1, "capped": 1}
    report = status(invoke, second)
    assert (report["counts"]["capped"], report["counts"]["sent"]) == (1, 1)
    assert report["status"] == "done" and status(invoke, first)["status"] == "done"
    [capped] = [r for r in log_records(touser=u1) if r.status == "rejected"]
    assert (capped.errcode, capped.broadcast_id) == (990430, second)
    wxemu.advance(86400)
    campaign(invoke, [u1])
    assert work(invoke) == {"sent": 1}
    assert sorted(m["touser"] for m in wxemu.messages(demo.APPID, u1)) == [u1, u1]


def test_single_sends_are_free_under_the_default_scope(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(wxemu, monkeypatch, WXAPUSH_QUIET_HOURS=quiet_now(wxemu), WXAPUSH_USER_CAP="1/day")
    wxemu.grant(demo.APPID, demo.OPENID, demo.TEMPLATE_ID, 2)
    assert invoke("send", send_event())["errcode"] == 0
    assert invoke("send", send_event())["errcode"] == 0


def test_scope_all_refuses_single_sends_unless_urgent(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(wxemu, monkeypatch, WXAPUSH_QUIET_HOURS=quiet_now(wxemu), WXAPUSH_RESPECT_SCOPE="all")
    wxemu.grant(demo.APPID, demo.OPENID, demo.TEMPLATE_ID, 2)
    quiet = invoke("send", send_event(idempotency_key="k1"))
    assert_error(quiet, "quiet_hours", 990431)
    assert quiet["retryable"] is True and 3500 < quiet["retry_after"] <= 3600
    assert wxemu.messages(demo.APPID) == []
    urgent = invoke("send", send_event(idempotency_key="k1", urgent=True))
    assert urgent["errcode"] == 0, urgent
    mine = invoke("send", send_event(urgent=True), openid=demo.OPENID)
    assert_error(mine, "forbidden", 990403)
    assert_error(invoke("send", send_event(urgent="yes")), "invalid_request", 990400)


def test_scope_all_caps_a_user_calling_send_repeatedly(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wxemu.advance_to("12:00")  # a day's cap, far from the day's end
    configure(wxemu, monkeypatch, WXAPUSH_USER_CAP="2/day", WXAPUSH_RESPECT_SCOPE="all")
    [user] = users(wxemu, 1, granted=False)
    # a refusal by WeChat sends nothing and takes nothing from the cap
    assert_error(invoke("send", send_event(touser=user), openid=user), "not_subscribed", 43101)
    wxemu.grant(demo.APPID, user, demo.TEMPLATE_ID, 5)
    results = [invoke("send", send_event(touser=user), openid=user) for _ in range(3)]
    assert [r["errcode"] for r in results] == [0, 0, 990430]
    assert_error(results[2], "capped", 990430)
    assert results[2]["retryable"] is True and 0 < results[2]["retry_after"] <= 86400
    assert len(wxemu.messages(demo.APPID, user)) == 2
    wxemu.advance(86400)
    assert invoke("send", send_event(touser=user), openid=user)["errcode"] == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WXAPUSH_USER_CAP", "3/week"),
        ("WXAPUSH_USER_CAP", "0/day"),
        ("WXAPUSH_QUIET_HOURS", "22:00"),
        ("WXAPUSH_QUIET_HOURS", "25:00-08:00"),
        ("WXAPUSH_QUIET_HOURS", "08:00-08:00"),
        ("WXAPUSH_RESPECT_SCOPE", "some"),
        ("WXAPUSH_BROADCAST_LEASE", "0"),
    ],
)
def test_a_malformed_setting_is_misconfigured_naming_it(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    reset_settings()
    reset_app()
    result = invoke("broadcast", {"action": "work"})
    assert_error(result, "misconfigured", 990501)
    assert result["setting"] == name
