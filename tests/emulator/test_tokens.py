"""/cgi-bin/token and /cgi-bin/stable_token over HTTP, with expiry driven by the clock."""

from __future__ import annotations

import re
from typing import Any, Optional

import pytest
import requests

from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import assert_wechat_error

TOKEN_RE = re.compile(r"^\d+_[A-Za-z0-9_-]+$")
OK = {"grant_type": "client_credential", "appid": demo.APPID, "secret": demo.SECRET}
INVALID_CREDENTIAL = (
    "invalid credential, access_token is invalid or not latest, could get access_token by "
    "getStableAccessToken, more details at https://mmbizurl.cn/s/JtxxFh33r"
)


def classic(wxemu: RunningServer, http: requests.Session, **params: str) -> requests.Response:
    return http.get(wxemu.url("/cgi-bin/token"), params={**OK, **params})


def stable(
    wxemu: RunningServer, http: requests.Session, force: Optional[bool] = None, **fields: Any
) -> requests.Response:
    body: dict[str, Any] = {**OK, **fields}
    if force is not None:
        body["force_refresh"] = force
    return http.post(wxemu.url("/cgi-bin/stable_token"), json=body)


def use(wxemu: RunningServer, http: requests.Session, token: str) -> requests.Response:
    """A call that needs a token and changes nothing: gettemplate."""
    return http.get(wxemu.url("/wxaapi/newtmpl/gettemplate"), params={"access_token": token})


def assert_usable(wxemu: RunningServer, http: requests.Session, token: str) -> None:
    assert use(wxemu, http, token).json()["errcode"] == 0


def test_token_is_issued_for_7200_seconds_in_wechats_format(wxemu, http):
    response = classic(wxemu, http)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; encoding=utf-8"
    body = response.json()
    assert set(body) == {"access_token", "expires_in"}
    assert body["expires_in"] == 7200
    assert TOKEN_RE.match(body["access_token"]) and len(body["access_token"]) >= 100
    assert_usable(wxemu, http, body["access_token"])


@pytest.mark.parametrize(
    ("params", "errcode", "errmsg"),
    [
        ({"grant_type": "password"}, 40002, "invalid grant_type"),
        ({"appid": ""}, 41002, "appid missing"),
        ({"appid": "wx0000000000000000"}, 40013, "invalid appid"),
        ({"secret": ""}, 41004, "appsecret missing"),
        ({"secret": "0" * 32}, 40125, "invalid appsecret"),
    ],
)
def test_token_credential_errors(wxemu, http, params, errcode, errmsg):
    assert_wechat_error(classic(wxemu, http, **params), errcode, errmsg, wxemu)


def test_token_expires_after_7200_seconds_with_42001(wxemu, http):
    token = classic(wxemu, http).json()["access_token"]
    wxemu.advance(7199)
    assert_usable(wxemu, http, token)
    wxemu.advance(1)
    assert_wechat_error(use(wxemu, http, token), 42001, "access_token expired", wxemu)


def test_refetch_leaves_previous_token_valid_five_minutes_then_40001(wxemu, http):
    first = classic(wxemu, http).json()["access_token"]
    second = classic(wxemu, http).json()["access_token"]
    assert first != second
    wxemu.advance(299)
    assert_usable(wxemu, http, first)
    wxemu.advance(1)
    assert_wechat_error(use(wxemu, http, first), 40001, INVALID_CREDENTIAL, wxemu)
    assert_usable(wxemu, http, second)


def test_stable_token_normal_mode_returns_same_token_with_remaining_lifetime(wxemu, http):
    first = stable(wxemu, http).json()
    assert first["expires_in"] == 7200
    wxemu.advance(1000)
    again = stable(wxemu, http, force=False).json()
    assert again["access_token"] == first["access_token"]
    assert again["expires_in"] == 6200


def test_stable_token_renews_in_its_last_five_minutes_and_old_one_keeps_working(wxemu, http):
    old = stable(wxemu, http).json()["access_token"]
    wxemu.advance(6900)  # exactly 300 s left: renewal time
    renewed = stable(wxemu, http).json()
    assert renewed["access_token"] != old
    assert renewed["expires_in"] == 7200
    assert_usable(wxemu, http, old)
    wxemu.advance(299)
    assert_usable(wxemu, http, old)
    wxemu.advance(1)
    assert_wechat_error(use(wxemu, http, old), 42001, "access_token expired", wxemu)
    assert_usable(wxemu, http, renewed["access_token"])


def test_stable_force_refresh_replaces_token_old_valid_five_minutes(wxemu, http):
    old = stable(wxemu, http).json()["access_token"]
    fresh = stable(wxemu, http, force=True).json()
    assert fresh["access_token"] != old and fresh["expires_in"] == 7200
    wxemu.advance(299)
    assert_usable(wxemu, http, old)
    wxemu.advance(1)
    assert_wechat_error(use(wxemu, http, old), 40001, INVALID_CREDENTIAL, wxemu)


def test_two_force_refreshes_30s_apart_kill_a_leaked_token_at_once(wxemu, http):
    leaked = stable(wxemu, http).json()["access_token"]
    stable(wxemu, http, force=True)
    wxemu.advance(30)
    stable(wxemu, http, force=True)
    assert_wechat_error(use(wxemu, http, leaked), 40001, INVALID_CREDENTIAL, wxemu)


def test_force_refresh_within_30_seconds_does_not_refresh(wxemu, http):
    stable(wxemu, http)
    first = stable(wxemu, http, force=True).json()["access_token"]
    wxemu.advance(29)
    assert stable(wxemu, http, force=True).json()["access_token"] == first


def test_the_30_second_gap_holds_across_midnight(wxemu, http):
    wxemu.advance_to("23:59:50")
    stable(wxemu, http)
    first = stable(wxemu, http, force=True).json()["access_token"]
    wxemu.advance(20)  # 00:00:10 in Beijing: a new day, but 20 s after the last refresh
    assert stable(wxemu, http, force=True).json()["access_token"] == first
    wxemu.advance(10)
    assert stable(wxemu, http, force=True).json()["access_token"] != first


def test_21st_force_refresh_of_the_day_answers_45009(wxemu, http):
    wxemu.advance_to("12:00")  # the 20 refreshes and the 21st fall on one Beijing day
    stable(wxemu, http)
    for _ in range(20):
        assert "access_token" in stable(wxemu, http, force=True).json()
        wxemu.advance(30)
    response = stable(wxemu, http, force=True)
    assert_wechat_error(response, 45009, "reach max api daily quota limit", wxemu)


def test_force_refreshes_are_counted_per_beijing_day(wxemu, http):
    wxemu.advance_to("23:49:30")
    stable(wxemu, http)
    for _ in range(20):
        assert "access_token" in stable(wxemu, http, force=True).json()
        wxemu.advance(30)
    assert_wechat_error(  # 23:59:30: the day's 20 are spent
        stable(wxemu, http, force=True), 45009, "reach max api daily quota limit", wxemu
    )
    wxemu.advance(31)  # 00:00:01 in Beijing: a new day
    assert "access_token" in stable(wxemu, http, force=True).json()


def test_stable_token_requires_post_43002(wxemu, http):
    response = http.get(wxemu.url("/cgi-bin/stable_token"), params=OK)
    assert_wechat_error(response, 43002, "require POST method", wxemu)


def test_stable_token_form_body_answers_47001(wxemu, http):
    response = http.post(wxemu.url("/cgi-bin/stable_token"), data=OK)
    assert_wechat_error(response, 47001, "data format error", wxemu)


def test_stable_token_empty_body_answers_44002(wxemu, http):
    response = http.post(wxemu.url("/cgi-bin/stable_token"))
    assert_wechat_error(response, 44002, "empty post data", wxemu)


@pytest.mark.parametrize(
    ("fields", "errcode", "errmsg"),
    [
        ({"grant_type": "x"}, 40002, "invalid grant_type"),
        ({"appid": None}, 41002, "appid missing"),
        ({"appid": "wx0000000000000000"}, 40013, "invalid appid"),
        ({"secret": None}, 41004, "appsecret missing"),
        ({"secret": "nope"}, 40125, "invalid appsecret"),
    ],
)
def test_stable_token_credential_errors(wxemu, http, fields, errcode, errmsg):
    assert_wechat_error(stable(wxemu, http, **fields), errcode, errmsg, wxemu)


def test_stable_and_classic_tokens_are_isolated(wxemu, http):
    stable_token = stable(wxemu, http).json()["access_token"]
    classic_token = classic(wxemu, http).json()["access_token"]
    assert stable_token != classic_token
    classic(wxemu, http)  # supersedes the classic token only
    wxemu.advance(300)
    assert stable(wxemu, http).json()["access_token"] == stable_token
    assert_usable(wxemu, http, stable_token)
    assert use(wxemu, http, classic_token).json()["errcode"] == 40001
    stable(wxemu, http, force=True)  # replaces the stable token only
    latest_classic = classic(wxemu, http).json()["access_token"]
    assert_usable(wxemu, http, latest_classic)
