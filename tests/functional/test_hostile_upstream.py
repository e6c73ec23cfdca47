"""The functions against a hostile WeChat (wxemu's ``hostile`` faults): each call ends by the
invocation's time limit however the answer trickles or floods, and says what it proves."""

from __future__ import annotations

import pytest

from tests.functional.conftest import Invoke, context, handler, send_event
from tests.unit.loopback import Origin
from wxapush.app import reset_app
from wxapush.config import reset_settings
from wxemu import demo
from wxemu.testing import RunningServer

SEND = "/cgi-bin/message/subscribe/send"
TOKEN = "/cgi-bin/stable_token"


@pytest.mark.parametrize("kind", ["trickle", "endless_chunks", "oversize", "garbage"])
def test_get_token_against_a_hostile_upstream_is_retryable(
    invoke: Invoke, wxemu: RunningServer, kind: str
) -> None:
    wxemu.fault(TOKEN, hostile=kind, interval_ms=50, times=5)
    result = invoke("get_token", {}, time_limit_ms=2000)
    assert (result["error"], result["retryable"]) == ("upstream_error", True)
    assert result["errcode"] in (990502, 990504)


@pytest.mark.parametrize("kind", ["trickle", "endless_chunks", "oversize", "garbage"])
def test_send_against_a_hostile_upstream_is_an_unknown_outcome(
    invoke: Invoke, wxemu: RunningServer, kind: str
) -> None:
    assert invoke("get_token", {})["errcode"] == 0  # the token is cached: only the send is hit
    wxemu.fault(SEND, hostile=kind, interval_ms=50, times=5)
    result = invoke("send", send_event(), time_limit_ms=2000)
    assert (result["error"], result["errcode"], result["retryable"]) == (
        "upstream_error",
        990504,
        False,
    )
    assert len(wxemu.messages(demo.APPID)) == 1


@pytest.mark.parametrize("expires_in", ["9" * 400, "-100"])
@pytest.mark.parametrize("function", ["get_token", "send"])
def test_an_implausible_token_answer_is_a_retryable_upstream_error(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, expires_in: str, function: str
) -> None:
    origin = Origin(answer=f'{{"access_token":"T","expires_in":{expires_in}}}'.encode())
    try:
        monkeypatch.setenv("WXAPUSH_API_BASE", origin.url())
        reset_settings()
        reset_app()
        result = handler(function)(send_event() if function == "send" else {}, context())
        assert (result["error"], result["errcode"], result["retryable"]) == (
            "upstream_error",
            990502,
            True,
        )
        # the token endpoint only: a send was never attempted with a token that bad
        assert {seen.line.split()[1].split("?")[0] for seen in origin.seen} == {TOKEN}
    finally:
        origin.stop()
