"""The Transport's retry rules, over real HTTP: wxemu's faults, a closed port, a peer that hangs up.

A send (``idempotent=False``) is retried only while nothing can have been done; once WeChat may
have acted on it, the outcome is unknown and it is not retried. Attempts are counted by the
faults they consumed (or the connections a peer accepted), never by timings.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.test_cold_imports import closed_port
from wxapush.errors import NoTimeLeft, OutcomeUnknown, UpstreamError
from wxapush.wechat.client import RetryPolicy, Transport
from wxemu import demo
from wxemu.testing import RunningServer

SEND = "/cgi-bin/message/subscribe/send"
#: Retries without waiting, so that only the attempt cap or the deadline ends them.
QUICK = RetryPolicy(attempts=3, base_delay=0.0, read_timeout=0.3, reserve=0.0)


def send(
    transport: Transport, server: RunningServer, *, idempotent: bool = False, budget: float = 10.0
) -> dict[str, Any]:
    """One subscribe message to the demo user, with a fresh token."""
    body = {
        "touser": demo.OPENID,
        "template_id": demo.TEMPLATE_ID,
        "data": {
            "thing1": {"value": "手机保护壳"},
            "character_string2": {"value": "SF1234567890"},
            "date3": {"value": "2026-11-27 10:30"},
            "amount6": {"value": "¥128.00"},
        },
    }
    params = {"access_token": server.token()}
    deadline = time.monotonic() + budget
    return transport.request(
        "POST", SEND, deadline=deadline, params=params, json=body, idempotent=idempotent
    )


def attempts(server: RunningServer, queued: int) -> int:
    """How many calls reached wxemu: the faults they consumed out of ``queued``."""
    left = sum(fault.times for fault in server.emulator.faults.get(SEND, ()))
    return queued - left


def test_a_read_timeout_on_a_send_is_an_unknown_outcome_not_retried(wxemu: RunningServer) -> None:
    wxemu.fault(SEND, errcode=-1, delay_ms=1000, times=3)
    with pytest.raises(OutcomeUnknown) as caught:
        send(Transport(wxemu.base_url, policy=QUICK), wxemu)
    error = caught.value
    assert (error.slug, error.errcode, error.retryable) == ("upstream_error", 990504, False)
    assert attempts(wxemu, 3) == 1


def test_a_read_timeout_on_an_idempotent_call_is_retried(wxemu: RunningServer) -> None:
    wxemu.fault(SEND, errcode=-1, delay_ms=1000, times=3)
    with pytest.raises(UpstreamError) as caught:
        send(Transport(wxemu.base_url, policy=QUICK), wxemu, idempotent=True)
    error = caught.value
    assert not isinstance(error, OutcomeUnknown)
    assert (error.slug, error.errcode, error.retryable) == ("upstream_error", 990504, True)
    assert attempts(wxemu, 3) == 3


@pytest.mark.parametrize(
    "fault",
    [{"errcode": -1}, {"errcode": 45011}, {"status": 500}, {"status": 502}, {"status": 503}],
)
def test_answers_that_prove_nothing_was_done_are_retried_for_a_send(
    wxemu: RunningServer, fault: dict[str, int]
) -> None:
    wxemu.fault(SEND, times=2, **fault)
    answer = send(Transport(wxemu.base_url, policy=QUICK), wxemu)
    assert answer["errcode"] == 0 and isinstance(answer["msgid"], int)
    assert attempts(wxemu, 2) == 2
    assert len(wxemu.messages(demo.APPID)) == 1


@pytest.mark.parametrize("status", [504, 200])  # a gateway timeout; a 200 that is not WeChat's
def test_an_answer_that_proves_nothing_is_an_unknown_outcome_for_a_send(
    wxemu: RunningServer, status: int
) -> None:
    wxemu.fault(SEND, status=status, times=3)
    with pytest.raises(OutcomeUnknown) as caught:
        send(Transport(wxemu.base_url, policy=QUICK), wxemu)
    assert (caught.value.errcode, caught.value.retryable) == (990504, False)
    assert attempts(wxemu, 3) == 1


def test_a_gateway_timeout_is_retried_for_an_idempotent_call(wxemu: RunningServer) -> None:
    wxemu.fault(SEND, status=504, times=1)
    answer = send(Transport(wxemu.base_url, policy=QUICK), wxemu, idempotent=True)
    assert answer["errcode"] == 0
    assert attempts(wxemu, 1) == 1 and len(wxemu.messages(demo.APPID)) == 1


def test_connection_refused_is_retried_and_ends_retryable(caplog: pytest.LogCaptureFixture) -> None:
    transport = Transport(f"http://127.0.0.1:{closed_port()}", policy=QUICK)
    logs = caplog.at_level("INFO", logger="wxapush.wechat.client")
    with logs, pytest.raises(UpstreamError) as caught:
        transport.request("POST", SEND, deadline=time.monotonic() + 10, json={}, idempotent=False)
    error = caught.value
    assert not isinstance(error, OutcomeUnknown)
    assert (error.slug, error.errcode, error.retryable) == ("upstream_error", 990502, True)
    tries = [f"wechat POST {SEND}: could not connect (attempt {n})" for n in (1, 2, 3)]
    assert [record.getMessage() for record in caplog.records] == tries


def test_an_unresolvable_host_is_never_sent_and_ends_retryable() -> None:
    transport = Transport("http://wxapush-test.invalid", policy=QUICK, env={})
    with pytest.raises(UpstreamError) as caught:
        transport.request("POST", SEND, deadline=time.monotonic() + 10, json={}, idempotent=False)
    error = caught.value
    assert not isinstance(error, OutcomeUnknown)
    assert (error.slug, error.errcode, error.retryable) == ("upstream_error", 990502, True)


def test_a_connect_timeout_is_never_sent_and_ends_retryable_as_a_timeout() -> None:
    # A listener whose accept queue is full: the kernel drops further SYNs, so connecting hangs.
    with socket.create_server(("127.0.0.1", 0), backlog=0) as full:
        queued = [socket.socket() for _ in range(4)]
        for sock in queued:
            sock.setblocking(False)
            sock.connect_ex(full.getsockname())
        policy = RetryPolicy(attempts=2, base_delay=0.0, connect_timeout=0.2, reserve=0.0)
        transport = Transport(f"http://127.0.0.1:{full.getsockname()[1]}", policy=policy, env={})
        try:
            with pytest.raises(UpstreamError) as caught:
                transport.request(
                    "POST", SEND, deadline=time.monotonic() + 10, json={}, idempotent=False
                )
        finally:
            for sock in queued:
                sock.close()
    error = caught.value
    assert not isinstance(error, OutcomeUnknown)
    assert (error.slug, error.errcode, error.retryable) == ("upstream_error", 990504, True)


class HangUp:
    """A peer that reads each request and closes the connection without answering."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            self.accepted += 1
            with conn:
                conn.recv(65536)

    def close(self) -> None:
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def hang_up() -> Iterator[HangUp]:
    peer = HangUp()
    yield peer
    peer.close()


def test_a_connection_lost_after_sending_is_an_unknown_outcome(hang_up: HangUp) -> None:
    transport = Transport(hang_up.base_url, policy=QUICK)
    with pytest.raises(OutcomeUnknown) as caught:
        transport.request("POST", SEND, deadline=time.monotonic() + 10, json={}, idempotent=False)
    assert (caught.value.errcode, caught.value.retryable) == (990504, False)
    assert hang_up.accepted == 1
    with pytest.raises(UpstreamError) as retried:
        transport.request("GET", "/cgi-bin/token", deadline=time.monotonic() + 10)
    assert (retried.value.errcode, retried.value.retryable) == (990502, True)
    assert hang_up.accepted == 1 + 3


def test_retries_stop_at_the_deadline(wxemu: RunningServer) -> None:
    wxemu.fault(SEND, status=503, times=1000)
    # No retry starts with less than min_retry left: a try cut by the deadline after its request
    # was written would be an unknown outcome (990504), not the 503's retryable 990502.
    patient = RetryPolicy(attempts=1000, base_delay=0.01, max_delay=0.01, reserve=0.1)
    with pytest.raises(UpstreamError) as caught:
        send(Transport(wxemu.base_url, policy=patient), wxemu, budget=0.6)
    assert (caught.value.errcode, caught.value.retryable) == (990502, True)
    assert 1 < attempts(wxemu, 1000) < 1000  # several tries, then the deadline, not the cap
    assert wxemu.messages(demo.APPID) == []


def test_no_retry_starts_too_late_to_hear_its_answer(wxemu: RunningServer) -> None:
    """Answers take 150 ms: a retry begun with less left would be cut after its request was
    written (an unknown outcome); none begins with less than ``min_retry`` (0.25 s) left."""
    wxemu.fault(SEND, status=503, times=1000, delay_ms=150)
    patient = RetryPolicy(attempts=1000, base_delay=0.01, max_delay=0.01, reserve=0.1)
    with pytest.raises(UpstreamError) as caught:
        send(Transport(wxemu.base_url, policy=patient), wxemu, budget=1.5)
    assert (caught.value.errcode, caught.value.retryable) == (990502, True)
    assert wxemu.messages(demo.APPID) == []


def test_no_time_left_makes_no_attempt(wxemu: RunningServer) -> None:
    wxemu.fault(SEND, status=503, times=1)
    with pytest.raises(NoTimeLeft) as caught:
        send(Transport(wxemu.base_url), wxemu, budget=0.1)  # less than the policy's reserve
    error = caught.value
    assert (error.slug, error.errcode, error.retryable) == ("upstream_error", 990504, True)
    assert attempts(wxemu, 1) == 0
