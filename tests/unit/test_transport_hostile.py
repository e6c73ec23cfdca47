"""A hostile upstream cannot hold or flood an instance: wxemu's ``hostile`` faults, over HTTP.

The whole exchange ends by the deadline, however the answer trickles in; an answer larger than
the limit is refused while it is read. Each failure is classified by what it proves: after the
request was written, a send's outcome is unknown (990504, not retryable) and an idempotent call
is tried again; before it (a TLS handshake that never ends) nothing was sent (retryable).
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from tests.unit.loopback import Authority, Origin, Proxy, Trickle, make_authority
from tests.unit.test_transport import SEND, attempts, send
from wxapush.errors import OutcomeUnknown, UpstreamError
from wxapush.wechat.client import RetryPolicy, Transport
from wxemu import demo
from wxemu.testing import RunningServer

#: Per-read timeouts far longer than the trickle's pauses: only a deadline on the whole ends it.
PATIENT = RetryPolicy(attempts=3, base_delay=0.0, read_timeout=5.0, reserve=0.0)
#: The invocation's time left when the call is made.
BUDGET = 1.5

SLOW = ["trickle", "endless_chunks"]
LARGE = ["oversize", "flood", "huge_chunk"]
BROKEN = ["garbage", "short_body", "long_body"]


@pytest.mark.parametrize("kind", SLOW + LARGE + BROKEN)
def test_a_hostile_answer_to_a_send_is_an_unknown_outcome_never_retried(
    wxemu: RunningServer, kind: str
) -> None:
    wxemu.fault(SEND, hostile=kind, interval_ms=50, times=3)
    with pytest.raises(OutcomeUnknown) as caught:
        send(Transport(wxemu.base_url, policy=PATIENT), wxemu, budget=BUDGET)
    error = caught.value
    assert (error.slug, error.errcode, error.retryable) == ("upstream_error", 990504, False)
    assert attempts(wxemu, 3) == 1
    assert len(wxemu.messages(demo.APPID)) == 1  # carried out: that is why it is unknown


@pytest.mark.parametrize("kind", SLOW + LARGE)
def test_a_hostile_answer_to_an_idempotent_call_is_retried_then_retryable(
    wxemu: RunningServer, kind: str
) -> None:
    wxemu.fault(SEND, hostile=kind, interval_ms=50, times=3)
    with pytest.raises(UpstreamError) as caught:
        send(Transport(wxemu.base_url, policy=PATIENT), wxemu, idempotent=True, budget=BUDGET)
    error = caught.value
    assert not isinstance(error, OutcomeUnknown)
    assert (error.slug, error.retryable) == ("upstream_error", True)
    assert error.errcode == (990504 if kind in SLOW else 990502)


def test_an_answer_after_a_hostile_one_is_read_on_a_new_connection(wxemu: RunningServer) -> None:
    transport = Transport(wxemu.base_url, policy=PATIENT)
    wxemu.fault(SEND, hostile="long_body", times=1)
    with pytest.raises(OutcomeUnknown):
        send(transport, wxemu, budget=BUDGET)
    assert send(transport, wxemu, budget=BUDGET)["errcode"] == 0


def test_an_oversized_answer_is_refused_before_it_is_held(wxemu: RunningServer) -> None:
    # 256 MiB offered; the answer is given up at the limit (1 MiB), whatever its framing.
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for kind in LARGE:
        wxemu.fault(SEND, hostile=kind, times=1)
        with pytest.raises(OutcomeUnknown):
            send(Transport(wxemu.base_url, policy=PATIENT), wxemu, budget=BUDGET)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 64 * 1024


def test_a_tls_handshake_that_never_ends_is_never_sent_and_retryable(tmp_path: Path) -> None:
    authority: Authority = make_authority(tmp_path)
    origin = Origin(tls=authority.server)
    relay = Trickle(("127.0.0.1", origin.port), interval=0.05)
    try:
        env = {"REQUESTS_CA_BUNDLE": str(authority.ca_file)}
        policy = RetryPolicy(attempts=2, base_delay=0.0, connect_timeout=0.5, reserve=0.0)
        transport = Transport(f"https://localhost:{relay.port}", policy=policy, env=env)
        with pytest.raises(UpstreamError) as caught:
            transport.request(
                "POST", SEND, deadline=time.monotonic() + 10, json={}, idempotent=False
            )
        error = caught.value
        assert not isinstance(error, OutcomeUnknown)
        assert (error.slug, error.errcode, error.retryable) == ("upstream_error", 990504, True)
        assert origin.seen == []  # no request reached the origin
    finally:
        relay.stop()
        origin.stop()


def test_a_proxy_trickling_its_connect_answer_is_cut_off_by_the_connect_deadline(
    tmp_path: Path,
) -> None:
    authority = make_authority(tmp_path)
    origin = Origin(tls=authority.server)
    proxy = Proxy()
    relay = Trickle(("127.0.0.1", proxy.server_address[1]), interval=0.05)
    try:
        env = {
            "REQUESTS_CA_BUNDLE": str(authority.ca_file),
            "HTTPS_PROXY": f"http://127.0.0.1:{relay.port}",
        }
        policy = RetryPolicy(attempts=2, base_delay=0.0, connect_timeout=0.5, reserve=0.0)
        transport = Transport(origin.url("https", "localhost"), policy=policy, env=env)
        with pytest.raises(UpstreamError) as caught:
            transport.request(
                "POST", SEND, deadline=time.monotonic() + 10, json={}, idempotent=False
            )
        error = caught.value
        assert not isinstance(error, OutcomeUnknown)
        assert (error.slug, error.errcode, error.retryable) == ("upstream_error", 990504, True)
        assert origin.seen == []
        for _ in range(200):  # the relay notices each hang-up at its next byte
            if len(relay.passed) == 2:
                break
            time.sleep(0.05)
        # Each attempt gave up inside the proxy's 39-byte answer, before any TLS byte.
        established = len(b"HTTP/1.1 200 Connection established\r\n\r\n")
        assert len(relay.passed) == 2 and max(relay.passed) < established
    finally:
        relay.stop()
        proxy.stop()
        origin.stop()
