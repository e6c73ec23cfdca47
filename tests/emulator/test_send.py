"""POST /cgi-bin/message/subscribe/send over HTTP: every errcode, grants, recorded messages."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import assert_wechat_error, send_body

SEND = "/cgi-bin/message/subscribe/send"


def send(wxemu: RunningServer, http: requests.Session, token: str, body: Any) -> requests.Response:
    return http.post(wxemu.url(SEND), params={"access_token": token}, json=body)


def test_accepted_send_returns_msgid_and_is_recorded(wxemu, http, token):
    response = send(wxemu, http, token, send_body(miniprogram_state="trial", lang="en_US"))
    assert response.status_code == 200
    body = response.json()
    assert body["errcode"] == 0 and body["errmsg"] == "ok"
    assert isinstance(body["msgid"], int) and 0 < body["msgid"] < 2**63
    [message] = wxemu.messages(demo.APPID, demo.OPENID)
    assert message["msgid"] == body["msgid"]
    assert message["touser"] == demo.OPENID
    assert message["template_id"] == demo.TEMPLATE_ID
    assert message["page"] == "pages/order/detail?id=42"
    assert message["data"]["thing1"] == {"value": "手机保护壳"}
    assert (message["miniprogram_state"], message["lang"]) == ("trial", "en_US")


def test_defaults_are_formal_and_zh_cn(wxemu, http, token):
    assert send(wxemu, http, token, send_body()).json()["errcode"] == 0
    [message] = wxemu.messages()
    assert (message["miniprogram_state"], message["lang"]) == ("formal", "zh_CN")


def test_wechatpy_style_utf8_body_without_content_type(wxemu, http, token):
    raw = str(send_body()).replace("'", '"').encode("utf-8")
    response = http.post(wxemu.url(SEND), params={"access_token": token}, data=raw)
    assert response.json()["errcode"] == 0


def test_no_token_41001(wxemu, http):
    response = http.post(wxemu.url(SEND), json=send_body())
    assert_wechat_error(response, 41001, "access_token missing", wxemu)


def test_garbage_token_40014(wxemu, http):
    response = send(wxemu, http, "not a token!", send_body())
    assert_wechat_error(response, 40014, "invalid access_token", wxemu)


def test_well_formed_but_unknown_token_40001(wxemu, http, token):
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = send(wxemu, http, forged, send_body())
    assert response.json()["errcode"] == 40001
    assert response.json()["errmsg"].startswith("invalid credential, access_token is invalid")


def test_expired_token_42001(wxemu, http, token):
    wxemu.advance(7200)
    assert_wechat_error(send(wxemu, http, token, send_body()), 42001, "access_token expired", wxemu)


@pytest.mark.parametrize("raw", [b'"{\\"touser\\": \\"x\\"}"', b"[1, 2]", b"touser=x&data=y", b"{"])
def test_body_not_a_json_object_47001(wxemu, http, token, raw):
    response = http.post(wxemu.url(SEND), params={"access_token": token}, data=raw)
    assert_wechat_error(response, 47001, "data format error", wxemu)


def test_empty_body_44002(wxemu, http, token):
    response = http.post(wxemu.url(SEND), params={"access_token": token})
    assert_wechat_error(response, 44002, "empty post data", wxemu)


def test_get_43002(wxemu, http, token):
    response = http.get(wxemu.url(SEND), params={"access_token": token})
    assert_wechat_error(response, 43002, "require POST method", wxemu)


@pytest.mark.parametrize("touser", ["oUnknownUser0000000000000000", "", None, 42])
def test_unknown_openid_40003(wxemu, http, token, touser):
    response = send(wxemu, http, token, send_body(touser=touser))
    assert_wechat_error(response, 40003, "invalid openid", wxemu)


def test_openid_of_another_app_40003(wxemu, http):
    other = wxemu.add_app()
    template = wxemu.add_template(other["appid"], "t", "a:{{thing1.DATA}}\n")
    wxemu.grant(other["appid"], "oOtherAppUser000000000000000", template)
    token = wxemu.token()  # the demo app's
    response = send(wxemu, http, token, send_body(touser="oOtherAppUser000000000000000"))
    assert_wechat_error(response, 40003, "invalid openid", wxemu)


@pytest.mark.parametrize("template_id", ["x" * 43, "", None])
def test_unknown_template_40037(wxemu, http, token, template_id):
    response = send(wxemu, http, token, send_body(template_id=template_id))
    assert_wechat_error(response, 40037, "invalid template_id", wxemu)


def test_template_of_another_app_40037(wxemu, http, token):
    other = wxemu.add_app()
    template = wxemu.add_template(other["appid"], "t", "a:{{thing1.DATA}}\n")
    response = send(wxemu, http, token, send_body(template_id=template))
    assert_wechat_error(response, 40037, "invalid template_id", wxemu)


@pytest.mark.parametrize(
    ("data", "errmsg"),
    [
        (
            {"thing1": {"value": "一二三四五六七八九十一二三四五六七八九十一"}},
            "argument invalid! data.thing1.value invalid",
        ),
        ({"thing1": {"value": "好"}}, "argument invalid! data.character_string2.value i"),
        ({"thing1.DATA": {"value": "好"}}, "argument invalid! data.thing1.value is empty"),
        ('{"thing1": {"value": "好"}}', "argument invalid! data.thing1.value is empty"),
        ({"thing1": "好"}, "argument invalid! data.thing1.value is empty"),
    ],
)
def test_keyword_rules_47003(wxemu, http, token, data, errmsg):
    body = send_body()
    if isinstance(data, dict):
        body["data"] = {**body["data"], **data}
        if "thing1.DATA" in data:
            del body["data"]["thing1"]
        if errmsg.endswith("character_string2.value i"):  # "is empty", cut at 30
            del body["data"]["character_string2"]
    else:
        body["data"] = data
    assert_wechat_error(send(wxemu, http, token, body), 47003, errmsg, wxemu)
    assert wxemu.messages() == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("miniprogram_state", "production"), ("lang", "fr_FR"), ("lang", 1)],
)
def test_miniprogram_state_and_lang_are_checked_47003(wxemu, http, token, field, value):
    response = send(wxemu, http, token, send_body(**{field: value}))
    assert_wechat_error(response, 47003, f"argument invalid! {field} invalid", wxemu)


def test_page_not_a_string_41030(wxemu, http, token):
    response = send(wxemu, http, token, send_body(page=["index"]))
    assert_wechat_error(response, 41030, "invalid page", wxemu)


def test_no_grant_43101(wxemu, http, token):
    wxemu.grant(demo.APPID, "oNewUser00000000000000000000", demo.TEMPLATE_ID, 0)
    response = send(wxemu, http, token, send_body(touser="oNewUser00000000000000000000"))
    assert_wechat_error(response, 43101, "user refuse to accept the msg", wxemu)


def test_one_time_grants_accumulate_one_send_each(wxemu, http, token):
    user = "oCountedUser0000000000000000"
    assert wxemu.grant(demo.APPID, user, demo.TEMPLATE_ID, 2) == 2
    assert wxemu.grant(demo.APPID, user, demo.TEMPLATE_ID, 1) == 3
    for _ in range(3):
        assert send(wxemu, http, token, send_body(touser=user)).json()["errcode"] == 0
    assert send(wxemu, http, token, send_body(touser=user)).json()["errcode"] == 43101
    assert len(wxemu.messages(openid=user)) == 3


def test_long_term_device_template_is_40037(wxemu, http, token):
    # A long-term (device, type 3) template through subscribe/send answers 40037 (observed):
    # those are sent through /cgi-bin/message/device/subscribe/send.
    body = send_body(
        template_id=demo.LONG_TERM_TEMPLATE_ID,
        data={
            "time1": {"value": "2024年5月20日 12:00:00"},
            "enum_string2": {"value": "厨房"},
            "thing4": {"value": "洗衣机"},
        },
    )
    assert_wechat_error(send(wxemu, http, token, body), 40037, "invalid template_id", wxemu)
    assert wxemu.messages() == []


def test_enum_keywords_of_a_one_time_template_are_checked(wxemu, http, token):
    content = "位置:{{enum_string1.DATA}}\n说明:{{thing2.DATA}}\n"
    template = wxemu.add_template(demo.APPID, "提醒", content, enums={"enum_string1": ["厨房"]})
    wxemu.grant(demo.APPID, demo.OPENID, template, 2)
    data = {"enum_string1": {"value": "厨房"}, "thing2": {"value": "洗衣机"}}
    body = send_body(template_id=template, data=data)
    assert send(wxemu, http, token, body).json()["errcode"] == 0
    body["data"]["enum_string1"] = {"value": "车库"}
    response = send(wxemu, http, token, body)
    assert_wechat_error(response, 47003, "argument invalid! data.enum_string1.value invali", wxemu)


def test_messages_are_listed_oldest_first(wxemu, http, token):
    ids = [send(wxemu, http, token, send_body()).json()["msgid"] for _ in range(3)]
    assert [m["msgid"] for m in wxemu.messages(demo.APPID)] == ids
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_message_hook_sees_accepted_messages(wxemu, http, token):
    seen: list[tuple[str, int]] = []
    wxemu.emulator.message_hooks.append(lambda app, m: seen.append((app.appid, m.msgid)))
    try:
        msgid = send(wxemu, http, token, send_body()).json()["msgid"]
        send(wxemu, http, token, send_body(touser="nobody"))
    finally:
        wxemu.emulator.message_hooks.clear()
    assert seen == [(demo.APPID, msgid)]


def test_legacy_template_send_45103(wxemu, http, token):
    response = http.post(
        wxemu.url("/cgi-bin/message/wxopen/template/send"),
        params={"access_token": token},
        json={"touser": demo.OPENID, "template_id": "x", "form_id": "f"},
    )
    assert_wechat_error(response, 45103, "This API has been unsupported", wxemu)


def test_legacy_uniform_send_45109(wxemu, http, token):
    response = http.post(
        wxemu.url("/cgi-bin/message/wxopen/template/uniform_send"),
        params={"access_token": token},
        json={"touser": demo.OPENID, "mp_template_msg": {}},
    )
    assert_wechat_error(
        response,
        45109,
        "This API has been unsupported. For more details, please view "
        "https://developers.weixin.qq.com/community/develop/doc/000ae8d6348af08e7030bc2546bc01"
        "?blockType=1",
        wxemu,
    )


@pytest.mark.parametrize("value", [656887888.0, 128, True])
def test_a_value_that_is_not_a_string_is_47003(wxemu, http, token, value):
    # WeChat refused {"amount5": {"value": 656887888.0}} with 47003 naming the field.
    body = send_body()
    body["data"]["amount6"] = {"value": value}
    response = send(wxemu, http, token, body)
    assert_wechat_error(response, 47003, "argument invalid! data.amount6.value invalid", wxemu)
    assert wxemu.messages() == []
