"""/wxaapi/newtmpl/* over HTTP: the public library, private templates, every 2000xx errcode."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import assert_wechat_error, send_body

BASE = "/wxaapi/newtmpl/"


def get(wxemu: RunningServer, http: requests.Session, token: str, api: str, **params: Any):
    return http.get(wxemu.url(BASE + api), params={"access_token": token, **params})


def post(wxemu: RunningServer, http: requests.Session, token: str, api: str, body: Any):
    return http.post(wxemu.url(BASE + api), params={"access_token": token}, json=body)


def test_getcategory(wxemu, http, token):
    body = get(wxemu, http, token, "getcategory").json()
    assert body["errcode"] == 0 and body["errmsg"] == "ok"
    assert {"id": 526, "name": "生活服务"} in body["data"]


def test_getcategory_needs_a_token(wxemu, http):
    response = http.get(wxemu.url(BASE + "getcategory"))
    assert_wechat_error(response, 41001, "access_token missing", wxemu)


def test_getpubtemplatetitles_pages_over_categories(wxemu, http, token):
    body = get(wxemu, http, token, "getpubtemplatetitles", ids="101,526", start=0, limit=2).json()
    assert body["errcode"] == 0 and body["count"] == 4
    assert body["data"] == [
        {"tid": 1001, "title": "订单发货通知", "type": 2, "categoryId": "101"},
        {"tid": 1002, "title": "物流状态提醒", "type": 2, "categoryId": "101"},
    ]
    rest = get(wxemu, http, token, "getpubtemplatetitles", ids="101,526", start=2, limit=30).json()
    assert [t["tid"] for t in rest["data"]] == [5001, 5002]
    assert rest["data"][0]["type"] == 3


@pytest.mark.parametrize(
    ("params", "errcode", "errmsg"),
    [
        ({"ids": "101", "start": "-1", "limit": 5}, 200016, "invalid start"),
        ({"ids": "101", "limit": 5}, 200016, "invalid start"),
        ({"ids": "101", "start": 0, "limit": 31}, 200017, "invalid limit"),
        ({"ids": "101", "start": 0, "limit": 0}, 200017, "invalid limit"),
        ({"start": 0, "limit": 5}, 200018, "ids missing"),
        ({"ids": "101,abc", "start": 0, "limit": 5}, 200019, "invalid ids"),
        ({"ids": "999", "start": 0, "limit": 5}, 200019, "invalid ids"),
    ],
)
def test_getpubtemplatetitles_errors(wxemu, http, token, params, errcode, errmsg):
    response = get(wxemu, http, token, "getpubtemplatetitles", **params)
    assert_wechat_error(response, errcode, errmsg, wxemu)


def test_getpubtemplatekeywords(wxemu, http, token):
    body = get(wxemu, http, token, "getpubtemplatekeywords", tid=1001).json()
    assert body["errcode"] == 0 and body["count"] == 6
    assert body["data"][0] == {
        "kid": 1,
        "name": "商品名称",
        "example": "手机保护壳",
        "rule": "thing",
    }
    rules = {k["rule"] for k in body["data"]}
    assert {"thing", "character_string", "date", "name", "phone_number", "amount"} <= rules


@pytest.mark.parametrize("tid", ["424242", "abc", None])
def test_getpubtemplatekeywords_unknown_tid_200014(wxemu, http, token, tid):
    params = {} if tid is None else {"tid": tid}
    response = get(wxemu, http, token, "getpubtemplatekeywords", **params)
    assert_wechat_error(response, 200014, "invalid tid or template id", wxemu)


def test_addtemplate_then_gettemplate_and_send_with_it(wxemu, http, token):
    added = post(
        wxemu,
        http,
        token,
        "addtemplate",
        {"tid": "5001", "kidList": [4, 2], "sceneDesc": "洗衣提醒"},
    ).json()
    assert added["errcode"] == 0 and added["errmsg"] == "ok"
    pri_tmpl_id = added["priTmplId"]
    assert len(pri_tmpl_id) == 43
    listed = get(wxemu, http, token, "gettemplate").json()
    assert listed["errcode"] == 0
    mine = next(t for t in listed["data"] if t["priTmplId"] == pri_tmpl_id)
    assert mine == {
        "priTmplId": pri_tmpl_id,
        "title": "设备状态提醒",
        "content": "设备名称:{{thing4.DATA}}\n所在位置:{{enum_string2.DATA}}\n",
        "example": "设备名称:洗衣机\n所在位置:客厅\n",
        "type": 3,
        "keywordEnumValueList": [
            {
                "keywordCode": "enum_string2.DATA",
                "enumValueList": ["客厅", "餐厅", "厨房", "卧室", "阳台", "书房"],
            }
        ],
    }
    wxemu.grant(demo.APPID, demo.OPENID, pri_tmpl_id)
    data = {"thing4": {"value": "烘干机"}, "enum_string2": {"value": "阳台"}}
    body = send_body(template_id=pri_tmpl_id, data=data)
    sent = http.post(
        wxemu.url("/cgi-bin/message/subscribe/send"), params={"access_token": token}, json=body
    )
    # A long-term (type 3) template is not sendable through subscribe/send (observed: 40037).
    assert sent.json()["errcode"] == 40037


def test_gettemplate_lists_the_demo_templates(wxemu, http, token):
    data = get(wxemu, http, token, "gettemplate").json()["data"]
    assert [t["priTmplId"] for t in data] == [demo.TEMPLATE_ID, demo.LONG_TERM_TEMPLATE_ID]
    assert "keywordEnumValueList" not in data[0]
    assert data[1]["keywordEnumValueList"][0]["keywordCode"] == "enum_string2.DATA"


@pytest.mark.parametrize(
    ("body", "errcode", "errmsg"),
    [
        ({"tid": 9999, "kidList": [1, 2]}, 200014, "invalid tid or template id"),
        ({"tid": 1001, "kidList": [1]}, 200020, "invalid kidList"),
        ({"tid": 1001, "kidList": [1, 2, 3, 4, 5, 6]}, 200020, "invalid kidList"),
        ({"tid": 1001, "kidList": [1, 77]}, 200020, "invalid kidList"),
        ({"tid": 1001, "kidList": [1, 1]}, 200020, "invalid kidList"),
        ({"tid": 1001, "kidList": "1,2"}, 200020, "invalid kidList"),
        (
            {"tid": 1001, "kidList": [1, 2], "sceneDesc": "一二三四五六七八九十一二三四五六"},
            200021,
            "invalid sceneDesc",
        ),
    ],
)
def test_addtemplate_errors(wxemu, http, token, body, errcode, errmsg):
    assert_wechat_error(post(wxemu, http, token, "addtemplate", body), errcode, errmsg, wxemu)


def test_addtemplate_scene_desc_of_15_chars_is_fine(wxemu, http, token):
    body = {"tid": 1001, "kidList": [1, 2], "sceneDesc": "一二三四五六七八九十一二三四五"}
    assert post(wxemu, http, token, "addtemplate", body).json()["errcode"] == 0


def test_addtemplate_duplicate_200022(wxemu, http, token):
    assert (
        post(wxemu, http, token, "addtemplate", {"tid": 1001, "kidList": [1, 3]}).json()["errcode"]
        == 0
    )
    response = post(wxemu, http, token, "addtemplate", {"tid": 1001, "kidList": [3, 1]})
    assert_wechat_error(
        response, 200022, "template with the same title and keywords already exists", wxemu
    )


def test_addtemplate_requires_post_43002(wxemu, http, token):
    response = get(wxemu, http, token, "addtemplate", tid=1001)
    assert_wechat_error(response, 43002, "require POST method", wxemu)


def test_deltemplate(wxemu, http, token):
    body = post(wxemu, http, token, "deltemplate", {"priTmplId": demo.TEMPLATE_ID}).json()
    assert body == {"errcode": 0, "errmsg": "ok"}
    data = get(wxemu, http, token, "gettemplate").json()["data"]
    assert demo.TEMPLATE_ID not in [t["priTmplId"] for t in data]
    sent = http.post(
        wxemu.url("/cgi-bin/message/subscribe/send"),
        params={"access_token": token},
        json=send_body(),
    )
    assert sent.json()["errcode"] == 40037


def test_deltemplate_unknown_200014(wxemu, http, token):
    response = post(wxemu, http, token, "deltemplate", {"priTmplId": "nope"})
    assert_wechat_error(response, 200014, "invalid tid or template id", wxemu)
