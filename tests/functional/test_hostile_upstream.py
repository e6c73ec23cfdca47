"""The functions against a hostile WeChat (wxemu's ``hostile`` faults): each call ends by the
invocation's time limit however the answer trickles or floods, and says what it proves."""

from __future__ import annotations

import pytest

from tests.functional.conftest import Invoke, send_event
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
