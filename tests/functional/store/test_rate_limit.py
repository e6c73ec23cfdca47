"""WXAPUSH_RATE_LIMIT through send's real entry point, on every store, against wxemu."""

from __future__ import annotations

import time

import pytest

from tests.functional.conftest import Invoke, log_records, send_event
from wxapush.app import reset_app
from wxapush.config import reset_settings
from wxemu import demo
from wxemu.testing import RunningServer


@pytest.fixture
def limited(
    invoke: Invoke, env: dict[str, str], store_url: str, monkeypatch: pytest.MonkeyPatch
) -> Invoke:
    """``invoke`` with the store under test and a limit of 2 sends per second."""
    monkeypatch.setenv("WXAPUSH_STORE", store_url)
    monkeypatch.setenv("WXAPUSH_RATE_LIMIT", "2")
    reset_settings()
    reset_app()
    return invoke


def test_a_send_that_cannot_wait_is_rate_limited_and_nothing_is_sent(
    limited: Invoke, wxemu: RunningServer
) -> None:
    assert limited("send", send_event())["errcode"] == 0
    # 1.2 s to live leaves 0.2 s to wait (1 s is kept for the send): the next slot is 0.5 s away
    refused = limited("send", send_event(idempotency_key="k1"), time_limit_ms=1200)
    assert (refused["error"], refused["errcode"], refused["retryable"]) == (
        "rate_limited",
        990429,
        True,
    )
    assert 0.2 < refused["retry_after"] <= 0.5
    assert len(wxemu.messages(demo.APPID)) == 1
    [record] = [r for r in log_records() if r.log_id == refused["log_id"]]
    assert (record.status, record.errcode, record.idempotency_key) == ("rejected", 990429, None)
    # the key was freed: the caller's retry, given time to wait, really sends
    retried = limited("send", send_event(idempotency_key="k1"))
    assert (retried["errcode"], retried["duplicate"]) == (0, False)
    assert len(wxemu.messages(demo.APPID)) == 2


def test_sends_that_can_wait_are_paced(limited: Invoke, wxemu: RunningServer) -> None:
    start = time.monotonic()
    results = [limited("send", send_event()) for _ in range(3)]
    assert [r["errcode"] for r in results] == [0, 0, 0]
    assert len(wxemu.messages(demo.APPID)) == 3
    assert time.monotonic() - start >= 2 * 0.5 - 0.05  # three slots at 2/s span two intervals
