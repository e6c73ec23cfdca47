"""/sns/jscode2session and the quota APIs over HTTP; 45009 from daily limits."""

from __future__ import annotations

import json
import re

import pytest

from wxemu import demo

from .conftest import assert_wechat_error, send_body

LOGIN_RID_RE = re.compile(r"^(?P<text>.*), rid: (?P<t>[0-9a-f]{8})-[0-9a-f]{8}-[0-9a-f]{8}$")


def assert_login_error(response, errcode, errmsg, server):
    """jscode2session's own error form (observed): HTTP 200, text/plain, ``<text>, rid: …``."""
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain"
    body = json.loads(response.text)
    assert body["errcode"] == errcode, body
    match = LOGIN_RID_RE.match(body["errmsg"])
    assert match is not None, body["errmsg"]
    assert match["text"] == errmsg
    assert abs(int(match["t"], 16) - server.emulator.clock.now()) <= 5


SESSION = "/sns/jscode2session"
QUOTA_GET = "/cgi-bin/openapi/quota/get"
SEND = "/cgi-bin/message/subscribe/send"


def code2session(wxemu, http, code, **overrides):
    params = {
        "appid": demo.APPID,
        "secret": demo.SECRET,
        "js_code": code,
        "grant_type": "authorization_code",
        **overrides,
    }
    return http.get(wxemu.url(SESSION), params=params)


def test_jscode2session_answers_openid_and_session_key(wxemu, http):
    minted = wxemu.login_code(demo.APPID, demo.OPENID)
    assert re.fullmatch(r"[A-Za-z0-9]{32}", minted["code"])
    body = code2session(wxemu, http, minted["code"]).json()
    assert body["openid"] == demo.OPENID
    assert len(body["session_key"]) == 24
    assert "errcode" not in body


def test_login_code_makes_a_new_openid_known(wxemu, http, token):
    minted = wxemu.login_code(demo.APPID)
    openid = minted["openid"]
    assert len(openid) == 28 and openid.startswith("o")
    assert code2session(wxemu, http, minted["code"]).json()["openid"] == openid
    sent = http.post(
        wxemu.url(SEND), params={"access_token": token}, json=send_body(touser=openid)
    ).json()
    assert sent["errcode"] == 43101  # known now (not 40003), but no grant


def test_login_code_is_single_use_40163(wxemu, http):
    code = wxemu.login_code(demo.APPID)["code"]
    code2session(wxemu, http, code)
    assert_login_error(code2session(wxemu, http, code), 40163, "code been used", wxemu)


def test_used_code_of_this_app_is_not_40163_for_another_app(wxemu, http):
    other = wxemu.add_app()
    code = wxemu.login_code(demo.APPID)["code"]
    code2session(wxemu, http, code)
    answer = code2session(wxemu, http, code, appid=other["appid"], secret=other["secret"])
    assert answer.json()["errcode"] == 40029


def test_expired_code_stays_invalid_not_used(wxemu, http):
    code = wxemu.login_code(demo.APPID)["code"]
    wxemu.advance(300)
    assert_login_error(code2session(wxemu, http, code), 40029, "invalid code", wxemu)
    assert_login_error(code2session(wxemu, http, code), 40029, "invalid code", wxemu)


def test_login_code_expires_after_5_minutes_40029(wxemu, http):
    code = wxemu.login_code(demo.APPID)["code"]
    wxemu.advance(300)
    assert_login_error(code2session(wxemu, http, code), 40029, "invalid code", wxemu)


def test_login_code_of_another_app_40029(wxemu, http):
    other = wxemu.add_app()
    code = wxemu.login_code(other["appid"])["code"]
    assert_login_error(code2session(wxemu, http, code), 40029, "invalid code", wxemu)


@pytest.mark.parametrize(
    ("overrides", "errcode", "errmsg"),
    [
        ({"js_code": "x" * 32}, 40029, "invalid code"),
        ({"js_code": ""}, 41008, "missing code"),
        ({"appid": ""}, 41002, "appid missing"),
        ({"appid": "wx0000000000000000"}, 40013, "invalid appid"),
        ({"secret": ""}, 41004, "appsecret missing"),
        ({"secret": "bad"}, 40125, "invalid appsecret"),
        ({"grant_type": "client_credential"}, 40002, "invalid grant_type"),
    ],
)
def test_jscode2session_errors(wxemu, http, overrides, errcode, errmsg):
    code = wxemu.login_code(demo.APPID)["code"]
    response = code2session(wxemu, http, code, **overrides)
    assert_login_error(response, errcode, errmsg, wxemu)


def quota(wxemu, http, token, cgi_path):
    return http.post(
        wxemu.url(QUOTA_GET), params={"access_token": token}, json={"cgi_path": cgi_path}
    )


def test_quota_get_counts_calls(wxemu, http, token):
    for _ in range(3):
        http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body())
    body = quota(wxemu, http, token, SEND).json()
    assert body["errcode"] == 0
    assert body["quota"] == {"daily_limit": 10_000_000, "used": 3, "remain": 9_999_997}
    assert set(body["rate_limit"]) == {"call_count", "refresh_second"}
    assert set(body["component_rate_limit"]) == {"call_count", "refresh_second"}
    token_quota = quota(wxemu, http, token, "/cgi-bin/token").json()["quota"]
    assert token_quota["daily_limit"] == 2000 and token_quota["used"] == 1


def test_quota_get_unknown_path_76021(wxemu, http, token):
    response = quota(wxemu, http, token, "/cgi-bin/nope")
    assert_wechat_error(response, 76021, "cgi_path not found, please check", wxemu)


def test_quota_get_sns_path_76022(wxemu, http, token):
    response = quota(wxemu, http, token, SESSION)
    assert_wechat_error(response, 76022, "could not use this cgi_path，no permission", wxemu)


def test_daily_limit_passed_45009_then_next_day_fine(wxemu, http, token):
    wxemu.set_daily_limit(demo.APPID, SEND, 2)
    for _ in range(2):
        r = http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body())
        assert r.json()["errcode"] == 0
    response = http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body())
    assert_wechat_error(response, 45009, "reach max api daily quota limit", wxemu)
    assert len(wxemu.messages()) == 2
    wxemu.advance(86400)
    token = wxemu.token()
    r = http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body())
    assert r.json()["errcode"] == 0


def test_token_daily_limit_45009(wxemu, http):
    wxemu.set_daily_limit(demo.APPID, "/cgi-bin/token", 1)
    wxemu.token()
    params = {"grant_type": "client_credential", "appid": demo.APPID, "secret": demo.SECRET}
    response = http.get(wxemu.url("/cgi-bin/token"), params=params)
    assert_wechat_error(response, 45009, "reach max api daily quota limit", wxemu)


def test_clear_quota_resets_counters(wxemu, http, token):
    wxemu.set_daily_limit(demo.APPID, SEND, 1)
    http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body())
    assert (
        http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body()).json()[
            "errcode"
        ]
        == 45009
    )
    cleared = http.post(
        wxemu.url("/cgi-bin/clear_quota"),
        params={"access_token": token},
        json={"appid": demo.APPID},
    )
    assert cleared.json() == {"errcode": 0, "errmsg": "ok"}
    r = http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body())
    assert r.json()["errcode"] == 0


def test_clear_quota_limit_48006(wxemu, http, token):
    url = wxemu.url("/cgi-bin/clear_quota")
    for _ in range(10):
        r = http.post(url, params={"access_token": token}, json={"appid": demo.APPID})
        assert r.json()["errcode"] == 0
    response = http.post(url, params={"access_token": token}, json={"appid": demo.APPID})
    assert_wechat_error(
        response, 48006, "forbid to clear quota because of reaching the limit", wxemu
    )


def test_clear_quota_other_appid_40013(wxemu, http, token):
    response = http.post(
        wxemu.url("/cgi-bin/clear_quota"), params={"access_token": token}, json={"appid": "wxother"}
    )
    assert_wechat_error(response, 40013, "invalid appid", wxemu)


def test_clear_api_quota_resets_one_path(wxemu, http, token):
    http.post(wxemu.url(SEND), params={"access_token": token}, json=send_body())
    r = http.post(
        wxemu.url("/cgi-bin/openapi/quota/clear"),
        params={"access_token": token},
        json={"cgi_path": SEND},
    )
    assert r.json() == {"errcode": 0, "errmsg": "ok"}
    assert quota(wxemu, http, token, SEND).json()["quota"]["used"] == 0


def test_paths_are_case_sensitive_40066(wxemu, http):
    # Observed: /sns/jsCode2Session answers 40066 invalid url.
    response = http.get(wxemu.url("/sns/jsCode2Session"), params={"appid": demo.APPID})
    assert_wechat_error(response, 40066, "invalid url", wxemu)
