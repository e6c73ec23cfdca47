"""The access token and the AppSecret never reach a log line, even urllib3's DEBUG lines."""

from __future__ import annotations

import logging
import time

import pytest

from wxapush.wechat.client import Transport
from wxemu import demo
from wxemu.testing import running_server


def test_urllib3_debug_lines_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    with running_server() as wx:
        token = wx.token()
        transport = Transport(wx.base_url)
        caplog.set_level(logging.DEBUG)
        transport.request(
            "GET",
            "/cgi-bin/token",
            deadline=time.monotonic() + 5,
            params={"grant_type": "client_credential", "appid": demo.APPID, "secret": demo.SECRET},
        )
        transport.request(
            "GET",
            "/wxaapi/newtmpl/gettemplate",
            deadline=time.monotonic() + 5,
            params={"access_token": token},
        )
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "/cgi-bin/token" in text  # urllib3 did log the request lines…
    assert token not in text and demo.SECRET not in text  # …without the credentials
