"""get_token, send_log and refresh_code, and every function in each invocation shape."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from functools import partial
from types import SimpleNamespace
from typing import Any

import pytest

from wxapush.app import current_app, reset_app
from wxapush.config import reset_settings
from wxapush.services import refresh_code, send_log
from wxapush.store import LogQuery
from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import Invoke, gateway_event, handler, log_records, send_event, token_fetches
from .test_send import OTHER_OPENID, assert_error

SHANGHAI = timezone(timedelta(hours=8))


def today() -> str:
    return datetime.now(SHANGHAI).date().isoformat()


# -- get_token ---------------------------------------------------------------------------------


def test_get_token_serves_the_shared_token(invoke: Invoke, wxemu: RunningServer) -> None:
    first = invoke("get_token", {})
    assert first["errcode"] == 0 and 7000 < first["expires_in"] <= 7200
    assert first["expires_at"].endswith("+08:00")
    assert invoke("get_token", {})["access_token"] == first["access_token"]
    assert token_fetches(wxemu) == 1
    # The token works against WeChat.
    answer = wxemu.http.post(
        wxemu.url("/cgi-bin/message/subscribe/send"),
        params={"access_token": first["access_token"]},
        json={"touser": demo.OPENID, "template_id": demo.TEMPLATE_ID, "data": {}},
    ).json()
    assert answer["errcode"] == 47003  # the token was accepted; the data was not


def test_get_token_force_refresh_respects_wechat_interval(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    first = invoke("get_token", {})
    assert invoke("get_token", {"force_refresh": True})["access_token"] == first["access_token"]
    assert token_fetches(wxemu) == 1  # within 30 s of the last fetch: not even asked
    wxemu.advance(31)
    current_app().tokens.clock = lambda: wxemu.emulator.clock.now()
    forced = invoke("get_token", {"force_refresh": True})
    assert forced["access_token"] != first["access_token"]
    assert token_fetches(wxemu) == 2


def test_a_user_cannot_obtain_the_token(invoke: Invoke) -> None:
    assert_error(invoke("get_token", {}, openid=demo.OPENID), "forbidden", 990403)


def test_get_token_refuses_a_non_boolean_flag(invoke: Invoke) -> None:
    assert_error(invoke("get_token", {"force_refresh": "yes"}), "invalid_request", 990400)


# -- send_log ----------------------------------------------------------------------------------


def test_send_log_lists_newest_first_with_paging(invoke: Invoke) -> None:
    ids = [invoke("send", send_event())["log_id"] for _ in range(5)]
    day = today()
    page1 = invoke("send_log", {"begin_date": day, "end_date": day, "count": 2})
    page2 = invoke("send_log", {"beginDate": day, "endDate": day, "offset": 2, "count": 2})
    page3 = invoke("send_log", {"begin_date": day, "end_date": day, "offset": 4, "count": 2})
    assert page1["total"] == page2["total"] == page3["total"] == 5
    listed = [row["log_id"] for page in (page1, page2, page3) for row in page["list"]]
    assert listed == list(reversed(ids))
    row = page1["list"][0]
    assert row["status"] == "sent" and isinstance(row["msgid"], int) and row["attempts"] == 1
    assert row["created_at"].endswith("+08:00")
    assert set(row) == {
        "log_id", "touser", "template_id", "page", "data", "status", "errcode", "errmsg",
        "msgid", "attempts", "idempotency_key", "created_at", "updated_at", "broadcast_id",
    }  # fmt: skip


def test_send_log_stops_counting_past_the_bound_and_says_so(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [invoke("send", send_event())["log_id"] for _ in range(4)]
    day = today()
    exact = invoke("send_log", {"begin_date": day, "end_date": day, "count": 2})
    assert (exact["total"], exact["total_exact"]) == (4, True)
    # The bound is 500 (LogQuery.exact_up_to); 2 here stands in for it.
    monkeypatch.setattr(send_log, "LogQuery", partial(LogQuery, exact_up_to=2))
    page = invoke("send_log", {"begin_date": day, "end_date": day, "offset": 2, "count": 2})
    assert (page["total"], page["total_exact"]) == (3, False)
    assert [row["log_id"] for row in page["list"]] == ids[1::-1]  # still the exact page


def test_send_log_filters_and_date_bounds(invoke: Invoke) -> None:
    invoke("send", send_event())
    bad = send_event()
    bad["data"]["thing1"] = "字" * 30
    invoke("send", bad)
    day = today()
    rejected = invoke("send_log", {"begin_date": day, "end_date": day, "status": "rejected"})
    assert rejected["total"] == 1 and rejected["list"][0]["errcode"] == 47003
    by_template = invoke(
        "send_log", {"begin_date": day, "end_date": day, "template_id": demo.TEMPLATE_ID}
    )
    assert by_template["total"] == 2
    yesterday = (datetime.now(SHANGHAI).date() - timedelta(days=1)).isoformat()
    assert invoke("send_log", {"begin_date": yesterday, "end_date": yesterday})["total"] == 0


def test_a_user_sees_only_its_own_records(invoke: Invoke, wxemu: RunningServer) -> None:
    template = demo.TEMPLATE_ID
    wxemu.grant(demo.APPID, OTHER_OPENID, template, 1)
    invoke("send", send_event())
    invoke("send", send_event(touser=OTHER_OPENID))
    day = today()
    mine = invoke("send_log", {"begin_date": day, "end_date": day}, openid=demo.OPENID)
    assert mine["total"] == 1 and mine["list"][0]["touser"] == demo.OPENID
    peek = {"begin_date": day, "end_date": day, "touser": OTHER_OPENID}
    assert_error(invoke("send_log", peek, openid=demo.OPENID), "forbidden", 990403)
    assert invoke("send_log", {"begin_date": day, "end_date": day})["total"] == 2


@pytest.mark.parametrize(
    "event",
    [
        {"begin_date": "2026/11/01", "end_date": "2026-11-02"},
        {"begin_date": "2026-11-02", "end_date": "2026-11-01"},
        {"end_date": "2026-11-02"},
        {"begin_date": "2026-11-01", "end_date": "2026-11-02", "count": 101},
        {"begin_date": "2026-11-01", "end_date": "2026-11-02", "status": "lost"},
    ],
)
def test_send_log_refuses_bad_queries(invoke: Invoke, event: dict[str, Any]) -> None:
    assert_error(invoke("send_log", event), "invalid_request", 990400)


# -- refresh_code ------------------------------------------------------------------------------


TIMER = {"Type": "Timer", "TriggerName": "refresh", "Time": "2026-11-27T02:00:00Z", "Message": ""}


def test_refresh_code_syncs_templates_so_validation_knows_them(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    result = invoke("refresh_code", TIMER)
    assert result["errcode"] == 0, result
    assert result["templates"] == {"ok": True, "count": 2}
    assert result["token"]["ok"] and result["prune"]["ok"]
    # Now an enum value outside the list is refused locally (a key the template lacks is left
    # out with a warning: tests/functional/test_send_hints.py).
    device = {
        "touser": demo.OPENID,
        "template_id": demo.LONG_TERM_TEMPLATE_ID,
        "data": {"time1": "12:00", "enum_string2": "车库", "thing4": "洗衣机"},
    }
    refused = invoke("send", device)
    assert_error(refused, "invalid_argument", 47003)
    assert refused["field"] == "data.enum_string2.value"
    assert wxemu.messages(demo.APPID) == []


def test_refresh_code_prunes_old_records(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    invoke("send", send_event(idempotency_key="old"))
    assert len(log_records()) == 1
    assert current_app().store.counters.take("cap:wx:o:2026-01-01", 3, 2 * 86400)  # a cap's day
    later = time.time() + 40 * 86400  # past the 30-day retention and the 1-day key TTL
    monkeypatch.setattr(refresh_code, "time", SimpleNamespace(time=lambda: later))
    result = invoke("refresh_code", TIMER)
    assert result["prune"] == {
        "ok": True, "idempotency_keys": 1, "log_records": 1, "event_keys": 0, "cap_counters": 1,
        "credential_locks": 0, "rate_buckets": 0,
    }  # fmt: skip
    assert log_records() == []


def test_refresh_code_reports_each_step(invoke: Invoke, wxemu: RunningServer) -> None:
    wxemu.fault("/wxaapi/newtmpl/gettemplate", errcode=-1, times=10)
    result = invoke("refresh_code", TIMER)
    assert_error(result, "upstream_error", -1)
    assert result["templates"]["ok"] is False
    assert result["token"]["ok"] is True and result["prune"]["ok"] is True


def test_refresh_code_is_not_for_users(invoke: Invoke) -> None:
    assert_error(invoke("refresh_code", {}, openid=demo.OPENID), "forbidden", 990403)


# -- the API-gateway shape -----------------------------------------------------------------------


def test_send_over_the_gateway(env: dict[str, str], wxemu: RunningServer) -> None:
    answer = handler("send")(gateway_event("POST", "/send", send_event()), {})
    assert answer["statusCode"] == 200 and answer["isBase64Encoded"] is False
    body = json.loads(answer["body"])
    assert body["errcode"] == 0 and body["status"] == "sent"
    assert len(wxemu.messages(demo.APPID)) == 1


def test_send_log_over_the_gateway_with_a_query(env: dict[str, str]) -> None:
    day = today()
    event = gateway_event("GET", "/send_log", query={"begin_date": day, "end_date": day})
    answer = handler("send_log")(event, {})
    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"])["total"] == 0


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_gateway_without_the_admin_key_is_unauthorized(
    env: dict[str, str], wxemu: RunningServer, key: Any
) -> None:
    for name in ("send", "get_token", "send_log", "refresh_code"):
        answer = handler(name)(gateway_event("POST", f"/{name}", send_event(), key=key), {})
        assert answer["statusCode"] == 401
        body = json.loads(answer["body"])
        assert (body["error"], body["errcode"]) == ("unauthorized", 990401)
    assert wxemu.messages(demo.APPID) == []


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"text"'])
def test_gateway_malformed_body_is_invalid_request(env: dict[str, str], body: str) -> None:
    answer = handler("send")(gateway_event("POST", "/send", body), {})
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"])["error"] == "invalid_request"


def test_gateway_status_codes_follow_the_slug(env: dict[str, str]) -> None:
    event = send_event()
    event["data"]["thing1"] = "字" * 21
    answer = handler("send")(gateway_event("POST", "/send", event), {})
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"])["errcode"] == 47003


def test_timer_shape_reaches_refresh_code(env: dict[str, str]) -> None:
    result = handler("refresh_code")(dict(TIMER, Type="timer"), {"time_limit_in_ms": 30000})
    assert result["errcode"] == 0, result


# -- configuration -------------------------------------------------------------------------------


def test_missing_appid_is_misconfigured(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WXAPUSH_APPID")
    reset_settings()
    reset_app()
    result = invoke("send", send_event())
    assert_error(result, "misconfigured", 990501)
    assert "WXAPUSH_APPID" in result["errmsg"]


def test_wrong_secret_is_misconfigured_and_not_echoed(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WXAPUSH_APPSECRET", "f" * 32)
    reset_settings()
    reset_app()
    result = invoke("send", send_event())
    assert_error(result, "misconfigured", 40125)
    assert "f" * 32 not in json.dumps(result)


def test_the_embedded_store_is_refused_on_scf(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WXAPUSH_STORE")
    monkeypatch.setenv("TENCENTCLOUD_RUNENV", "SCF")
    reset_settings()
    reset_app()
    result = invoke("send", send_event())
    assert_error(result, "misconfigured", 990501)
    assert result["setting"] == "WXAPUSH_STORE"


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "postgresql://nobody@127.0.0.1:1/test"])
def test_an_unreachable_store_is_a_retryable_upstream_error(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("WXAPUSH_STORE", url)
    reset_settings()
    reset_app()
    result = invoke("send", send_event())
    assert_error(result, "upstream_error", 990503)
    assert result["retryable"] is True
    assert "nobody" not in result["errmsg"]
    assert wxemu.messages(demo.APPID) == []
    answer = handler("get_token")(gateway_event("POST", "/get_token", {}), {})
    assert answer["statusCode"] == 502
