"""Every function answers both HTTP shapes — SCF's Function URL and the API gateway's — and
WeChat's URL check through a Function URL gets the bare echostr."""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest

from tests.fixtures import load

from .conftest import ADMIN_KEY, gateway_event, handler, send_event
from .test_receive_event import use

#: function -> (method, body) of a call a service may make
CALLS = {
    "get_token": ("POST", {}),
    "send": ("POST", send_event()),
    "send_log": ("GET", None),
    "refresh_code": ("POST", {}),
}


def url_event(method: str, body: Any, query: Dict[str, str], auth: bool = True) -> Dict[str, Any]:
    event = load("function_url_post_event")
    event.update(
        httpMethod=method, body="" if body is None else json.dumps(body), queryString=query
    )
    if auth:
        event["headers"]["authorization"] = f"Bearer {ADMIN_KEY}"
    return event


def day_query() -> Dict[str, str]:
    return {"begin_date": "2026-01-01", "end_date": "2026-01-02"}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_function_answers_a_function_url(name: str, env: Dict[str, str]) -> None:
    method, body = CALLS[name]
    query = day_query() if name == "send_log" else {}
    answer = handler(name)(url_event(method, body, query), {"request_id": "r"})
    assert set(answer) == {"statusCode", "headers", "body"}
    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"])["errcode"] == 0


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_function_answers_the_gateway(name: str, env: Dict[str, str]) -> None:
    method, body = CALLS[name]
    query = day_query() if name == "send_log" else None
    answer = handler(name)(gateway_event(method, f"/{name}", body, query=query), {})
    assert answer["isBase64Encoded"] is False and answer["statusCode"] == 200, answer


@pytest.mark.parametrize("name", [*sorted(CALLS), "login", "receive_event"])
def test_every_function_refuses_a_wrong_method_with_allow(name: str, env: Dict[str, str]) -> None:
    for event in (url_event("PATCH", None, {}), gateway_event("PATCH", f"/{name}")):
        answer = handler(name)(event, {})
        body = json.loads(answer["body"])
        assert (answer["statusCode"], body["error"], body["errcode"]) == (
            405,
            "invalid_request",
            990405,
        )
        assert "POST" in answer["headers"]["Allow"]


@pytest.mark.parametrize("name", sorted(CALLS))
def test_without_credentials_a_function_url_call_is_unauthorized(
    name: str, env: Dict[str, str]
) -> None:
    method, body = CALLS[name]
    answer = handler(name)(url_event(method, body, day_query(), auth=False), {})
    body = json.loads(answer["body"])
    assert (answer["statusCode"], body["error"], body["errcode"]) == (401, "unauthorized", 990401)


def test_official_url_verification_vector_through_a_function_url(
    callback_env: Dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, CALLBACK_TOKEN="AAAAA", CALLBACK_MAX_AGE="0")
    query = {
        "signature": "f464b24fc39322e44b38aa78f5edd27bd1441696",
        "echostr": "4375120948345356249",
        "timestamp": "1714036504",
        "nonce": "1514711492",
    }
    event = load("function_url_get_event")
    event["queryString"] = query
    answer = handler("receive_event")(event, {"request_id": "r"})
    assert answer == {
        "statusCode": 200,
        "headers": {"Content-Type": "text/plain; charset=utf-8"},
        "body": "4375120948345356249",
    }


@pytest.mark.parametrize(
    "fixture",
    [
        "cloudbase_web_context",
        "cloudbase_anonymous_context",
        "cloudbase_cross_account_context",
        "cloudbase_empty_openid_context",
    ],
)
@pytest.mark.parametrize("name", [*sorted(CALLS), "login", "receive_event"])
def test_end_user_contexts_are_unauthorized_on_every_function(
    name: str, fixture: str, env: Dict[str, str]
) -> None:
    answer = handler(name)(CALLS.get(name, ("POST", {}))[1] or {}, load(fixture))
    assert (answer["error"], answer["errcode"]) == ("unauthorized", 990401), answer


@pytest.mark.parametrize("name", ["get_token", "send_log", "refresh_code"])
def test_a_plain_service_context_still_works(name: str, env: Dict[str, str]) -> None:
    request = day_query() if name == "send_log" else {}
    assert handler(name)(request, load("scf_context"))["errcode"] == 0
