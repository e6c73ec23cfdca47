"""A real, independent client: wechatpy 1.8.18 against ``wxemu serve``, only the base moved.

wechatpy builds API URLs from ``API_BASE_URL`` (the client's, and ``WeChatWxa``'s own for the
mini-program APIs) but hard-codes ``https://api.weixin.qq.com/cgi-bin/token`` inside
``WeChatClient.fetch_access_token``. So the client below changes those three URLs and nothing
else: the request parameters, result handling, token caching and auto-retry are wechatpy's.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from wechatpy.client import WeChatClient
from wechatpy.client.api import WeChatWxa
from wechatpy.exceptions import APILimitedException, WeChatClientException

from wxemu import demo

from .conftest import RID_RE


def wechatpy_client(base_url: str, appid: str = demo.APPID, secret: str = demo.SECRET) -> Any:
    """A wechatpy WeChatClient whose API lives at ``base_url``."""

    class RelocatedWxa(WeChatWxa):
        API_BASE_URL = f"{base_url}/"

    class RelocatedClient(WeChatClient):
        API_BASE_URL = f"{base_url}/cgi-bin/"
        wxa = RelocatedWxa()

        def fetch_access_token(self) -> Any:
            # wechatpy's own method with its hard-coded host replaced by base_url.
            return self._fetch_access_token(
                url=f"{base_url}/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self.appid,
                    "secret": self.secret,
                },
            )

    return RelocatedClient(appid, secret)


DATA = {
    "thing1": {"value": "手机保护壳"},
    "character_string2": {"value": "SF1234567890"},
    "date3": {"value": "2024-05-20 10:30"},
    "amount6": {"value": "128.00元"},
}


@pytest.fixture
def served(serve_process):
    requests.post(f"{serve_process.base_url}/__wxemu__/reset", timeout=5)
    return serve_process


def messages(base_url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = requests.get(f"{base_url}/__wxemu__/messages", timeout=5).json()[
        "messages"
    ]
    return found


def test_wechatpy_fetches_a_token_and_sends_a_subscribe_message(served):
    client = wechatpy_client(served.base_url)
    token = client.fetch_access_token()
    assert token["expires_in"] == 7200
    result = client.wxa.send_subscribe_message(
        demo.OPENID, demo.TEMPLATE_ID, DATA, page="pages/index/index"
    )
    assert result["errcode"] == 0 and isinstance(result["msgid"], int)
    [message] = messages(served.base_url)
    assert message["msgid"] == result["msgid"]
    assert message["data"] == DATA and message["page"] == "pages/index/index"


def test_wechatpy_fetches_the_token_by_itself_on_first_use(served):
    client = wechatpy_client(served.base_url)
    result = client.wxa.send_subscribe_message(demo.OPENID, demo.TEMPLATE_ID, DATA)
    assert result["errcode"] == 0


def test_wechatpy_sees_a_wechat_error_as_its_exception(served):
    client = wechatpy_client(served.base_url)
    with pytest.raises(WeChatClientException) as caught:
        client.wxa.send_subscribe_message("oNobody000000000000000000000", demo.TEMPLATE_ID, DATA)
    assert caught.value.errcode == 40003
    match = RID_RE.match(caught.value.errmsg)
    assert match is not None and match["text"] == "invalid openid"
    with pytest.raises(WeChatClientException) as caught:
        client.wxa.send_subscribe_message(demo.OPENID, demo.TEMPLATE_ID, {"thing1": {"value": "x"}})
    assert caught.value.errcode == 47003
    assert caught.value.errmsg.startswith("argument invalid! data.character_string2.value i rid: ")


def test_wechatpy_sees_45009_as_api_limited(served):
    client = wechatpy_client(served.base_url)
    client.fetch_access_token()
    requests.post(
        f"{served.base_url}/__wxemu__/faults",
        json={"path": "/cgi-bin/message/subscribe/send", "errcode": 45009},
        timeout=5,
    )
    with pytest.raises(APILimitedException) as caught:
        client.wxa.send_subscribe_message(demo.OPENID, demo.TEMPLATE_ID, DATA)
    assert caught.value.errcode == 45009


def test_wechatpy_retries_after_42001_with_a_fresh_token(served):
    client = wechatpy_client(served.base_url)
    client.fetch_access_token()
    # wechatpy trusts its cached expiry (real time); the emulator's clock says the token is dead.
    requests.post(f"{served.base_url}/__wxemu__/clock", json={"advance": 7200}, timeout=5)
    result = client.wxa.send_subscribe_message(demo.OPENID, demo.TEMPLATE_ID, DATA)
    assert result["errcode"] == 0


def test_wechatpy_bad_secret_is_40125(served):
    client = wechatpy_client(served.base_url, secret="wrong")
    with pytest.raises(WeChatClientException) as caught:
        client.fetch_access_token()
    assert caught.value.errcode == 40125


def test_wechatpy_code_to_session(served):
    minted = requests.post(
        f"{served.base_url}/__wxemu__/logincodes", json={"appid": demo.APPID}, timeout=5
    ).json()
    client = wechatpy_client(served.base_url)
    session = client.wxa.code_to_session(minted["code"])
    assert session["openid"] == minted["openid"]
    with pytest.raises(WeChatClientException) as caught:
        client.wxa.code_to_session(minted["code"])
    assert caught.value.errcode == 40163  # WeChat: "code been used"


def test_wechatpy_legacy_template_message_is_45103(served):
    client = wechatpy_client(served.base_url)
    with pytest.raises(WeChatClientException) as caught:
        client.wxa.send_template_message(demo.OPENID, "tmpl", {"keyword1": {"value": "x"}}, "form")
    assert caught.value.errcode == 45103
