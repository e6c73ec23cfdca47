"""Across midnight on purpose: every day boundary the product keeps, a second either side of it.

Each test chooses where its clock starts (``time_machine`` moves ``time.time`` for the layer and
wxemu together) and runs under a machine zone far west and far east of Shanghai, so a "today"
taken from the machine's zone, or a day that ends at the machine's midnight, fails here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
import time_machine

from wxapush.app import reset_app
from wxapush.cli import main
from wxapush.config import reset_settings
from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import Invoke, send_event
from .test_dashboard import call, envelope, session_cookie, sign_in

#: A second before midnight in Shanghai (WXAPUSH_TZ's default and WeChat's day), at the end of a
#: month. In the past, so that no test leaves the process's state ahead of the suite's clock.
BEFORE = "2026-03-31T23:59:59+08:00"
SEND = "/cgi-bin/message/subscribe/send"


@pytest.fixture(params=["Etc/GMT+12", "Etc/GMT-14"], autouse=True)
def machine_zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The process's zone: at Shanghai's midnight it is noon of the day before in Etc/GMT+12
    and 02:00 of the same day in Etc/GMT-14."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


@contextmanager
def clock_at(iso: str) -> Iterator[Any]:
    """Run from ``iso`` on (the clock ticks); ``.shift(seconds)`` moves it forward."""
    with time_machine.travel(datetime.fromisoformat(iso), tick=True) as traveller:
        yield traveller


def settings(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    reset_app()


def test_the_user_cap_counts_a_new_day_at_midnight_in_wxapush_tz(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings(monkeypatch, WXAPUSH_USER_CAP="1/day", WXAPUSH_RESPECT_SCOPE="all")
    with clock_at("2026-03-31T23:59:58+08:00") as clock:
        assert invoke("send", send_event())["errcode"] == 0
        capped = invoke("send", send_event())
        assert (capped["error"], capped["errcode"]) == ("capped", 990430)
        assert 0 < capped["retry_after"] <= 2.5  # the day ends in two seconds
        clock.shift(3)  # 00:00:01 on April 1st: a new day, a new count
        assert invoke("send", send_event())["errcode"] == 0
        again = invoke("send", send_event())
        assert (again["error"], again["errcode"]) == ("capped", 990430)
        assert 86_390 < again["retry_after"] <= 86_400


def test_quiet_hours_across_midnight_end_the_next_morning(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings(monkeypatch, WXAPUSH_QUIET_HOURS="22:00-08:00", WXAPUSH_RESPECT_SCOPE="all")
    with clock_at(BEFORE) as clock:
        quiet = invoke("send", send_event())
        assert (quiet["error"], quiet["errcode"]) == ("quiet_hours", 990431)
        assert 8 * 3600 < quiet["retry_after"] <= 8 * 3600 + 1
        clock.shift(2)  # 00:00:01: still the same night
        quiet = invoke("send", send_event())
        assert (quiet["error"], quiet["errcode"]) == ("quiet_hours", 990431)
        assert 8 * 3600 - 2 < quiet["retry_after"] <= 8 * 3600
        clock.shift(8 * 3600)  # 08:00:01: morning
        assert invoke("send", send_event())["errcode"] == 0
    assert len(wxemu.messages(demo.APPID)) == 1


def sent_on_both_sides(invoke: Invoke, clock: Any) -> tuple[int, int]:
    """One message at 23:59:59 on the 7th and one at 00:00:01 on April 1st (Shanghai)."""
    first = invoke("send", send_event())
    clock.shift(2)
    second = invoke("send", send_event())
    assert first["errcode"] == second["errcode"] == 0
    return first["msgid"], second["msgid"]


def msgids(answer: dict[str, Any]) -> list[int]:
    assert answer["errcode"] == 0, answer
    return [record["msgid"] for record in answer["list"]]


def test_send_log_days_are_wxapush_tz_days(invoke: Invoke) -> None:
    with clock_at(BEFORE) as clock:
        first, second = sent_on_both_sides(invoke, clock)
        day = {"begin_date": "2026-03-31", "end_date": "2026-03-31"}
        assert msgids(invoke("send_log", day)) == [first]
        day = {"begin_date": "2026-04-01", "end_date": "2026-04-01"}
        assert msgids(invoke("send_log", day)) == [second]


def test_log_shows_today_in_wxapush_tz(invoke: Invoke, capsys: pytest.CaptureFixture[str]) -> None:
    """`wxapush log` with no day: today in Shanghai, which began a second ago."""
    with clock_at(BEFORE) as clock:
        _, second = sent_on_both_sides(invoke, clock)
        capsys.readouterr()
        assert main(["log", "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert [record["msgid"] for record in shown["list"]] == [second]


def test_the_dashboards_default_week_ends_today_in_wxapush_tz(invoke: Invoke) -> None:
    with clock_at(BEFORE) as clock:
        sent_on_both_sides(invoke, clock)
        cookie = session_cookie(sign_in())
        summary = envelope(call("GET", "/dashboard/api/summary", cookie=cookie))
    assert [day["date"] for day in summary["days"]][-2:] == ["2026-03-31", "2026-04-01"]
    assert summary["days"][0]["date"] == "2026-03-26"
    assert [day["counts"] for day in summary["days"][-2:]] == [{"sent": 1}, {"sent": 1}]


def test_wechats_daily_quota_restarts_at_beijing_midnight_whatever_wxapush_tz(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WeChat's day is Beijing's even for an app whose own day is New York's."""
    settings(monkeypatch, WXAPUSH_TZ="America/New_York")
    wxemu.set_daily_limit(demo.APPID, SEND, 1)
    with clock_at(BEFORE) as clock:
        assert invoke("send", send_event())["errcode"] == 0
        spent = invoke("send", send_event())
        assert spent["errcode"] == 45009 and spent["retryable"] is False
        clock.shift(2)  # 00:00:01 in Beijing (11:00:01 in New York, the same day there)
        assert invoke("send", send_event())["errcode"] == 0
    assert len(wxemu.messages(demo.APPID)) == 2
