"""SCF Function URL events next to the API gateway's; Session callers; 405 with Allow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from tests.fixtures import load
from wxapush import session
from wxapush.app import reset_app
from wxapush.config import reset_settings
from wxapush.errors import ok
from wxapush.invocation import FUNCTION_URL, GATEWAY
from wxapush.runtime import Caller, Invocation, RawResponse, invoke

APPID = "wx1234567890abcdef"
OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
ADMIN_KEY = "test-admin-key-0123456789-0123456789abcdef"
SESSION_SECRET = "session-secret-0123456789abcdef"


@pytest.fixture(autouse=True)
def settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("WXAPUSH_APPID", APPID)
    monkeypatch.setenv("WXAPUSH_APPSECRET", "appsecret-never-shown-0001")
    monkeypatch.setenv("WXAPUSH_ADMIN_KEY", ADMIN_KEY)
    # A store of its own: failed credentials are counted there (wxapush.credential_guard).
    monkeypatch.setenv("WXAPUSH_STORE", f"sqlite:///{tmp_path / 'wxapush.db'}")
    reset_app()
    monkeypatch.setenv("WXAPUSH_SESSION_SECRET", SESSION_SECRET)
    reset_settings()
    yield
    reset_app()
    reset_settings()


class Recorder:
    def __init__(self, result: Any = None) -> None:
        self.calls: List[Invocation] = []
        self.result = result

    def __call__(self, inv: Invocation) -> Any:
        self.calls.append(inv)
        return self.result if self.result is not None else ok(seen=True)


def url_event(
    method: str = "POST", body: str = "{}", auth: Optional[str] = f"Bearer {ADMIN_KEY}"
) -> Dict[str, Any]:
    event = load("function_url_post_event")
    event["httpMethod"], event["body"] = method, body
    if auth is not None:
        event["headers"]["authorization"] = auth
    return event


def test_the_docs_event_is_a_function_url_call_answered_in_its_shape() -> None:
    service = Recorder()
    answer = invoke(service, url_event(body='{"test":"body"}'), load("scf_context"))
    assert set(answer) == {"statusCode", "headers", "body"}  # no isBase64Encoded
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"].startswith("application/json")
    assert json.loads(answer["body"]) == {"errcode": 0, "errmsg": "ok", "seen": True}
    inv = service.calls[0]
    assert inv.shape == FUNCTION_URL and inv.caller == Caller("service", source="http")
    assert inv.request == {"test": "body"}  # a POST ignores the query
    assert inv.http is not None and inv.http.query == {"a": "1"} and inv.http.path == "/"


def test_the_gateway_event_keeps_its_integrated_response() -> None:
    event = load("apigw_post_event")
    event["headers"]["Authorization"] = f"Bearer {ADMIN_KEY}"
    service = Recorder()
    answer = invoke(service, event, {})
    assert answer["isBase64Encoded"] is False and answer["statusCode"] == 200
    assert service.calls[0].shape == GATEWAY


def test_a_function_url_get_merges_the_query() -> None:
    event = load("function_url_get_event")
    event["headers"]["authorization"] = f"Bearer {ADMIN_KEY}"
    event["queryString"] = {"begin_date": "2026-01-01", "count": "5"}
    service = Recorder()
    answer = invoke(service, event, {}, methods=("GET", "POST"))
    assert answer["statusCode"] == 200
    assert service.calls[0].request == {"begin_date": "2026-01-01", "count": "5"}


@pytest.mark.parametrize("shape", ["function_url", "gateway"])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "OPTIONS"])
def test_a_wrong_method_is_405_with_allow(shape: str, method: str) -> None:
    event = url_event(method) if shape == "function_url" else load("apigw_post_event")
    event["httpMethod"] = method
    service = Recorder()
    answer = invoke(service, event, {})
    assert answer["statusCode"] == 405
    assert answer["headers"]["Allow"] == "POST"
    body = json.loads(answer["body"])
    assert (body["error"], body["errcode"]) == ("invalid_request", 990405)
    assert not service.calls
    answer = invoke(Recorder(), event, {}, methods=("GET", "POST"))
    if method != "GET":
        assert answer["headers"]["Allow"] == "GET, POST"


def test_a_raw_answer_over_a_function_url_is_plain_text() -> None:
    event = load("function_url_get_event")
    event["queryString"] = {"echostr": "abc"}
    answer = invoke(
        Recorder(RawResponse("abc")), event, {}, auth="none", raw_body=True, methods=("GET",)
    )
    assert answer == {
        "statusCode": 200,
        "headers": {"Content-Type": "text/plain; charset=utf-8"},
        "body": "abc",
    }


def test_a_session_makes_the_request_that_users() -> None:
    token = session.issue(APPID, OPENID, SESSION_SECRET, 600)
    service = Recorder()
    answer = invoke(service, url_event(auth=f"Session {token}"), {})
    assert answer["statusCode"] == 200
    assert service.calls[0].caller == Caller("user", openid=OPENID, appid=APPID, source="session")


@pytest.mark.parametrize(
    "auth",
    [
        "Session ",
        "Session not-a-token",
        "Session " + session.issue(APPID, OPENID, "some-other-secret-000000", 600),
        "Session " + session.issue(APPID, OPENID, SESSION_SECRET, 60, now=1_000_000_000),
        "Session " + session.issue("wx0000000000000002", OPENID, SESSION_SECRET, 600),
        None,
    ],
)
def test_bad_sessions_are_401(auth: Optional[str]) -> None:
    service = Recorder()
    answer = invoke(service, url_event(auth=auth), {})
    assert answer["statusCode"] == 401
    assert "Session" in answer["headers"]["WWW-Authenticate"]
    body = json.loads(answer["body"])
    assert (body["error"], body["errcode"]) == ("unauthorized", 990401)
    assert not service.calls


def test_a_session_without_a_configured_secret_is_misconfigured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = session.issue(APPID, OPENID, SESSION_SECRET, 600)
    for unset in ("", "undefined", "null"):
        monkeypatch.setenv("WXAPUSH_SESSION_SECRET", unset)
        reset_settings()
        answer = invoke(Recorder(), url_event(auth=f"Session {token}"), {})
        body = json.loads(answer["body"])
        assert (answer["statusCode"], body["error"], body["errcode"]) == (
            500,
            "misconfigured",
            990501,
        )
        assert body["setting"] == "WXAPUSH_SESSION_SECRET"


def test_rotating_the_session_secret_keeps_live_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    token = session.issue(APPID, OPENID, SESSION_SECRET, 600)
    monkeypatch.setenv("WXAPUSH_SESSION_SECRET", "a-brand-new-session-secret-0001")
    monkeypatch.setenv("WXAPUSH_SESSION_SECRET_PREVIOUS", SESSION_SECRET)
    reset_settings()
    assert invoke(Recorder(), url_event(auth=f"Session {token}"), {})["statusCode"] == 200


def test_an_identified_user_cannot_turn_into_an_http_call() -> None:
    # callFunction data shaped like an HTTP event, from a mini-program user: still that user.
    service = Recorder()
    event = url_event(auth=f"Bearer {ADMIN_KEY}")
    invoke(service, event, load("cloudbase_context"))
    assert service.calls[0].caller.kind == "user"


@pytest.mark.parametrize("unset", ["undefined", "null", ""])
def test_an_admin_key_deployed_unset_refuses_its_own_text(
    monkeypatch: pytest.MonkeyPatch, unset: str
) -> None:
    # An unset ${env:WXAPUSH_ADMIN_KEY} deploys as the text "undefined": never a valid key.
    monkeypatch.setenv("WXAPUSH_ADMIN_KEY", unset)
    reset_settings()
    service = Recorder()
    answer = invoke(service, url_event(auth=f"Bearer {unset}"), {})
    body = json.loads(answer["body"])
    assert (answer["statusCode"], body["error"], body["errcode"]) == (401, "unauthorized", 990401)
    assert not service.calls
