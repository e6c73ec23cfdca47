"""Credentials on every function: failed ones throttled in shared buckets, the admin key at
least 32 characters, the previous admin key and push Token accepted during a rotation."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, Dict, Optional

import pytest

from tests.functional.conftest import (
    ADMIN_KEY,
    CALLBACK_TOKEN,
    Invoke,
    context,
    gateway_event,
    handler,
)
from tests.functional.test_functions import TIMER
from wxapush import session
from wxapush.app import current_app, reset_app
from wxapush.config import reset_settings
from wxapush.services import refresh_code
from wxapush.wechat.callback import sign
from wxemu import demo

SESSION_SECRET = "session-secret-0123456789"
OLD_KEY = "the-previous-admin-key-0123456789abcdef"


def http(
    function: str,
    key: Optional[str] = ADMIN_KEY,
    *,
    ip: Optional[str] = "10.0.0.1",
    authorization: Optional[str] = None,
) -> Dict[str, Any]:
    event = gateway_event("POST", f"/{function}", {}, key=key)
    if authorization is not None:
        event["headers"]["authorization"] = authorization
    if ip is None:
        del event["requestContext"]  # a Function URL: no source address
    else:
        event["requestContext"]["sourceIp"] = ip
    answer: Dict[str, Any] = handler(function)(event, context())
    return {"status": answer["statusCode"], **json.loads(answer["body"])}


def sign_in(key: str, ip: str = "10.0.0.1") -> Dict[str, Any]:
    event = gateway_event("POST", "/dashboard/login", {"key": key}, key=None)
    event["requestContext"]["sourceIp"] = ip
    answer: Dict[str, Any] = handler("dashboard")(event, context())
    return {"status": answer["statusCode"], **json.loads(answer["body"])}


def restart(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    reset_app()


def test_wrong_bearer_keys_are_throttled_and_lock_the_address(env: Dict[str, str]) -> None:
    for n in range(5):
        assert http("get_token", f"guess-{n}")["errcode"] == 990401
    throttled = http("get_token", "guess-5")
    assert (throttled["status"], throttled["error"], throttled["errcode"]) == (
        429,
        "rate_limited",
        990429,
    )
    assert throttled["retryable"] is True and throttled["retry_after"] > 0
    assert http("get_token")["errcode"] == 990429  # even the right key, from there
    assert http("get_token", ip="10.0.0.9")["errcode"] == 0  # another address is not held up


def test_every_function_and_the_dashboard_draw_from_the_same_buckets(env: Dict[str, str]) -> None:
    for function in ("send", "send_log", "broadcast"):
        assert http(function, "guess")["errcode"] == 990401
    assert sign_in("guess")["errcode"] == 990401
    assert http("refresh_code", "guess")["errcode"] == 990401
    assert sign_in("guess")["errcode"] == 990429  # the sixth failure, whichever function
    assert sign_in(ADMIN_KEY)["errcode"] == 990429


def test_another_instance_honours_the_lock(env: Dict[str, str]) -> None:
    for n in range(6):
        http("get_token", f"guess-{n}")
    reset_app()  # a new instance: only the shared store remembers
    assert http("get_token")["errcode"] == 990429


def test_refresh_code_deletes_a_lock_once_it_has_ended(
    env: Dict[str, str], invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock is one record per address, which check() tidies only if the address comes back."""
    for n in range(6):
        http("get_token", f"guess-{n}")
    tokens = current_app().store.tokens
    key = f"credentials:{demo.APPID}:10.0.0.1:locked"
    lock = tokens.get_token(key)
    assert lock is not None
    for now, pruned in ((lock.expires_at - 1, 0), (lock.expires_at + 1, 1)):
        monkeypatch.setattr(refresh_code, "time", SimpleNamespace(time=lambda at=now: at))
        assert invoke("refresh_code", TIMER)["prune"]["credential_locks"] == pruned
    assert tokens.get_token(key) is None
    assert tokens.get_token(f"token:{demo.APPID}:stable") is not None  # the access token stays
    # the address's buckets (at rest a day later) go too: one row per address would stay forever
    day_later = lock.expires_at + 86400
    monkeypatch.setattr(refresh_code, "time", SimpleNamespace(time=lambda: day_later))
    assert invoke("refresh_code", TIMER)["prune"]["rate_buckets"] >= 1
    assert invoke("refresh_code", TIMER)["prune"]["rate_buckets"] == 0


def test_forged_sessions_count_and_expired_ones_do_not(
    env: Dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    restart(monkeypatch, WXAPUSH_SESSION_SECRET=SESSION_SECRET)
    expired = session.issue(demo.APPID, demo.OPENID, SESSION_SECRET, 60, now=1_000_000)
    for _ in range(8):
        answer = http("send_log", authorization=f"Session {expired}")
        assert (answer["error"], answer["errcode"]) == ("unauthorized", 990401)
    forged = expired[:-4] + "AAAA"
    for _ in range(5):
        assert http("send_log", authorization=f"Session {forged}")["errcode"] == 990401
    assert http("send_log", authorization=f"Session {forged}")["errcode"] == 990429
    assert http("send_log")["errcode"] == 990429  # the admin key too: one bucket per address


def test_without_a_source_address_the_app_wide_bucket_holds(env: Dict[str, str]) -> None:
    answers = [http("get_token", f"guess-{n}", ip=None)["errcode"] for n in range(31)]
    assert answers[:30] == [990401] * 30 and answers[30] == 990429
    assert http("get_token", ip=None)["errcode"] == 990429
    # callers with an address are not shut out by strangers' failures elsewhere
    assert http("get_token", ip="10.0.0.7")["errcode"] == 0


@pytest.mark.parametrize("variable", ["WXAPUSH_ADMIN_KEY", "WXAPUSH_ADMIN_KEY_PREVIOUS"])
def test_an_admin_key_under_32_characters_is_misconfigured(
    env: Dict[str, str], monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    restart(monkeypatch, **{variable: "abcd"})
    answer = http("get_token", "abcd")
    assert (answer["error"], answer["errcode"]) == ("misconfigured", 990501)
    assert variable in answer["errmsg"] and "abcd" not in answer["errmsg"]


def test_the_previous_admin_key_is_accepted_during_a_rotation(
    env: Dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    restart(monkeypatch, WXAPUSH_ADMIN_KEY_PREVIOUS=OLD_KEY)
    assert http("get_token", OLD_KEY)["errcode"] == 0
    assert http("get_token", ADMIN_KEY)["errcode"] == 0
    assert sign_in(OLD_KEY)["errcode"] == 0
    restart(monkeypatch, WXAPUSH_ADMIN_KEY_PREVIOUS="")  # the rotation is over
    assert http("get_token", OLD_KEY)["errcode"] == 990401


def test_the_previous_push_token_is_accepted_during_a_rotation(
    env: Dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    restart(
        monkeypatch,
        WXAPUSH_CALLBACK_TOKEN="the-new-push-token",
        WXAPUSH_CALLBACK_TOKEN_PREVIOUS=CALLBACK_TOKEN,
        WXAPUSH_CALLBACK_MAX_AGE="0",
    )

    def check_url(token: str, nonce: str) -> Dict[str, Any]:
        query = {"timestamp": "1700000000", "nonce": nonce, "echostr": "hello"}
        query["signature"] = sign(token, query["timestamp"], nonce)
        event = gateway_event("GET", "/receive_event", None, key=None, query=query)
        answer: Dict[str, Any] = handler("receive_event")(event, context())
        return answer

    assert check_url(CALLBACK_TOKEN, "n1")["body"] == "hello"
    assert check_url("the-new-push-token", "n2")["body"] == "hello"
    assert check_url("another-token", "n3")["statusCode"] == 401
