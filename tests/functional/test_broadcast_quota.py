"""A campaign that meets WeChat's spent daily quota (45009) waits for WeChat's next day."""

from __future__ import annotations

import pytest

from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import Invoke
from .test_broadcast_respect import campaign, configure, status, users, work

SEND = "/cgi-bin/message/subscribe/send"


def test_a_spent_quota_defers_the_campaign_to_wechats_midnight(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(wxemu, monkeypatch, WXAPUSH_TZ="America/New_York")  # WeChat's day is Beijing's
    wxemu.advance_to("20:00")  # four hours before Beijing's midnight
    wxemu.set_daily_limit(demo.APPID, SEND, 1)
    bid = campaign(invoke, users(wxemu, 4))
    assert work(invoke) == {"sent": 1, "deferred": 3}  # the rest of the batch waits untried
    report = status(invoke, bid)
    assert report["status"] == "running" and report["counts"]["deferred"] == 3
    # Not retried hourly (using up attempts on a day that is spent): nothing is due before
    # WeChat's midnight.
    wxemu.advance(4 * 3600 - 60)  # 23:59
    assert work(invoke) == {}
    wxemu.advance(65)  # 00:00:05 in Beijing: a new day, a new quota
    wxemu.set_daily_limit(demo.APPID, SEND, 100)
    assert work(invoke) == {"sent": 3}
    report = status(invoke, bid)
    assert report["status"] == "done" and report["counts"]["sent"] == 4
    assert report["counts"].get("failed", 0) == 0
