"""Identity fails closed: only WX_OPENID is a user, only a context without end-user markers is a
service; every other end-user caller is refused."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List

import pytest

from tests.fixtures import load
from wxapush.config import reset_settings
from wxapush.errors import ok
from wxapush.identity import CROSS_ACCOUNT_KEYS, END_USER_KEYS
from wxapush.runtime import Invocation, invoke

APPID = "wx1234567890abcdef"
OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"


@pytest.fixture(autouse=True)
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WXAPUSH_APPID", APPID)
    monkeypatch.setenv("WXAPUSH_APPSECRET", "appsecret-never-shown-0001")
    reset_settings()
    yield
    reset_settings()


class Recorder:
    def __init__(self) -> None:
        self.calls: List[Invocation] = []

    def __call__(self, inv: Invocation) -> Dict[str, Any]:
        self.calls.append(inv)
        return ok()


def refused(event: Dict[str, Any], context: Dict[str, Any]) -> Recorder:
    service = Recorder()
    result = invoke(service, event, context)
    assert (result["error"], result["errcode"]) == ("unauthorized", 990401), result
    assert not service.calls
    return service


@pytest.mark.parametrize(
    "fixture",
    [
        "cloudbase_web_context",
        "cloudbase_anonymous_context",
        "cloudbase_cross_account_context",
        "cloudbase_empty_openid_context",
    ],
)
@pytest.mark.parametrize("event", [{}, {"Type": "Timer", "TriggerName": "t"}])
def test_end_user_contexts_are_refused_never_a_service(fixture: str, event: Dict[str, Any]) -> None:
    refused(event, load(fixture))


@pytest.mark.parametrize("channel", ["environment", "environ"])
@pytest.mark.parametrize("key", END_USER_KEYS)
def test_each_end_user_key_alone_is_refused(key: str, channel: str) -> None:
    values = {"SCF_NAMESPACE": "env-1", key: "x1"}
    raw = json.dumps(values) if channel == "environment" else f"SCF_NAMESPACE=env-1;{key}=x1"
    refused({}, {channel: raw})


@pytest.mark.parametrize("key", CROSS_ACCOUNT_KEYS)
def test_cross_account_keys_are_refused_even_beside_an_openid(key: str) -> None:
    refused({}, {"environment": json.dumps({"WX_OPENID": OPENID, "WX_APPID": APPID, key: "o2"})})


@pytest.mark.parametrize("value", ["", None])
def test_an_empty_wx_openid_is_refused(value: Any) -> None:
    refused({}, {"environment": json.dumps({"WX_OPENID": value})})
    if value == "":
        refused({}, {"environ": "WX_OPENID=;WX_SOURCE=wx_client"})


def test_an_http_shaped_event_does_not_escape_the_check() -> None:
    event = load("function_url_post_event")
    refused(event, load("cloudbase_anonymous_context"))
    refused(load("apigw_post_event"), load("cloudbase_web_context"))


def test_event_user_info_alone_identifies_nobody() -> None:
    refused({"userInfo": {"openId": OPENID, "appId": APPID}}, {})
    refused({"userInfo": {"openId": OPENID}}, load("scf_context"))


def test_a_plain_service_context_is_still_a_service() -> None:
    for context in (load("scf_context"), {}, {"environment": "{}"}, {"environ": ""}):
        service = Recorder()
        assert invoke(service, {}, context)["errcode"] == 0
        assert service.calls[0].caller.kind == "service"


def test_environment_markers_that_are_not_end_users_stay_a_service() -> None:
    context = {
        "environment": json.dumps(
            {
                "WX_APPID": APPID,  # CloudBase's HTTP API and timers carry the bound AppID
                "WX_CONTEXT_KEYS": "WX_APPID,WX_SOURCE",
                "WX_CLIENTIP": "10.0.0.1",
                "SCF_NAMESPACE": "env-1",
                "TCB_ENV": "env-1",
                "TCB_SEQID": "abc",
                "TRIGGER_SRC": "timer",
                "WX_SOURCE": "wx_trigger",
                "TCB_UUID": "",  # empty: absent
            }
        )
    }
    service = Recorder()
    assert invoke(service, {}, context)["errcode"] == 0
    assert service.calls[0].caller.kind == "service"


def test_a_mini_program_user_is_a_user_beside_its_context_keys() -> None:
    service = Recorder()
    assert invoke(service, {}, load("cloudbase_context"))["errcode"] == 0
    assert service.calls[0].caller.kind == "user"
    assert service.calls[0].caller.openid == OPENID


@pytest.mark.parametrize(
    "source", ["wx_client", "wx_devtools", "wx_crawler", "wx_unknown", "wx_client,scf"]
)
def test_an_end_user_source_without_an_openid_is_refused(source: str) -> None:
    refused({}, {"environment": json.dumps({"WX_SOURCE": source})})


@pytest.mark.parametrize(
    "source", ["wx_trigger", "scf", "wx_paycallback", "wx_http", "wx_trigger,scf"]
)
def test_service_sources_stay_services(source: str) -> None:
    service = Recorder()
    assert invoke(service, {}, {"environment": json.dumps({"WX_SOURCE": source})})["errcode"] == 0
    assert service.calls[0].caller.kind == "service"
