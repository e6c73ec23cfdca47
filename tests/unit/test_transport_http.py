"""The Transport's HTTP over the standard library: keep-alive, stale connections, the request's
bytes, TLS verification and proxies — against real loopback peers (tests/unit/loopback.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.loopback import Authority, Origin, Proxy, make_authority
from wxapush.errors import Misconfigured, OutcomeUnknown, UpstreamError
from wxapush.wechat.client import RetryPolicy, Transport

SEND = "/cgi-bin/message/subscribe/send"
QUICK = RetryPolicy(attempts=3, base_delay=0.0, connect_timeout=2.0, read_timeout=2.0, reserve=0.0)
#: No proxy, no CA bundle: what a function sees when nothing is configured.
BARE: dict[str, str] = {}


def send(transport: Transport, **params: str) -> dict[str, Any]:
    body = {"touser": "o-user", "data": {"thing1": {"value": "手机保护壳"}}}
    return transport.request(
        "POST", SEND, deadline=time.monotonic() + 10, params=params, json=body, idempotent=False
    )


@pytest.fixture
def origin() -> Iterator[Origin]:
    server = Origin()
    yield server
    server.stop()


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    server = Proxy()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return make_authority(tmp_path_factory.mktemp("ca"))


def test_one_connection_carries_every_request_until_closed(origin: Origin) -> None:
    transport = Transport(origin.url(), policy=QUICK, env=BARE)
    for _ in range(3):
        assert send(transport)["errcode"] == 0
    assert (origin.connections, len(origin.seen)) == (1, 3)
    transport.close()
    assert origin.closed.acquire(timeout=10)  # close() hung up: the origin saw the end
    assert send(transport)["errcode"] == 0
    assert origin.connections == 2


def test_a_connection_the_origin_closed_while_idle_is_replaced_before_a_send() -> None:
    origin = Origin(close_when_idle=True)
    try:
        transport = Transport(origin.url(), policy=QUICK, env=BARE)
        assert send(transport)["errcode"] == 0
        assert origin.closed.acquire(timeout=10)  # the kept connection is now dead
        # Written on the dead connection, this send would be lost after sending: an unknown
        # outcome. Found dead before writing, it goes out on a new connection.
        assert send(transport)["errcode"] == 0
        assert (origin.connections, len(origin.seen)) == (2, 2)
    finally:
        origin.stop()


def test_the_request_is_compact_utf8_json_with_an_encoded_query(origin: Origin) -> None:
    transport = Transport(origin.url() + "/base/", policy=QUICK, env=BARE)
    send(transport, access_token="a b&c=d/é")
    [seen] = origin.seen
    assert seen.line == f"POST /base{SEND}?access_token=a+b%26c%3Dd%2F%C3%A9 HTTP/1.1"
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["host"] == f"127.0.0.1:{origin.port}"
    expected = {"touser": "o-user", "data": {"thing1": {"value": "手机保护壳"}}}
    assert seen.body == json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode()


def test_https_verifies_the_certificate_against_the_configured_bundle(
    authority: Authority, tmp_path: Path
) -> None:
    origin = Origin(tls=authority.server)
    try:
        env = {"REQUESTS_CA_BUNDLE": str(authority.ca_file)}
        trusted = Transport(origin.url("https", "localhost"), policy=QUICK, env=env)
        assert send(trusted)["errcode"] == 0
        # The default trust (certifi, else the system's) does not know this CA: the handshake
        # fails before the request is written, so a send may be retried and ends retryable.
        untrusted = Transport(origin.url("https", "localhost"), policy=QUICK, env=BARE)
        with pytest.raises(UpstreamError) as caught:
            send(untrusted)
        error = caught.value
        assert not isinstance(error, OutcomeUnknown)
        assert (error.slug, error.errcode, error.retryable) == ("upstream_error", 990502, True)
        assert len(origin.seen) == 1
    finally:
        origin.stop()


def test_https_goes_through_a_connect_tunnel(authority: Authority, proxy: Proxy) -> None:
    origin = Origin(tls=authority.server)
    try:
        env = {"HTTPS_PROXY": proxy.url, "REQUESTS_CA_BUNDLE": str(authority.ca_file)}
        transport = Transport(origin.url("https", "localhost"), policy=QUICK, env=env)
        assert send(transport, access_token="t0ken")["errcode"] == 0
        assert send(transport)["errcode"] == 0  # the tunnel is kept alive too
        [tunnel] = proxy.seen  # HTTP/1.0 or 1.1 by Python version
        assert tunnel.line.startswith(f"CONNECT localhost:{origin.port} HTTP/1.")
        assert origin.seen[0].line == f"POST {SEND}?access_token=t0ken HTTP/1.1"
        assert origin.seen[0].headers["host"] == f"localhost:{origin.port}"
    finally:
        origin.stop()


def test_http_goes_to_the_proxy_in_absolute_form_with_its_credentials(
    origin: Origin, proxy: Proxy
) -> None:
    env = {"http_proxy": proxy.url.replace("http://", "http://us%40er:p%3Ass@")}
    transport = Transport(origin.url(), policy=QUICK, env=env)
    assert send(transport, access_token="t0ken")["errcode"] == 0
    [seen] = proxy.seen
    assert seen.line == f"POST {origin.url()}{SEND}?access_token=t0ken HTTP/1.1"
    assert seen.headers["proxy-authorization"] == "Basic dXNAZXI6cDpzcw=="  # us@er:p:ss
    assert len(origin.seen) == 1


@pytest.mark.parametrize(
    ("host", "no_proxy"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1", "*"),
        ("127.0.0.1", "example.com, 127.0.0.0/8"),
        ("localhost", ".localhost"),  # a domain and its subdomains
        ("localhost", "LOCALHOST:{port}"),
    ],
)
def test_no_proxy_goes_direct(origin: Origin, proxy: Proxy, host: str, no_proxy: str) -> None:
    env = {"HTTP_PROXY": proxy.url, "NO_PROXY": no_proxy.format(port=origin.port)}
    assert send(Transport(origin.url(host=host), policy=QUICK, env=env))["errcode"] == 0
    assert proxy.seen == [] and len(origin.seen) == 1


def test_no_proxy_for_another_host_or_port_still_proxies(origin: Origin, proxy: Proxy) -> None:
    env = {"HTTP_PROXY": proxy.url, "NO_PROXY": f"example.com,127.0.0.1:{origin.port + 1}"}
    assert send(Transport(origin.url(), policy=QUICK, env=env))["errcode"] == 0
    assert len(proxy.seen) == 1


def test_a_proxy_that_cannot_connect_means_nothing_was_sent(origin: Origin) -> None:
    from tests.unit.test_cold_imports import closed_port

    env = {"HTTPS_PROXY": f"http://127.0.0.1:{closed_port()}"}
    transport = Transport(origin.url("https", "localhost"), policy=QUICK, env=env)
    with pytest.raises(UpstreamError) as caught:
        send(transport)
    assert not isinstance(caught.value, OutcomeUnknown)
    assert (caught.value.errcode, caught.value.retryable) == (990502, True)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"HTTPS_PROXY": "socks5://127.0.0.1:1080"}, "HTTPS_PROXY"),
        ({"https_proxy": "http://127.0.0.1:notaport"}, "https_proxy"),
        ({"ALL_PROXY": "https://user:hunter2@proxy.example:3128"}, "ALL_PROXY"),
        ({"HTTPS_PROXY": "http://user:hunter2@[::1"}, "HTTPS_PROXY"),
    ],
)
def test_an_unusable_proxy_is_misconfigured_naming_the_variable(
    env: dict[str, str], variable: str
) -> None:
    transport = Transport("https://api.weixin.qq.com", env=env)  # read at the first request
    with pytest.raises(Misconfigured) as caught:
        send(transport)
    error = caught.value
    assert (error.slug, error.errcode) == ("misconfigured", 990501)
    assert error.errmsg.startswith(variable + ":") and "hunter2" not in error.errmsg


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_an_unreadable_ca_bundle_is_misconfigured_before_anything_is_sent(
    variable: str, tmp_path: Path
) -> None:
    garbage = tmp_path / "not-a-bundle.pem"
    garbage.write_text("not a certificate\n")
    for bundle in (str(tmp_path / "missing.pem"), str(garbage)):
        transport = Transport("https://127.0.0.1:9", env={variable: bundle}, policy=QUICK)
        with pytest.raises(Misconfigured) as caught:
            send(transport)
        error = caught.value
        assert (error.slug, error.errcode, error.retryable) == ("misconfigured", 990501, False)
        assert error.errmsg.startswith(variable + ":") and error.extras["setting"] == variable
