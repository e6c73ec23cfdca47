"""receive_event through its real main_handler: WeChat's vectors, wechatpy's pushes, attacks."""

from __future__ import annotations

import base64
import json
import time
from typing import Any, Optional

import pytest
from wechatpy.crypto import PrpCrypto, WeChatCrypto

from tests.functional.conftest import (
    AES_KEY,
    CALLBACK_TOKEN,
    OLD_AES_KEY,
    Invoke,
    balance,
    handler,
    log_records,
    send_event,
)
from tests.unit.test_callback import A_ENCRYPT, B_ENCRYPT
from wxapush.app import reset_app
from wxapush.config import reset_settings
from wxapush.services import receive_event
from wxapush.wechat.callback import aes_key, encrypt, sign
from wxemu import demo

POPUP = {
    "ToUserName": "gh_123456789abc",
    "FromUserName": demo.OPENID,
    "MsgType": "event",
    "Event": "subscribe_msg_popup_event",
    "List": {"TemplateId": demo.TEMPLATE_ID, "SubscribeStatusString": "accept", "PopupScene": "0"},
}


def call(
    query: dict[str, str],
    body: str = "",
    method: str = "POST",
    base64_body: Optional[bytes] = None,
    time_limit_ms: int = 3000,
) -> Any:
    """receive_event's main_handler, called the way the API gateway calls it for WeChat."""
    event = {
        "httpMethod": method,
        "path": "/receive_event",
        "headers": {"content-type": "application/json", "user-agent": "Mozilla/4.0"},
        "queryString": query,
        "body": body if base64_body is None else base64.b64encode(base64_body).decode(),
        "isBase64Encoded": base64_body is not None,
        "requestContext": {"path": "/receive_event", "httpMethod": method, "requestId": "r"},
    }
    return handler("receive_event")(event, {"request_id": "r", "time_limit_in_ms": time_limit_ms})


def use(monkeypatch: pytest.MonkeyPatch, **settings: Optional[str]) -> None:
    for name, value in settings.items():
        if value is None:
            monkeypatch.delenv(f"WXAPUSH_{name}", raising=False)
        else:
            monkeypatch.setenv(f"WXAPUSH_{name}", value)
    reset_settings()
    reset_app()


def refused(answer: Any, status: int, slug: str, errcode: int) -> None:
    assert answer["statusCode"] == status, answer
    body = json.loads(answer["body"])
    assert (answer["statusCode"], body["error"], body["errcode"]) == (status, slug, errcode), body


def secure(
    message: dict[str, Any] | str,
    key: str = AES_KEY,
    appid: str = demo.APPID,
    timestamp: Optional[str] = None,
    token: str = CALLBACK_TOKEN,
) -> tuple[dict[str, str], str]:
    """A secure-mode JSON push encrypted by wechatpy (an independent implementation)."""
    text = message if isinstance(message, str) else json.dumps(message)
    encrypted = PrpCrypto(aes_key(key)).encrypt(text, appid).decode()
    timestamp = timestamp or str(int(time.time()))
    query = {
        "signature": sign(token, timestamp, "77"),
        "timestamp": timestamp,
        "nonce": "77",
        "openid": demo.OPENID,
        "encrypt_type": "aes",
        "msg_signature": sign(token, timestamp, "77", encrypted),
    }
    return query, json.dumps({"ToUserName": "gh_123456789abc", "Encrypt": encrypted})


def popup(status: str = "accept", created: int = 1700000000) -> dict[str, Any]:
    item = {**POPUP["List"], "SubscribeStatusString": status}
    return {**POPUP, "CreateTime": str(created), "List": item}


# -- WeChat's own vectors, exactly as published (age check off: they are from 2024) --------------


def test_official_url_verification_vector(callback_env: dict, monkeypatch) -> None:  # type: ignore[no-untyped-def,type-arg]
    use(monkeypatch, CALLBACK_TOKEN="AAAAA", CALLBACK_MAX_AGE="0")
    query = {
        "signature": "f464b24fc39322e44b38aa78f5edd27bd1441696",
        "echostr": "4375120948345356249",
        "timestamp": "1714036504",
        "nonce": "1514711492",
    }
    answer = call(query, method="GET")
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"].startswith("text/plain")
    assert answer["body"] == "4375120948345356249"


def test_official_secure_mode_vector(callback_env: dict, monkeypatch) -> None:  # type: ignore[no-untyped-def,type-arg]
    use(
        monkeypatch,
        APPID="wxba5fad812f8e6fb9",
        CALLBACK_TOKEN="AAAAA",
        ENCODING_AES_KEY="A" * 43,
        CALLBACK_MAX_AGE="0",
    )
    query = {
        "signature": "6c5c811b55cc85e0e1b54100749188c20beb3f5d",
        "timestamp": "1714112445",
        "nonce": "415670741",
        "openid": "o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
        "encrypt_type": "aes",
        "msg_signature": "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3",
    }
    body = json.dumps({"ToUserName": "gh_97417a04a28d", "Encrypt": A_ENCRYPT})
    answer = call(query, body)
    assert (answer["statusCode"], answer["body"]) == (200, "success")
    assert answer["headers"]["Content-Type"].startswith("text/plain")


def test_official_plaintext_vector(callback_env: dict, monkeypatch) -> None:  # type: ignore[no-untyped-def,type-arg]
    use(monkeypatch, CALLBACK_TOKEN="AAAAA", ENCODING_AES_KEY=None, CALLBACK_MAX_AGE="0")
    query = {
        "signature": "899cf89e464efb63f54ddac96b0a0a235f53aa78",
        "timestamp": "1714037059",
        "nonce": "486452656",
    }
    body = (
        '{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY",'
        '"CreateTime":1714037059,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}'
    )
    assert call(query, body)["body"] == "success"


def test_official_compatible_mode_vector_reads_only_the_ciphertext(callback_env, monkeypatch):  # type: ignore[no-untyped-def]
    use(
        monkeypatch,
        APPID="wx2c2769f8efd9abc2",
        CALLBACK_TOKEN="spamtest",
        ENCODING_AES_KEY="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        CALLBACK_MAX_AGE="0",
    )
    query = {
        "timestamp": "1409735669",
        "nonce": "1320562132",
        "encrypt_type": "aes",
        "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
    }
    # Unsigned plaintext beside the ciphertext: a forged popup here must change nothing.
    body = (
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
        f"<FromUserName><![CDATA[{demo.OPENID}]]></FromUserName><CreateTime>1409735668</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_popup_event]]></Event>"
        f"<SubscribeMsgPopupEvent><List><TemplateId>{demo.TEMPLATE_ID}</TemplateId>"
        "<SubscribeStatusString>accept</SubscribeStatusString></List></SubscribeMsgPopupEvent>"
        f"<Encrypt><![CDATA[{B_ENCRYPT}]]></Encrypt></xml>"
    )
    assert call(query, body)["body"] == "success"
    assert balance() is None


# -- pushes encrypted by wechatpy ---------------------------------------------------------------


def test_a_popup_encrypted_by_wechatpy_grants_one_send(callback_env: dict) -> None:  # type: ignore[type-arg]
    assert call(*secure(popup()))["body"] == "success"
    assert balance() == 1


def test_an_xml_push_built_by_wechatpy(callback_env: dict) -> None:  # type: ignore[type-arg]
    xml = (
        f"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[{demo.OPENID}]]>"
        "</FromUserName><CreateTime>1700000001</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[subscribe_msg_popup_event]]></Event><SubscribeMsgPopupEvent><List>"
        f"<TemplateId><![CDATA[{demo.TEMPLATE_ID}]]></TemplateId><SubscribeStatusString>"
        "<![CDATA[accept]]></SubscribeStatusString><PopupScene>0</PopupScene></List>"
        "</SubscribeMsgPopupEvent></xml>"
    )
    timestamp = str(int(time.time()))
    wrapped = WeChatCrypto(CALLBACK_TOKEN, AES_KEY, demo.APPID).encrypt_message(
        xml, "4242", timestamp
    )
    # wechatpy writes the reply envelope; its Encrypt and MsgSignature are a push's too.
    encrypted = wrapped.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    signature = wrapped.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    query = {
        "timestamp": timestamp,
        "nonce": "4242",
        "encrypt_type": "aes",
        "msg_signature": signature,
    }
    body = f"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"  # noqa: E501
    assert call(query, body)["body"] == "success"
    assert balance() == 1


def test_the_previous_key_still_opens_pushes_during_a_rotation(callback_env, monkeypatch):  # type: ignore[no-untyped-def]
    use(monkeypatch, ENCODING_AES_KEY_PREVIOUS=OLD_AES_KEY)
    assert call(*secure(popup(), key=OLD_AES_KEY))["body"] == "success"
    assert call(*secure(popup(created=1700000002), key=AES_KEY))["body"] == "success"
    assert balance() == 2


def test_a_re_pushed_event_is_handled_once(callback_env: dict) -> None:  # type: ignore[type-arg]
    for _ in range(3):  # WeChat re-signs every retry: new nonce, same event
        assert call(*secure(popup()))["body"] == "success"
    assert balance() == 1


def test_an_accept_then_a_reject_zeroes(callback_env: dict) -> None:  # type: ignore[type-arg]
    call(*secure(popup()))
    call(*secure(popup(created=1700000001)))
    assert balance() == 2
    call(*secure(popup("reject", created=1700000002)))
    assert balance() == 0


# -- delivery status ------------------------------------------------------------------------------


def sent_event(msgid: int, code: int = 0, status: str = "success") -> dict[str, Any]:
    item = {
        "TemplateId": demo.TEMPLATE_ID,
        "MsgID": str(msgid),
        "ErrorCode": str(code),
        "ErrorStatus": status,
    }
    return {**POPUP, "Event": "subscribe_msg_sent_event", "CreateTime": "1700000000", "List": item}


def test_a_sent_event_marks_the_message_delivered(callback_env: dict, invoke: Invoke) -> None:  # type: ignore[type-arg]
    sent = invoke("send", send_event())
    assert call(*secure(sent_event(sent["msgid"])))["body"] == "success"
    (record,) = log_records()
    assert (record.status, record.errcode, record.errmsg) == ("delivered", 0, "success")


def test_a_failed_delivery_keeps_wechats_code_and_send_log_filters_it(callback_env, invoke):  # type: ignore[no-untyped-def]
    first = invoke("send", send_event())
    second = invoke("send", send_event())
    call(*secure(sent_event(first["msgid"], -1, "system error")))
    call(*secure(sent_event(second["msgid"])))
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    dates = {"begin_date": today, "end_date": today}
    failed = invoke("send_log", {**dates, "status": "undelivered"})
    assert [(r["log_id"], r["errcode"], r["errmsg"]) for r in failed["list"]] == [
        (first["log_id"], -1, "system error")
    ]
    delivered = invoke("send_log", {**dates, "status": "delivered"})
    assert [r["log_id"] for r in delivered["list"]] == [second["log_id"]]


def test_a_sent_event_for_an_unknown_msgid_changes_nothing(callback_env, invoke, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(receive_event, "MSGID_WAIT", 0.1)
    sent = invoke("send", send_event())
    assert call(*secure(sent_event(sent["msgid"] + 1)))["body"] == "success"
    assert [r.status for r in log_records()] == ["sent"]


def test_a_sent_event_naming_another_user_changes_nothing(callback_env, invoke):  # type: ignore[no-untyped-def]
    sent = invoke("send", send_event())
    other = {**sent_event(sent["msgid"]), "FromUserName": "oSomeoneElse-000000000000000"}
    assert call(*secure(other))["body"] == "success"
    assert [r.status for r in log_records()] == ["sent"]


# -- refusals: 4xx, nothing changed, never a traceback ------------------------------------------


def test_forged_signature(callback_env: dict) -> None:  # type: ignore[type-arg]
    query, body = secure(popup())
    query["msg_signature"] = sign("guessed-token", query["timestamp"], "77", "x")
    refused(call(query, body), 401, "unauthorized", 990401)
    assert balance() is None


def flip(encrypted: str, index: int) -> str:
    raw = bytearray(base64.b64decode(encrypted))
    raw[index] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def test_tampered_ciphertext(callback_env: dict) -> None:  # type: ignore[type-arg]
    query, body = secure(popup())
    encrypted = json.loads(body)["Encrypt"]

    def resigned(tampered: str) -> Any:
        # By someone who knows the Token but not the key.
        signature = sign(CALLBACK_TOKEN, query["timestamp"], "77", tampered)
        return call({**query, "msg_signature": signature}, json.dumps({"Encrypt": tampered}))

    refused(call(query, json.dumps({"Encrypt": flip(encrypted, 40)})), 401, "unauthorized", 990401)
    # The tail holds the appid and the padding: any change there fails the decryption checks.
    last = len(base64.b64decode(encrypted)) - 1
    for index in (last, last - 16):
        refused(resigned(flip(encrypted, index)), 401, "unauthorized", 990401)
    # CBC has no integrity of its own (the Token's signature is WeChat's only MAC): a flip in the
    # first block changes a byte of the message, which then no longer reads as a push.
    refused(resigned(flip(encrypted, 7)), 400, "invalid_request", 990400)
    assert balance() is None


def test_a_push_encrypted_for_another_app(callback_env: dict) -> None:  # type: ignore[type-arg]
    refused(call(*secure(popup(), appid="wx0000000000000000")), 401, "unauthorized", 990401)
    assert balance() is None


@pytest.mark.parametrize("offset", [-301, 301, -86400])
def test_stale_or_future_timestamps(callback_env: dict, offset: int) -> None:  # type: ignore[type-arg]
    stamp = str(int(time.time()) + offset)
    refused(call(*secure(popup(), timestamp=stamp)), 401, "unauthorized", 990401)
    assert balance() is None


def test_a_malformed_timestamp(callback_env: dict) -> None:  # type: ignore[type-arg]
    refused(call(*secure(popup(), timestamp="yesterday")), 400, "invalid_request", 990400)


def test_a_plaintext_push_is_refused_while_a_key_is_set(callback_env: dict) -> None:  # type: ignore[type-arg]
    stamp = str(int(time.time()))
    query = {"signature": sign(CALLBACK_TOKEN, stamp, "1"), "timestamp": stamp, "nonce": "1"}
    refused(call(query, json.dumps(popup())), 401, "unauthorized", 990401)
    assert balance() is None


@pytest.mark.parametrize(
    "body",
    [
        "garbage",
        "{}",
        '{"Encrypt": 5}',
        "<xml><Encrypt></Encrypt></xml>",
        '<!DOCTYPE x [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>',
    ],
)
def test_unreadable_bodies(callback_env: dict, body: str) -> None:  # type: ignore[type-arg]
    query, _ = secure(popup())
    refused(call(query, body), 400, "invalid_request", 990400)


def test_a_decrypted_message_that_is_not_a_push(callback_env: dict) -> None:  # type: ignore[type-arg]
    refused(call(*secure("<xml><Nothing>1</Nothing></xml>")), 400, "invalid_request", 990400)
    refused(call(*secure({**popup(), "List": []})), 400, "invalid_request", 990400)
    assert balance() is None


def test_non_utf8_and_oversize_bodies(callback_env: dict) -> None:  # type: ignore[type-arg]
    query, _ = secure(popup())
    refused(call(query, base64_body=b"\xff\xfe{}"), 400, "invalid_request", 990400)
    huge = json.dumps({"Encrypt": "A" * (65 * 1024)})
    refused(call(query, huge), 400, "invalid_request", 990413)


def test_url_verification_with_a_bad_signature_or_no_echostr(callback_env: dict) -> None:  # type: ignore[type-arg]
    stamp = str(int(time.time()))
    good = {"signature": sign(CALLBACK_TOKEN, stamp, "5"), "timestamp": stamp, "nonce": "5"}
    refused(
        call({**good, "echostr": "x", "signature": "0" * 40}, method="GET"),
        401,
        "unauthorized",
        990401,
    )
    refused(call(good, method="GET"), 400, "invalid_request", 990400)
    assert call({**good, "echostr": "hi"}, method="GET")["body"] == "hi"


def test_other_methods_and_encrypt_types(callback_env: dict) -> None:  # type: ignore[type-arg]
    query, body = secure(popup())
    answer = call(query, body, method="PUT")
    refused(answer, 405, "invalid_request", 990405)
    assert answer["headers"]["Allow"] == "GET, POST"
    refused(call({**query, "encrypt_type": "rsa"}, body), 400, "invalid_request", 990400)


def test_missing_settings_are_misconfigured(callback_env, monkeypatch):  # type: ignore[no-untyped-def]
    query, body = secure(popup())
    use(monkeypatch, ENCODING_AES_KEY=None)
    answer = call(query, body)
    refused(answer, 500, "misconfigured", 990501)
    assert json.loads(answer["body"])["setting"] == "WXAPUSH_ENCODING_AES_KEY"
    use(monkeypatch, CALLBACK_TOKEN=None)
    refused(call(query, body), 500, "misconfigured", 990501)


def test_a_direct_call_is_forbidden(invoke: Invoke) -> None:
    answer = invoke("receive_event", {"Encrypt": "x"})
    assert (answer["error"], answer["errcode"]) == ("forbidden", 990403)


def test_secrets_never_appear_in_answers(callback_env: dict) -> None:  # type: ignore[type-arg]
    query, body = secure(popup(), key=OLD_AES_KEY)
    answer = call(query, body)
    for secret in (AES_KEY, OLD_AES_KEY, CALLBACK_TOKEN):
        assert secret not in json.dumps(answer)
    refused(answer, 401, "unauthorized", 990401)


def test_our_own_encrypt_matches_what_wechatpy_accepts(callback_env: dict) -> None:  # type: ignore[type-arg]
    # The emulator pushes with wxapush's encrypt; wechatpy must read it like WeChat's.
    text = json.dumps(popup())
    encrypted = encrypt(text.encode(), AES_KEY, demo.APPID)
    assert PrpCrypto(aes_key(AES_KEY)).decrypt(encrypted, demo.APPID) == text
