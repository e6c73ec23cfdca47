"""Invocation shapes -> (request, caller); results -> return values."""

from __future__ import annotations

import base64
import json
import logging
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from tests.fixtures import load
from wxapush import runtime
from wxapush.app import reset_app
from wxapush.config import reset_settings
from wxapush.errors import (
    ERROR_CLASSES,
    InvalidArgument,
    Misconfigured,
    UpstreamError,
    ok,
)
from wxapush.runtime import MAX_BODY_BYTES, Caller, Invocation, invoke

APPID = "wx1234567890abcdef"  # the AppID of the CloudBase fixtures
OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
ADMIN_KEY = "test-admin-key-0123456789-0123456789abcdef"
SECRET = "appsecret-never-shown-0001"


@pytest.fixture(autouse=True)
def settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in ("WX_OPENID", "WX_APPID", "WX_UNIONID", "WX_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WXAPUSH_APPID", APPID)
    monkeypatch.setenv("WXAPUSH_APPSECRET", SECRET)
    monkeypatch.setenv("WXAPUSH_ADMIN_KEY", ADMIN_KEY)
    # A store of its own: failed credentials are counted there (wxapush.credential_guard).
    monkeypatch.setenv("WXAPUSH_STORE", f"sqlite:///{tmp_path / 'wxapush.db'}")
    reset_app()
    reset_settings()
    yield
    reset_app()
    reset_settings()


class Recorder:
    """A service that records its invocation and answers ``ok``."""

    def __init__(self, result: Optional[Dict[str, Any]] = None) -> None:
        self.calls: List[Invocation] = []
        self.result = result

    def __call__(self, inv: Invocation) -> Dict[str, Any]:
        self.calls.append(inv)
        return self.result if self.result is not None else ok(seen=True)

    @property
    def inv(self) -> Invocation:
        assert len(self.calls) == 1
        return self.calls[0]


def raising(error: BaseException) -> Any:
    def service(inv: Invocation) -> Dict[str, Any]:
        raise error

    return service


def gateway(
    body: Optional[str] = None,
    *,
    method: str = "POST",
    headers: Optional[Dict[str, Any]] = None,
    key: Optional[str] = ADMIN_KEY,
    **extra: Any,
) -> Dict[str, Any]:
    event = load("apigw_post_event")
    event["httpMethod"] = method
    event["body"] = body
    event["headers"].update(headers or {})
    if key is not None:
        event["headers"]["Authorization"] = f"Bearer {key}"
    event.update(extra)
    return event


def assert_failure(result: Any, slug: str, errcode: int) -> Dict[str, Any]:
    assert isinstance(result, dict)
    json.dumps(result)
    assert result["error"] == slug and result["errcode"] == errcode, result
    assert isinstance(result["retryable"], bool) and isinstance(result["errmsg"], str)
    return result


def assert_http_failure(response: Any, status: int, slug: str, errcode: int) -> Dict[str, Any]:
    assert set(response) == {"isBase64Encoded", "statusCode", "headers", "body"}
    assert response["isBase64Encoded"] is False
    assert response["statusCode"] == status
    assert response["headers"]["Content-Type"] == "application/json; charset=utf-8"
    return assert_failure(json.loads(response["body"]), slug, errcode)


# -- direct -------------------------------------------------------------------------------------


def test_direct_service_call_with_an_scf_context() -> None:
    service = Recorder()
    before = time.monotonic()
    result = invoke(service, {"touser": "oX", "data": {}}, load("scf_context"))
    assert result == {"errcode": 0, "errmsg": "ok", "seen": True}
    inv = service.inv
    assert inv.shape == "direct" and inv.http is None
    assert inv.caller == Caller("service")
    assert inv.request == {"touser": "oX", "data": {}}
    assert inv.request_id == "4ca7089c-3bb0-48cf-bcdb-26d130fed2ae"
    assert before + 2.9 < inv.deadline <= time.monotonic() + 3.0  # time_limit_in_ms 3000
    assert 0 < inv.remaining() <= 3.0


def test_no_context_at_all_gives_a_default_deadline() -> None:
    service = Recorder()
    invoke(service, {}, None)
    assert service.inv.request_id is None
    assert runtime.DEFAULT_TIME_LIMIT - 1 < service.inv.remaining() <= runtime.DEFAULT_TIME_LIMIT
    for bad in ({"time_limit_in_ms": "soon"}, {"time_limit_in_ms": -5}, {"time_limit_in_ms": True}):
        service = Recorder()
        invoke(service, {}, bad)
        assert service.inv.remaining() > runtime.DEFAULT_TIME_LIMIT - 1


def test_remaining_never_negative() -> None:
    inv = Invocation({}, Caller("service"), "direct", time.monotonic() - 5)
    assert inv.remaining() == 0.0


def test_user_from_cloudbase_context_environment() -> None:
    service = Recorder()
    invoke(service, {"template_id": "T"}, load("cloudbase_context"))
    caller = service.inv.caller
    assert caller == Caller(
        "user",
        openid=OPENID,
        appid=APPID,
        unionid="o6_bmasdasdsad6_2sgVt7hMZOPfL",
        source="wx_client",
    )
    assert service.inv.shape == "direct"


def test_user_from_the_environment_given_as_key_value_pairs() -> None:
    for context in (
        {"environ": f"SCF_NAMESPACE=x;WX_OPENID={OPENID};WX_APPID={APPID};"},
        {"environment": f"WX_OPENID={OPENID};WX_APPID={APPID}"},
        {"environment": {"WX_OPENID": OPENID}},  # already parsed by a local runner
    ):
        service = Recorder()
        invoke(service, {}, context)
        assert service.inv.caller.kind == "user" and service.inv.caller.openid == OPENID


def test_legacy_user_info_alone_identifies_nobody_and_is_refused() -> None:
    # The event is the caller's own text: an openId there, with no WX_OPENID in the context,
    # is neither that user nor a service.
    service = Recorder()
    assert_failure(invoke(service, load("cloudbase_event"), {}), "unauthorized", 990401)
    assert not service.calls


def test_legacy_user_info_is_stripped_from_a_user_request() -> None:
    service = Recorder()
    invoke(service, load("cloudbase_event"), load("cloudbase_context"))
    assert service.inv.caller.openid == OPENID
    assert "userInfo" not in service.inv.request
    assert service.inv.request["template_id"] == "TEMPLATE_ID"


def test_both_identity_channels_agreeing() -> None:
    service = Recorder()
    invoke(service, load("cloudbase_event"), load("cloudbase_context"))
    assert service.inv.caller.openid == OPENID and service.inv.caller.source == "wx_client"


def test_conflicting_openids_are_refused_as_unauthorized() -> None:
    event = load("cloudbase_event")
    event["userInfo"]["openId"] = "oSomebodyElse"
    service = Recorder()
    result = invoke(service, event, load("cloudbase_context"))
    assert_failure(result, "unauthorized", 990401)
    assert not service.calls


def test_conflicting_appids_are_refused() -> None:
    event = load("cloudbase_event")
    event["userInfo"]["appId"] = "wxother"
    assert_failure(invoke(Recorder(), event, load("cloudbase_context")), "unauthorized", 990401)


def test_environment_and_environ_must_agree() -> None:
    context = {"environment": json.dumps({"WX_OPENID": "o1"}), "environ": "WX_OPENID=o2"}
    assert_failure(invoke(Recorder(), {}, context), "unauthorized", 990401)


def test_a_user_of_another_mini_program_is_forbidden() -> None:
    context = {"environment": json.dumps({"WX_OPENID": OPENID, "WX_APPID": "wxanotherapp000000"})}
    service = Recorder()
    assert_failure(invoke(service, {}, context), "forbidden", 990403)
    assert not service.calls


@pytest.mark.parametrize(
    "context",
    [
        {"environment": '{"WX_OPENID": "o1"'},  # truncated JSON
        {"environment": "[1, 2]"},
        {"environment": 42},
        {"environment": "garbage without pairs"},
        {"environ": "WX_OPENID"},
        {"environment": json.dumps({"WX_OPENID": 123})},
        {"environment": json.dumps({"WX_OPENID": " o1 "})},
    ],
)
def test_unreadable_identity_never_falls_back_to_service(context: Dict[str, Any]) -> None:
    service = Recorder()
    assert_failure(invoke(service, {}, context), "unauthorized", 990401)
    assert not service.calls


def test_user_info_not_an_object_is_refused() -> None:
    assert_failure(invoke(Recorder(), {"userInfo": "o1"}, {}), "unauthorized", 990401)


def test_http_api_event_with_only_an_appid_is_a_service() -> None:
    service = Recorder()
    invoke(service, load("cloudbase_http_api_event"), load("scf_context"))
    assert service.inv.caller.kind == "service"
    assert service.inv.request == {}


def test_a_service_keeps_the_source_of_a_cloudbase_trigger() -> None:
    service = Recorder()
    invoke(service, {}, {"environment": json.dumps({"WX_SOURCE": "wx_trigger"})})
    assert service.inv.caller == Caller("service", source="wx_trigger")


def test_stale_identity_in_os_environ_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # A warm instance whose runtime copied a previous caller's identity into os.environ.
    monkeypatch.setenv("WX_OPENID", "oStalePreviousCaller")
    monkeypatch.setenv("WX_APPID", APPID)
    service = Recorder()
    invoke(service, {}, load("scf_context"))
    assert service.inv.caller == Caller("service")
    service = Recorder()
    invoke(service, {}, load("cloudbase_context"))
    assert service.inv.caller.openid == OPENID


def test_identity_does_not_leak_between_warm_invocations() -> None:
    service = Recorder()
    invoke(service, {}, load("cloudbase_context"))
    invoke(service, {}, load("scf_context"))
    assert [c.caller.kind for c in service.calls] == ["user", "service"]


@pytest.mark.parametrize(
    "disguise",
    [
        {"Type": "Timer", "TriggerName": "x"},
        {"httpMethod": "POST", "headers": {"authorization": f"Bearer {ADMIN_KEY}"}, "body": "{}"},
    ],
)
def test_a_user_cannot_disguise_a_call_as_timer_or_gateway(disguise: Dict[str, Any]) -> None:
    service = Recorder()
    invoke(service, disguise, load("cloudbase_context"))
    assert service.inv.shape == "direct"
    assert service.inv.caller.kind == "user"


@pytest.mark.parametrize("event", [None, [], "{}", 3, b"{}"])
def test_an_event_that_is_not_an_object_is_invalid(event: Any) -> None:
    service = Recorder()
    assert_failure(invoke(service, event, {}), "invalid_request", 990400)
    assert not service.calls


def test_direct_results_are_json_copies() -> None:
    inner = {"list": (1, 2)}
    service = Recorder(ok(nested=inner))
    result = invoke(service, {}, {})
    assert result == {"errcode": 0, "errmsg": "ok", "nested": {"list": [1, 2]}}
    result["nested"]["list"].append(3)
    assert inner == {"list": (1, 2)}


# -- API gateway --------------------------------------------------------------------------------


def test_gateway_post_with_the_admin_key() -> None:
    service = Recorder()
    response = invoke(service, gateway('{"touser": "oX", "data": {"thing1": "hi"}}'), {})
    assert response == {
        "isBase64Encoded": False,
        "statusCode": 200,
        "headers": {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"},
        "body": json.dumps({"errcode": 0, "errmsg": "ok", "seen": True}),
    }
    inv = service.inv
    assert inv.shape == "gateway" and inv.caller == Caller("service", source="http")
    assert inv.request == {"touser": "oX", "data": {"thing1": "hi"}}
    assert inv.request_id == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"  # from requestContext
    assert inv.http is not None
    assert inv.http.method == "POST" and inv.http.path == "/test/value"
    assert inv.http.query == {"foo": "bar", "bob": "alice"}
    assert inv.http.source_ip == "10.0.2.14"
    assert inv.http.header("User-Agent") == "User Agent String"  # sent as "user-Agent"
    assert inv.http.headers["accept-language"] == "en-US,en,cn"


def test_gateway_documented_event_unchanged_is_refused_without_a_key() -> None:
    response = invoke(Recorder(), load("apigw_post_event"), load("scf_context"))
    assert_http_failure(response, 401, "unauthorized", 990401)
    assert response["headers"]["WWW-Authenticate"].startswith("Bearer")


def test_gateway_context_request_id_wins() -> None:
    service = Recorder()
    invoke(service, gateway("{}"), load("scf_context"))
    assert service.inv.request_id == "4ca7089c-3bb0-48cf-bcdb-26d130fed2ae"


def test_gateway_get_merges_the_query() -> None:
    event = load("apigw_get_event")
    event["headers"]["authorization"] = f"Bearer {ADMIN_KEY}"
    event["queryString"] = {"begin_date": "2024-01-01", "count": "10", "tag": ["only"]}
    service = Recorder()
    response = invoke(service, event, {}, methods=("GET", "POST"))
    assert response["statusCode"] == 200
    assert service.inv.request == {"begin_date": "2024-01-01", "count": "10", "tag": "only"}
    assert service.inv.http is not None and service.inv.http.method == "GET"


def test_gateway_get_query_and_body_must_agree() -> None:
    event = gateway('{"count": 5}', method="get", queryString={"count": "10"})
    assert_http_failure(
        invoke(Recorder(), event, {}, methods=("GET", "POST")), 400, "invalid_request", 990400
    )
    event = gateway('{"count": "10"}', method="GET", queryString={"count": "10"})
    assert invoke(Recorder(), event, {}, methods=("GET", "POST"))["statusCode"] == 200


def test_gateway_post_ignores_the_query_in_the_request() -> None:
    service = Recorder()
    invoke(service, gateway('{"a": 1}', queryString={"b": "2"}), {})
    assert service.inv.request == {"a": 1}


def test_gateway_repeated_query_parameter_is_refused() -> None:
    event = gateway(None, method="GET", queryString={"count": ["1", "2"]})
    assert_http_failure(
        invoke(Recorder(), event, {}, methods=("GET", "POST")), 400, "invalid_request", 990400
    )


def test_gateway_query_string_parameters_used_when_query_string_is_absent() -> None:
    event = gateway(None, method="GET")
    del event["queryString"]
    service = Recorder()
    invoke(service, event, {}, methods=("GET", "POST"))
    assert service.inv.request == {"foo": "bar"}


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {ADMIN_KEY}"},
        {"AUTHORIZATION": f"bearer {ADMIN_KEY}"},
        {"authorization": [f"Bearer {ADMIN_KEY}"]},
        {"authorization": f"  Bearer   {ADMIN_KEY} "},
    ],
)
def test_bearer_key_accepted_in_any_header_case(headers: Dict[str, Any]) -> None:
    service = Recorder()
    assert invoke(service, gateway("{}", key=None, headers=headers), {})["statusCode"] == 200
    assert service.inv.caller.kind == "service"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong-key"},
        {"authorization": f"Bearer {ADMIN_KEY}x"},
        {"authorization": f"Basic {ADMIN_KEY}"},
        {"authorization": ADMIN_KEY},
        {"authorization": "Bearer "},
        {"authorization": [f"Bearer {ADMIN_KEY}", "Bearer other"]},
        {"x-wx-openid": OPENID, "x-wx-source": "wx_client"},  # Cloud Run headers: forgeable here
    ],
)
def test_bearer_key_refused(headers: Dict[str, Any]) -> None:
    service = Recorder()
    response = invoke(service, gateway("{}", key=None, headers=headers), {})
    body = assert_http_failure(response, 401, "unauthorized", 990401)
    assert ADMIN_KEY not in response["body"] and "wrong-key" not in body["errmsg"]
    assert not service.calls


def test_no_admin_key_configured_refuses_http_service_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WXAPUSH_ADMIN_KEY")
    reset_settings()
    service = Recorder()
    for key in (ADMIN_KEY, "", None):
        response = invoke(service, gateway("{}", key=key), {})
        body = assert_http_failure(response, 401, "unauthorized", 990401)
        assert "WXAPUSH_ADMIN_KEY" in body["errmsg"]
    assert not service.calls


def test_auth_none_lets_the_service_authenticate() -> None:
    service = Recorder()
    event = gateway(None, method="GET", key=None, queryString={"echostr": "abc"})
    response = invoke(service, event, {}, auth="none", methods=("GET", "POST"))
    assert response["statusCode"] == 200
    assert service.inv.caller == Caller("anonymous", source="http")
    assert service.inv.request == {"echostr": "abc"}


def test_auth_none_works_without_an_admin_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WXAPUSH_ADMIN_KEY")
    reset_settings()
    assert invoke(Recorder(), gateway("{}", key=None), {}, auth="none")["statusCode"] == 200


def test_unknown_auth_mode_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        invoke(Recorder(), {}, {}, auth="maybe")


def test_authentication_comes_before_the_body() -> None:
    oversize = "x" * (MAX_BODY_BYTES + 1)
    response = invoke(Recorder(), gateway(oversize, key="wrong"), {})
    assert_http_failure(response, 401, "unauthorized", 990401)


def test_header_names_any_case_and_list_values_joined() -> None:
    service = Recorder()
    headers = {
        "X-Trace": ["a", "b"],
        "x-trace": "c",
        "Cookie": ["k=1", "j=2"],
        "X-Count": 3,
        "X-None": None,
    }
    invoke(service, gateway("{}", headers=headers), {})
    http = service.inv.http
    assert http is not None
    assert http.header("x-trace") == "a, b, c"
    assert http.header("COOKIE") == "k=1; j=2"
    assert http.header("x-count") == "3"
    assert http.header("x-none") is None
    assert all(name == name.lower() for name in http.headers)


def test_base64_body() -> None:
    raw = json.dumps({"thing1": "你好"}, ensure_ascii=False).encode("utf-8")
    event = gateway(base64.b64encode(raw).decode("ascii"), isBase64Encoded=True)
    service = Recorder()
    assert invoke(service, event, {})["statusCode"] == 200
    assert service.inv.request == {"thing1": "你好"}
    assert service.inv.http is not None and service.inv.http.body == raw


def test_empty_body_is_an_empty_request() -> None:
    for body in (None, "", "  \n"):
        service = Recorder()
        invoke(service, gateway(body), {})
        assert service.inv.request == {}


def test_utf8_bom_is_tolerated() -> None:
    event = gateway(base64.b64encode(b'\xef\xbb\xbf{"a": 1}').decode(), isBase64Encoded=True)
    service = Recorder()
    invoke(service, event, {})
    assert service.inv.request == {"a": 1}


@pytest.mark.parametrize(
    ("body", "b64"),
    [
        (base64.b64encode(b'{"a": "\xff\xfe"}').decode(), True),  # not UTF-8
        ("not base64 !!", True),
        ("{'single': 'quotes'}", False),  # not JSON
        ('{"a": 1', False),
        ("[1, 2, 3]", False),  # a JSON array
        ('"a string"', False),
        ("null", False),
        ("42", False),
        ('{"a": NaN}', False),
        ("[" * 100000 + "]" * 100000, False),
        ("\udcff", False),  # a lone surrogate cannot be UTF-8
    ],
)
def test_bad_bodies_are_invalid_requests(body: str, b64: bool) -> None:
    service = Recorder()
    response = invoke(service, gateway(body, isBase64Encoded=b64), {})
    assert_http_failure(response, 400, "invalid_request", 990400)
    assert not service.calls


def test_oversize_bodies_are_invalid_requests_with_their_own_code() -> None:
    big = '{"a": "' + "x" * MAX_BODY_BYTES + '"}'
    for event in (
        gateway(big),
        gateway(base64.b64encode(big.encode()).decode(), isBase64Encoded=True),
        gateway('{"a": "' + "你" * (MAX_BODY_BYTES // 3 + 1) + '"}'),  # counted in bytes
    ):
        response = invoke(Recorder(), event, {})
        body = assert_http_failure(response, 400, "invalid_request", 990413)
        assert str(MAX_BODY_BYTES) in body["errmsg"]
    exact = '{"a": "' + "x" * (MAX_BODY_BYTES - 10) + '"}'
    assert invoke(Recorder(), gateway(exact), {})["statusCode"] == 200


@pytest.mark.parametrize(
    "change",
    [
        {"httpMethod": 5},
        {"httpMethod": ""},
        {"headers": "authorization: x"},
        {"body": {"already": "parsed"}},
        {"queryString": "a=1"},
        {"queryString": {"a": {"nested": 1}}},
    ],
)
def test_malformed_gateway_events_are_invalid_requests(change: Dict[str, Any]) -> None:
    event = gateway("{}")
    event.update(change)
    assert_http_failure(invoke(Recorder(), event, {}), 400, "invalid_request", 990400)


@pytest.mark.parametrize("slug", sorted(ERROR_CLASSES))
def test_gateway_status_follows_the_error_class(slug: str) -> None:
    cls = ERROR_CLASSES[slug]
    response = invoke(raising(cls("nope", field="data.thing1.value")), gateway("{}"), {})
    body = assert_http_failure(response, cls.status, slug, cls.errcode)
    assert body["field"] == "data.thing1.value"
    expected = {
        "invalid_request": 400,
        "invalid_argument": 400,
        "invalid_template": 400,
        "unauthorized": 401,
        "forbidden": 403,
        "conflict": 409,
        "not_subscribed": 409,
        "rate_limited": 429,
        "quota_exhausted": 429,
        "capped": 429,
        "quiet_hours": 429,
        "upstream_error": 502,
        "misconfigured": 500,
        "internal": 500,
    }
    assert response["statusCode"] == expected[slug]


def test_gateway_with_broken_settings_is_misconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WXAPUSH_APPID")
    reset_settings()
    response = invoke(Recorder(), gateway("{}"), {})
    body = assert_http_failure(response, 500, "misconfigured", 990501)
    assert body["setting"] == "WXAPUSH_APPID"


def test_a_service_returning_an_error_dict_gets_its_status() -> None:
    result = InvalidArgument("bad").to_result()
    response = invoke(Recorder(result), gateway("{}"), {})
    assert response["statusCode"] == 400


# -- timer --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "timer_event",
            {"trigger": "timer1", "time": "2021-08-25T15:55:10Z", "message": "argument"},
        ),
        (
            "timer_event_lowercase",
            {"trigger": "demo", "time": "2018-11-12T00:00:00Z", "message": ""},
        ),
    ],
)
def test_timer_events(name: str, expected: Dict[str, str]) -> None:
    service = Recorder()
    result = invoke(service, load(name), load("scf_context"))
    assert result == {"errcode": 0, "errmsg": "ok", "seen": True}
    assert service.inv.shape == "timer" and service.inv.http is None
    assert service.inv.caller == Caller("service", source="timer")
    assert service.inv.request == expected


def test_timer_without_message() -> None:
    service = Recorder()
    invoke(service, {"Type": "TIMER", "TriggerName": "t"}, {})
    assert service.inv.request == {"trigger": "t", "time": None, "message": None}


def test_timer_with_malformed_fields_is_invalid() -> None:
    event = load("timer_event")
    event["TriggerName"] = ["x"]
    assert_failure(invoke(Recorder(), event, {}), "invalid_request", 990400)


def test_timer_errors_are_envelopes() -> None:
    result = invoke(raising(UpstreamError("gettemplate down")), load("timer_event"), {})
    assert_failure(result, "upstream_error", 990502)
    assert result["retryable"] is True


# -- failures -----------------------------------------------------------------------------------


def test_typed_errors_keep_wechat_codes_and_extras() -> None:
    error = InvalidArgument(
        "argument invalid! data.thing1.value invalid", field="data.thing1.value"
    )
    result = invoke(raising(error), {}, {})
    assert result == {
        "errcode": 47003,
        "errmsg": "argument invalid! data.thing1.value invalid",
        "error": "invalid_argument",
        "retryable": False,
        "field": "data.thing1.value",
    }


def test_unexpected_exceptions_become_internal_with_a_redacted_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from wxapush.config import get_settings

    get_settings()  # loaded, as it is once any service ran
    boom = RuntimeError(f"GET /cgi-bin/token?secret={SECRET}&x=1 failed, key {ADMIN_KEY}")
    caplog.set_level(logging.ERROR, logger="wxapush.runtime")
    for event, render in ((gateway("{}"), True), ({}, False)):
        caplog.clear()
        response = invoke(raising(boom), event, {"request_id": "req-1"})
        if render:
            body = assert_http_failure(response, 500, "internal", 990500)
            text = response["body"]
        else:
            body = assert_failure(response, "internal", 990500)
            text = json.dumps(response)
        assert "Traceback" not in text and "RuntimeError" not in text and SECRET not in text
        assert set(body) == {"errcode", "errmsg", "error", "retryable"}
        logged = caplog.text
        assert "Traceback" in logged and "RuntimeError" in logged and "req-1" in logged
        assert SECRET not in logged and ADMIN_KEY not in logged


def test_a_service_returning_garbage_is_internal() -> None:
    for garbage in ("ok", None, {"when": object()}, {"x": float("nan")}):

        def service(inv: Invocation, garbage: Any = garbage) -> Any:
            return garbage

        assert_failure(invoke(service, {}, {}), "internal", 990500)


def test_unserializable_error_extras_are_dropped_not_fatal() -> None:
    result = invoke(raising(Misconfigured("bad", thing=object())), {}, {})
    assert result == {
        "errcode": 990501,
        "errmsg": "bad",
        "error": "misconfigured",
        "retryable": False,
    }


def test_base_exceptions_are_not_swallowed() -> None:
    with pytest.raises(KeyboardInterrupt):
        invoke(raising(KeyboardInterrupt()), {}, {})
