"""wxemu's message push, received by a plain HTTP server and checked with wechatpy's crypto."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import check_signature

from tests.emulator.conftest import send_body
from wxemu import demo
from wxemu.testing import ControlPlaneError, RunningServer

TOKEN = "emulator-push-token"
KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"


class Receiver(ThreadingHTTPServer):
    """Records every push; answers ``status`` (after ``gate`` opens)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pushes: list[tuple[dict[str, str], bytes, str]] = []
        self.status = 200
        self.gate = threading.Event()
        self.gate.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/receive_event"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        query = dict(parse_qsl(urlsplit(self.path).query))
        self.server.pushes.append((query, body, self.headers["Content-Type"]))
        self.server.gate.wait(10)
        self.send_response(self.server.status)
        self.send_header("Content-Length", "7")
        self.end_headers()
        self.wfile.write(b"success")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver(wxemu: RunningServer) -> Iterator[Receiver]:
    server = Receiver()
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.gate.set()
    assert wxemu.emulator.pusher.wait_idle()
    server.shutdown()
    server.server_close()


def send(wxemu: RunningServer, token: str, **overrides: Any) -> int:
    answer = requests.post(
        wxemu.url("/cgi-bin/message/subscribe/send"),
        params={"access_token": token},
        json=send_body(**overrides),
        timeout=10,
    ).json()
    assert answer["errcode"] == 0, answer
    msgid: int = answer["msgid"]
    return msgid


def opened(query: dict[str, str], body: bytes) -> str:
    """The push's plaintext, through wechatpy: msg_signature checked, AES opened, appid checked."""
    crypto = WeChatCrypto(TOKEN, KEY, demo.APPID)
    if body.startswith(b"{"):
        outer: Any = json.loads(body)
    else:
        outer = body.decode()
    text: str = crypto.decrypt_message(
        outer, query["msg_signature"], query["timestamp"], query["nonce"]
    )
    return text


def test_a_sent_event_in_secure_json(wxemu, receiver, token) -> None:  # type: ignore[no-untyped-def]
    wxemu.set_callback(demo.APPID, receiver.url, TOKEN, KEY)
    msgid = send(wxemu, token)
    assert wxemu.emulator.pusher.wait_idle()
    ((query, body, content_type),) = receiver.pushes
    assert content_type == "application/json"
    assert query["encrypt_type"] == "aes" and query["openid"] == demo.OPENID
    check_signature(TOKEN, query["signature"], query["timestamp"], query["nonce"])
    assert set(json.loads(body)) == {"ToUserName", "Encrypt"}
    event = json.loads(opened(query, body))
    assert event["Event"] == "subscribe_msg_sent_event" and event["MsgType"] == "event"
    assert event["FromUserName"] == demo.OPENID and event["CreateTime"] == int(query["timestamp"])
    assert event["List"] == {  # one item: a bare object, values as strings like the samples
        "TemplateId": demo.TEMPLATE_ID,
        "MsgID": str(msgid),
        "ErrorCode": "0",
        "ErrorStatus": "success",
    }
    assert wxemu.pushes()[-1] == {
        "event": "subscribe_msg_sent_event",
        "url": receiver.url,
        "tries": 1,
        "status": 200,
        "body": "success",
    }


def test_a_popup_in_secure_xml(wxemu, receiver) -> None:  # type: ignore[no-untyped-def]
    wxemu.set_callback(demo.APPID, receiver.url, TOKEN, KEY, format="xml")
    answer = wxemu.control(
        "POST",
        "subscriptions",
        json={
            "appid": demo.APPID,
            "openid": demo.OPENID,
            "template_id": demo.TEMPLATE_ID,
            "push": True,
        },
    )
    assert answer["pushed"] is True and answer["remaining"] == demo.GRANTS + 1
    assert wxemu.emulator.pusher.wait_idle()
    ((query, body, content_type),) = receiver.pushes
    assert content_type == "text/xml"
    event = xmltodict.parse(opened(query, body))["xml"]
    assert event["Event"] == "subscribe_msg_popup_event"
    assert event["SubscribeMsgPopupEvent"]["List"] == {
        "TemplateId": demo.TEMPLATE_ID,
        "SubscribeStatusString": "accept",
        "PopupScene": "0",
    }


def test_plaintext_and_compatible_modes(wxemu, receiver, token) -> None:  # type: ignore[no-untyped-def]
    wxemu.set_callback(demo.APPID, receiver.url, TOKEN, mode="plaintext")
    send(wxemu, token)
    assert wxemu.emulator.pusher.wait_idle()
    wxemu.set_callback(demo.APPID, receiver.url, TOKEN, KEY, mode="compatible")
    send(wxemu, token)
    assert wxemu.emulator.pusher.wait_idle()
    (plain_query, plain, _), (compat_query, compat, _) = receiver.pushes
    assert "encrypt_type" not in plain_query and "msg_signature" not in plain_query
    check_signature(TOKEN, plain_query["signature"], plain_query["timestamp"], plain_query["nonce"])
    assert json.loads(plain)["Event"] == "subscribe_msg_sent_event"
    both = json.loads(compat)
    assert both["Event"] == "subscribe_msg_sent_event" and "Encrypt" in both
    hidden = json.loads(opened(compat_query, compat))
    assert {k: v for k, v in both.items() if k != "Encrypt"} == hidden


def test_an_injected_failure_and_repeats(wxemu, receiver, token) -> None:  # type: ignore[no-untyped-def]
    failures = {demo.OPENID: {"ErrorCode": 10001, "ErrorStatus": "system failure"}}
    wxemu.set_callback(demo.APPID, receiver.url, TOKEN, KEY, failures=failures, repeat=2)
    send(wxemu, token)
    assert wxemu.emulator.pusher.wait_idle()
    first, second = (json.loads(opened(q, b)) for q, b, _ in receiver.pushes)
    assert first == second and first["List"]["ErrorCode"] == "10001"
    nonces = {q["nonce"] for q, _, _ in receiver.pushes}
    assert len(nonces) == 2  # every delivery is signed afresh


def test_a_failing_receiver_gets_three_tries_and_the_send_is_unaffected(
    wxemu, receiver, token
) -> None:  # type: ignore[no-untyped-def]
    receiver.status = 500
    wxemu.set_callback(demo.APPID, receiver.url, TOKEN, KEY)
    send(wxemu, token)
    assert wxemu.emulator.pusher.wait_idle()
    assert len(receiver.pushes) == 3
    assert wxemu.pushes()[-1]["tries"] == 3 and wxemu.pushes()[-1]["status"] == 500


def test_an_unreachable_receiver_is_logged_not_raised(wxemu, token) -> None:  # type: ignore[no-untyped-def]
    wxemu.set_callback(demo.APPID, "http://127.0.0.1:9/receive_event", TOKEN, KEY)
    send(wxemu, token)
    assert wxemu.emulator.pusher.wait_idle()
    assert wxemu.pushes()[-1]["status"] is None and wxemu.pushes()[-1]["tries"] == 3


def test_the_push_leaves_after_the_send_answered(wxemu, receiver, token) -> None:  # type: ignore[no-untyped-def]
    receiver.gate.clear()  # the receiver holds every push until released
    wxemu.set_callback(demo.APPID, receiver.url, TOKEN, KEY)
    send(wxemu, token)  # answered although the push is still held
    assert wxemu.pushes() == []
    receiver.gate.set()
    assert wxemu.emulator.pusher.wait_idle()
    assert len(wxemu.pushes()) == 1


def test_no_callback_no_push(wxemu, receiver, token) -> None:  # type: ignore[no-untyped-def]
    send(wxemu, token)
    answer = wxemu.control(
        "POST",
        "subscriptions",
        json={
            "appid": demo.APPID,
            "openid": demo.OPENID,
            "template_id": demo.TEMPLATE_ID,
            "push": True,
        },
    )
    assert answer["pushed"] is False
    assert wxemu.emulator.pusher.wait_idle()
    assert receiver.pushes == [] and wxemu.pushes() == []


def test_reset_forgets_the_callback(wxemu, receiver) -> None:  # type: ignore[no-untyped-def]
    wxemu.set_callback(demo.APPID, receiver.url, TOKEN, KEY)
    described = wxemu.control("GET", "callback", params={"appid": demo.APPID})["callback"]
    assert described["mode"] == "secure" and TOKEN not in json.dumps(described)
    wxemu.reset()
    assert wxemu.control("GET", "callback", params={"appid": demo.APPID})["callback"] is None


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"appid": "wx0000000000000000"}, "404"),
        ({"url": "ftp://x"}, "400"),
        ({"mode": "raw"}, "400"),
        ({"format": "yaml"}, "400"),
        ({"encoding_aes_key": "short"}, "400"),
        ({"encoding_aes_key": None}, "400"),
        ({"token": ""}, "400"),
        ({"repeat": 6}, "400"),
        ({"failures": {demo.OPENID: {"ErrorCode": "x"}}}, "400"),
    ],
)
def test_callback_settings_are_checked(wxemu, change, status) -> None:  # type: ignore[no-untyped-def]
    body = {"appid": demo.APPID, "url": "http://x/", "token": TOKEN, "encoding_aes_key": KEY}
    body.update(change)
    with pytest.raises(ControlPlaneError, match=rf"^{status}"):
        wxemu.control("POST", "callback", json={k: v for k, v in body.items() if v is not None})


def test_a_pushed_popup_grants_exactly_one(wxemu) -> None:  # type: ignore[no-untyped-def]
    body = {"appid": demo.APPID, "openid": demo.OPENID, "template_id": demo.TEMPLATE_ID}
    with pytest.raises(ControlPlaneError, match=r"^400"):
        wxemu.control("POST", "subscriptions", json={**body, "push": True, "count": 2})
    with pytest.raises(ControlPlaneError, match=r"^400"):
        wxemu.control("POST", "subscriptions", json={**body, "push": "yes"})
