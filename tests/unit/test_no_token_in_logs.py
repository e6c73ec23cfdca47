"""The access token and the AppSecret never reach a log line or an error text, at DEBUG too."""

from __future__ import annotations

import logging
import time

import pytest

from tests.unit.test_cold_imports import closed_port
from tests.unit.test_transport import QUICK, HangUp
from wxapush.errors import UpstreamError
from wxapush.wechat.client import Transport
from wxemu import demo
from wxemu.testing import running_server


def test_request_logs_and_errors_carry_no_credentials(caplog: pytest.LogCaptureFixture) -> None:
    token_query = {"grant_type": "client_credential", "appid": demo.APPID, "secret": demo.SECRET}
    errors = []
    with running_server() as wx:
        token = wx.token()  # (by the test plumbing, before logs are looked at)
        caplog.set_level(logging.DEBUG)  # every logger, the standard library's included
        transport = Transport(wx.base_url)
        deadline = time.monotonic() + 5
        transport.request("GET", "/cgi-bin/token", deadline=deadline, params=token_query)
        transport.request(
            "GET",
            "/wxaapi/newtmpl/gettemplate",
            deadline=time.monotonic() + 5,
            params={"access_token": token},
        )
    hang_up = HangUp()
    try:  # failures: refused, lost after sending
        for base in (f"http://127.0.0.1:{closed_port()}", hang_up.base_url):
            with pytest.raises(UpstreamError) as caught:
                Transport(base, policy=QUICK).request(
                    "POST",
                    "/cgi-bin/message/subscribe/send",
                    deadline=time.monotonic() + 5,
                    params={"access_token": token},
                    json={"touser": demo.OPENID},
                    idempotent=False,
                )
            errors.append(str(caught.value) + repr(caught.value))
    finally:
        hang_up.close()
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "wechat GET /cgi-bin/token: HTTP 200" in text  # the requests were logged…
    assert "could not connect" in text
    for secret in (token, demo.SECRET):  # …without the credentials
        assert secret not in text
        assert not [e for e in errors if secret in e]
