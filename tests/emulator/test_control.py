"""The control plane under /__wxemu__/ and faults, over HTTP."""

from __future__ import annotations

import time

import pytest

from wxemu import demo
from wxemu.testing import ControlPlaneError

from .conftest import assert_wechat_error, send_body

SEND = "/cgi-bin/message/subscribe/send"


def test_reset_forgets_state_and_reseeds_demo(wxemu, http, token):
    http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body())
    wxemu.add_app("wxreset0000000000", "s")
    wxemu.advance(100)
    body = http.post(wxemu.url("/__wxemu__/reset")).json()
    assert body == {"ok": True, "demo": demo.describe()}
    assert wxemu.messages() == []
    apps = http.get(wxemu.url("/__wxemu__/apps")).json()["apps"]
    assert [a["appid"] for a in apps] == [demo.APPID]
    assert http.get(wxemu.url("/__wxemu__/clock")).json()["offset"] == 0
    r = http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body())
    assert r.json()["errcode"] == 40001  # tokens are forgotten too


def test_demo_endpoint(wxemu, http):
    assert http.get(wxemu.url("/__wxemu__/demo")).json() == {"demo": demo.describe()}


def test_apps_create_with_given_or_generated_credentials(wxemu, http):
    given = http.post(
        wxemu.url("/__wxemu__/apps"), json={"appid": "wx1111222233334444", "secret": "s1"}
    )
    assert given.json() == {"appid": "wx1111222233334444", "secret": "s1"}
    generated = http.post(wxemu.url("/__wxemu__/apps"), json={}).json()
    assert generated["appid"].startswith("wx") and len(generated["appid"]) == 18
    assert len(generated["secret"]) == 32
    token = wxemu.token("wx1111222233334444", "s1")
    assert token


def test_templates_and_subscriptions(wxemu, http):
    app = wxemu.add_app()
    created = http.post(
        wxemu.url("/__wxemu__/templates"),
        json={
            "appid": app["appid"],
            "title": "洗衣机故障提醒",
            "content": "完成时间:{{time1.DATA}}\n所在位置:{{enum_string2.DATA}}\n",
            "type": 3,
            "keywordEnumValueList": [
                {"keywordCode": "enum_string2.DATA", "enumValueList": ["客厅"]}
            ],
        },
    ).json()
    pri = created["priTmplId"]
    assert len(pri) == 43
    granted = http.post(
        wxemu.url("/__wxemu__/subscriptions"),
        json={"appid": app["appid"], "openid": "oX" + "0" * 26, "template_id": pri, "count": 2},
    ).json()
    assert granted == {
        "appid": app["appid"],
        "openid": "oX" + "0" * 26,
        "template_id": pri,
        "remaining": 2,
    }
    token = wxemu.token(app["appid"], app["secret"])
    body = {
        "touser": "oX" + "0" * 26,
        "template_id": pri,
        "data": {"time1": {"value": "15:01"}, "enum_string2": {"value": "客厅"}},
    }
    r = http.post(wxemu.url(SEND), params={"access_token": token}, json=body)
    # A long-term (type 3) template is not sendable through subscribe/send (observed: 40037).
    assert r.json()["errcode"] == 40037


@pytest.mark.parametrize(
    ("action", "body", "status"),
    [
        ("templates", {"appid": "wxnope", "title": "t", "content": "{{thing1.DATA}}"}, 404),
        ("templates", {"appid": demo.APPID, "title": "t", "content": "no keywords"}, 400),
        (
            "templates",
            {"appid": demo.APPID, "title": "t", "content": "{{thing1.DATA}}", "type": 4},
            400,
        ),
        ("subscriptions", {"appid": demo.APPID, "openid": "o", "template_id": "nope"}, 404),
        (
            "subscriptions",
            {"appid": demo.APPID, "openid": "o", "template_id": demo.TEMPLATE_ID, "count": -1},
            400,
        ),
        ("faults", {"path": SEND}, 400),
        ("faults", {"path": SEND, "errcode": -1, "times": 0}, 400),
        ("clock", {"advance": -5}, 400),
        ("logincodes", {}, 400),
        ("quotas", {"appid": demo.APPID, "cgi_path": "/x", "daily_limit": 1}, 400),
    ],
)
def test_control_plane_mistakes_are_http_errors(wxemu, http, action, body, status):
    response = http.post(wxemu.url(f"/__wxemu__/{action}"), json=body)
    assert response.status_code == status
    assert "error" in response.json()


def test_control_plane_bad_json_unknown_action_wrong_method(wxemu, http):
    assert http.post(wxemu.url("/__wxemu__/apps"), data=b"{").status_code == 400
    assert http.post(wxemu.url("/__wxemu__/nothing")).status_code == 404
    assert http.delete(wxemu.url("/__wxemu__/reset")).status_code == 405
    with pytest.raises(ControlPlaneError):
        wxemu.grant("wxnope", "o", "t")


def test_messages_filter_by_app_and_openid(wxemu, http, token):
    other = "oOtherUser000000000000000000"
    wxemu.grant(demo.APPID, other, demo.TEMPLATE_ID, 1)
    http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body())
    http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body(touser=other))
    everything = http.get(wxemu.url("/__wxemu__/messages")).json()["messages"]
    assert [m["touser"] for m in everything] == [demo.OPENID, other]
    mine = http.get(wxemu.url("/__wxemu__/messages"), params={"appid": demo.APPID, "openid": other})
    assert [m["touser"] for m in mine.json()["messages"]] == [other]
    expected = {"touser", "template_id", "page", "data", "miniprogram_state", "lang", "msgid"}
    assert expected <= set(everything[0])
    assert http.get(wxemu.url("/__wxemu__/messages"), params={"appid": "wxnope"}).status_code == 404


def test_fault_errcode_for_next_n_calls(wxemu, http, token):
    wxemu.fault(SEND, errcode=45009, times=2)
    for _ in range(2):
        r = http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body())
        assert_wechat_error(r, 45009, "reach max api daily quota limit", wxemu)
    assert (
        http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body()).json()[
            "errcode"
        ]
        == 0
    )


def test_fault_errcode_with_custom_errmsg_and_system_error(wxemu, http, token):
    wxemu.fault(SEND, errcode=43108, errmsg="并发下发消息给同一个粉丝")
    wxemu.fault(SEND, errcode=-1)
    r = http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body())
    assert_wechat_error(r, 43108, "并发下发消息给同一个粉丝", wxemu)
    r = http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body())
    assert_wechat_error(r, -1, "system error", wxemu)


def test_fault_http_status(wxemu, http, token):
    wxemu.fault("/cgi-bin/token", status=502)
    params = {"grant_type": "client_credential", "appid": demo.APPID, "secret": demo.SECRET}
    assert http.get(wxemu.url("/cgi-bin/token"), params=params).status_code == 502
    assert http.get(wxemu.url("/cgi-bin/token"), params=params).status_code == 200


def test_fault_delay_then_normal_answer(wxemu, http, token):
    wxemu.fault(SEND, delay_ms=300)
    started = time.monotonic()
    r = http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body())
    assert time.monotonic() - started >= 0.3
    assert r.json()["errcode"] == 0


def test_fault_delay_is_a_timeout_for_an_impatient_client(wxemu, http, token):
    import requests

    wxemu.fault(SEND, delay_ms=500)
    with pytest.raises(requests.Timeout):
        http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body(), timeout=0.1)


def test_fault_drop_carries_the_call_out_and_closes_without_an_answer(wxemu, http, token):
    import requests

    wxemu.fault(SEND, drop=True)
    with pytest.raises(requests.ConnectionError):
        http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body())
    assert len(wxemu.messages(demo.APPID)) == 1  # WeChat acted on it: the answer was lost
    r = http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body())
    assert r.json()["errcode"] == 0  # one call only


def test_a_hostile_fault_must_name_a_known_kind(wxemu, http):
    r = http.post(wxemu.url("/__wxemu__/faults"), json={"path": SEND, "hostile": "polite"})
    assert r.status_code == 400 and "hostile must be one of trickle" in r.json()["error"]


def test_a_head_request_gets_the_headers_of_a_get_and_no_body(wxemu):
    import http.client

    conn = http.client.HTTPConnection(wxemu.base_url.removeprefix("http://"), timeout=5)
    conn.request("HEAD", "/__wxemu__/faults")
    head = conn.getresponse()
    assert head.status == 200 and head.getheader("Content-Length") == "13"
    assert head.read() == b""
    conn.request("GET", "/__wxemu__/faults")  # the same connection: no stray body before it
    got = conn.getresponse()
    assert got.status == 200 and got.read() == b'{"faults":[]}'
    conn.close()


def test_faults_are_listed_and_cleared(wxemu, http):
    wxemu.fault(SEND, errcode=-1, times=3)
    listed = http.get(wxemu.url("/__wxemu__/faults")).json()["faults"]
    assert listed == [
        {
            "path": SEND,
            "times": 3,
            "errcode": -1,
            "errmsg": None,
            "status": None,
            "delay_ms": 0,
            "drop": False,
            "hostile": None,
            "interval_ms": 500,
        }
    ]
    assert http.delete(wxemu.url("/__wxemu__/faults")).json() == {"faults": []}


def test_clock_advance(wxemu, http):
    before = http.get(wxemu.url("/__wxemu__/clock")).json()
    after = http.post(wxemu.url("/__wxemu__/clock"), json={"advance": 3600}).json()
    assert after["offset"] == 3600
    assert 3600 <= after["now"] - before["now"] < 3610


def test_quotas_endpoint_sets_limit(wxemu, http):
    body = http.post(
        wxemu.url("/__wxemu__/quotas"),
        json={"appid": demo.APPID, "cgi_path": SEND, "daily_limit": 5},
    ).json()
    assert body == {"appid": demo.APPID, "cgi_path": SEND, "daily_limit": 5, "used": 0}


def test_unknown_wechat_path_is_404(wxemu, http):
    response = http.get(wxemu.url("/cgi-bin/nothing/here"))
    assert response.status_code == 404
    assert response.json()["errcode"] == 404


def test_the_control_plane_lists_its_actions(wxemu, http):
    answer = http.get(wxemu.url("/__wxemu__/"))
    assert answer.status_code == 200
    actions = {(a["method"], a["path"]): a["doc"] for a in answer.json()["actions"]}
    assert actions[("POST", "/__wxemu__/reset")].startswith("Forget all state")
    assert ("POST", "/__wxemu__/clock") in actions and ("GET", "/__wxemu__/messages") in actions
    assert all(actions.values())  # each says what it does


def test_a_wrong_method_says_which_one(wxemu, http):
    answer = http.delete(wxemu.url("/__wxemu__/reset"))
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"
    assert answer.json()["error"] == "/__wxemu__/reset takes POST, not DELETE"
    answer = http.put(wxemu.url("/__wxemu__/faults"))
    assert answer.headers["Allow"] == "DELETE, GET, POST"
    unknown = http.get(wxemu.url("/__wxemu__/nothing"))
    assert unknown.status_code == 404 and "GET /__wxemu__/ lists them" in unknown.json()["error"]
