"""One mini-program user cannot spend the app's budget: its own sends are limited per user
(WXAPUSH_USER_RATE_LIMIT, 5 a minute by default), in the shared store, before the app's
WXAPUSH_RATE_LIMIT is touched."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List

import pytest

from tests.functional.conftest import Invoke, send_event
from wxapush.app import reset_app
from wxapush.config import reset_settings
from wxemu import demo
from wxemu.testing import RunningServer

OTHER = "oWxEmu-OtherUser-000000000B2"


def restart(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    reset_app()


def test_a_user_sends_five_a_minute_then_is_rate_limited(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    for _ in range(5):
        assert invoke("send", send_event(), openid=demo.OPENID)["errcode"] == 0
    refused = invoke("send", send_event(idempotency_key="k6"), openid=demo.OPENID)
    assert (refused["error"], refused["errcode"], refused["retryable"]) == (
        "rate_limited",
        990429,
        True,
    )
    assert refused["retry_after"] > 0
    assert len(wxemu.messages(demo.APPID)) == 5  # nothing sent for the refused one
    assert invoke("send", send_event(), openid=None)["errcode"] == 0  # services are not counted


def test_each_user_has_a_bucket_of_its_own(invoke: Invoke, wxemu: RunningServer) -> None:
    wxemu.grant(demo.APPID, OTHER, demo.TEMPLATE_ID, 5)
    for _ in range(5):
        invoke("send", send_event(), openid=demo.OPENID)
    assert invoke("send", send_event(), openid=demo.OPENID)["errcode"] == 990429
    assert invoke("send", send_event(touser=OTHER), openid=OTHER)["errcode"] == 0


def test_the_bucket_is_shared_by_the_fleet(invoke: Invoke) -> None:
    for _ in range(5):
        invoke("send", send_event(), openid=demo.OPENID)
    reset_app()  # another instance: only the shared store knows
    assert invoke("send", send_event(), openid=demo.OPENID)["errcode"] == 990429


def test_four_threads_of_one_user_leave_the_app_s_slots_to_services(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    restart(monkeypatch, WXAPUSH_RATE_LIMIT="5")

    def user_sends(thread: int) -> List[Dict[str, Any]]:
        return [invoke("send", send_event(), openid=demo.OPENID) for _ in range(5)]

    with ThreadPoolExecutor(4) as pool:
        results = [r for rs in pool.map(user_sends, range(4)) for r in rs]
    assert sum(r["errcode"] == 0 for r in results) == 5
    assert {r["errcode"] for r in results} == {0, 990429}
    with ThreadPoolExecutor(5) as pool:
        services = list(pool.map(lambda _: invoke("send", send_event()), range(5)))
    assert [r["errcode"] for r in services] == [0] * 5


@pytest.mark.parametrize(("value", "allowed"), [("off", 8), ("2/minute", 2), ("8/hour", 8)])
def test_the_limit_is_configurable(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, value: str, allowed: int
) -> None:
    restart(monkeypatch, WXAPUSH_USER_RATE_LIMIT=value)
    results = [invoke("send", send_event(), openid=demo.OPENID)["errcode"] for _ in range(8)]
    assert results == [0] * allowed + [990429] * (8 - allowed)


@pytest.mark.parametrize("value", ["5", "0/minute", "5/day", "lots"])
def test_a_malformed_limit_is_misconfigured(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    restart(monkeypatch, WXAPUSH_USER_RATE_LIMIT=value)
    result = invoke("send", send_event(), openid=demo.OPENID)
    assert (result["error"], result["errcode"]) == ("misconfigured", 990501)
    assert "WXAPUSH_USER_RATE_LIMIT" in result["errmsg"]
