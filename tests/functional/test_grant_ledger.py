"""The grant ledger under track / enforce / off, fed by wxemu's real pushes and by the front end."""

from __future__ import annotations

import pytest

from tests.functional.conftest import (
    Invoke,
    balance,
    log_records,
    send_event,
    wait_for,
)
from wxapush.app import current_app, reset_app
from wxapush.config import reset_settings
from wxemu import demo
from wxemu.testing import RunningServer

NEWCOMER = "oWxEmu-Newcomer-000000000000"  # known to the app, no grant at WeChat


def policy(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("WXAPUSH_GRANT_POLICY", value)
    reset_settings()
    reset_app()


def accept(wxemu: RunningServer, openid: str = demo.OPENID) -> None:
    """The user accepts one message in a popup; wxemu pushes it; the ledger hears it."""
    before = len(wxemu.pushes())
    wxemu.grant(demo.APPID, openid, demo.TEMPLATE_ID, push=True)
    wait_for(lambda: len(wxemu.pushes()) > before)
    assert wxemu.pushes()[-1]["status"] == 200


def test_track_counts_grants_and_lets_wechat_decide(receiver: str, wxemu, invoke) -> None:  # type: ignore[no-untyped-def]
    accept(wxemu)
    assert balance() == 1
    assert invoke("send", send_event())["errcode"] == 0
    assert balance() == 0
    # The ledger has none, but WeChat (1000 demo grants) decides under track.
    assert invoke("send", send_event())["errcode"] == 0


def test_enforce_refuses_without_a_grant_and_without_calling_wechat(  # type: ignore[no-untyped-def]
    receiver: str, wxemu, invoke, monkeypatch
) -> None:
    policy(monkeypatch, "enforce")
    answer = invoke("send", send_event())
    assert (answer["error"], answer["errcode"]) == ("not_subscribed", 43101)
    assert wxemu.messages(demo.APPID) == []
    assert [r.status for r in log_records()] == ["rejected"]


def test_enforce_one_accept_lets_exactly_one_message_through_however_often_re_pushed(  # type: ignore[no-untyped-def]
    receiver: str, wxemu, invoke, monkeypatch
) -> None:
    from tests.functional.conftest import AES_KEY, CALLBACK_TOKEN

    policy(monkeypatch, "enforce")
    # WeChat re-pushes an event it got no timely answer for: same content, fresh signature.
    wxemu.set_callback(demo.APPID, receiver, CALLBACK_TOKEN, AES_KEY, repeat=3)
    wxemu.grant(demo.APPID, demo.OPENID, demo.TEMPLATE_ID, push=True)
    assert wxemu.emulator.pusher.wait_idle()
    assert [p["status"] for p in wxemu.pushes()] == [200] * 3
    assert balance() == 1
    assert invoke("send", send_event())["errcode"] == 0
    second = invoke("send", send_event())
    assert (second["error"], second["errcode"]) == ("not_subscribed", 43101)
    assert len(wxemu.messages(demo.APPID)) == 1


def test_off_ignores_the_ledger(receiver: str, wxemu, invoke, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    policy(monkeypatch, "off")
    accept(wxemu)
    assert balance() is None
    assert invoke("send", send_event())["errcode"] == 0
    assert balance() is None


def test_43101_from_wechat_zeroes_the_ledger(receiver: str, wxemu, invoke) -> None:  # type: ignore[no-untyped-def]
    wxemu.grant(demo.APPID, NEWCOMER, demo.TEMPLATE_ID, count=0)
    recorded = invoke(
        "send",
        {"action": "record_subscription", "result": {demo.TEMPLATE_ID: "accept"}},
        openid=NEWCOMER,
    )
    assert recorded["balances"] == {demo.TEMPLATE_ID: 1}
    answer = invoke("send", send_event(touser=NEWCOMER))
    assert (answer["error"], answer["errcode"]) == ("not_subscribed", 43101)
    assert balance(NEWCOMER) == 0


def test_the_whole_loop_sent_to_delivered_through_wxemus_push(receiver: str, wxemu, invoke) -> None:  # type: ignore[no-untyped-def]
    sent = invoke("send", send_event())
    assert sent["status"] == "sent"
    record = wait_for(lambda: next((r for r in log_records() if r.status == "delivered"), None))
    assert record is not None and record.msgid == sent["msgid"]
    assert (record.errcode, record.errmsg) == (0, "success")


@pytest.mark.parametrize(
    ("mode", "fmt"), [("secure", "xml"), ("compatible", "json"), ("compatible", "xml")]
)
def test_the_loop_in_every_encrypted_mode_and_format(receiver, wxemu, invoke, mode, fmt) -> None:  # type: ignore[no-untyped-def]
    from tests.functional.conftest import AES_KEY, CALLBACK_TOKEN

    wxemu.set_callback(demo.APPID, receiver, CALLBACK_TOKEN, AES_KEY, mode=mode, format=fmt)
    accept(wxemu)
    assert balance() == 1
    invoke("send", send_event())
    assert wait_for(lambda: [r.status for r in log_records()] == ["delivered"])


def test_an_injected_delivery_failure_reads_undelivered(receiver: str, wxemu, invoke) -> None:  # type: ignore[no-untyped-def]
    from tests.functional.conftest import AES_KEY, CALLBACK_TOKEN

    failure = {demo.OPENID: {"ErrorCode": 10001, "ErrorStatus": "system failure"}}
    wxemu.set_callback(demo.APPID, receiver, CALLBACK_TOKEN, AES_KEY, failures=failure)
    invoke("send", send_event())
    record = wait_for(lambda: next((r for r in log_records() if r.status != "sent"), None))
    assert (record.status, record.errcode, record.errmsg) == (
        "undelivered",
        10001,
        "system failure",
    )


# -- record_subscription: the front end's report --------------------------------------------------


def record(invoke: Invoke, result: object, openid: str | None = demo.OPENID, **extra: object):  # type: ignore[no-untyped-def]
    return invoke(
        "send", {"action": "record_subscription", "result": result, **extra}, openid=openid
    )


def test_a_user_records_its_own_choices(callback_env, invoke) -> None:  # type: ignore[no-untyped-def]
    result = {"errMsg": "requestSubscribeMessage:ok", demo.TEMPLATE_ID: "accept"}
    answer = record(invoke, result)
    assert answer["errcode"] == 0 and answer["touser"] == demo.OPENID
    assert answer["recorded"] == {demo.TEMPLATE_ID: "accept"}
    assert answer["balances"] == {demo.TEMPLATE_ID: 1}
    assert record(invoke, {demo.TEMPLATE_ID: "filter"})["balances"] == {demo.TEMPLATE_ID: 1}
    assert record(invoke, {demo.TEMPLATE_ID: "ban"})["balances"] == {demo.TEMPLATE_ID: 0}


def test_a_user_cannot_record_for_another(callback_env, invoke) -> None:  # type: ignore[no-untyped-def]
    answer = record(invoke, {demo.TEMPLATE_ID: "accept"}, touser=NEWCOMER)
    assert (answer["error"], answer["errcode"]) == ("forbidden", 990403)
    assert balance(NEWCOMER) is None and balance() is None


def test_a_service_names_the_user(callback_env, invoke) -> None:  # type: ignore[no-untyped-def]
    answer = record(invoke, {demo.TEMPLATE_ID: "accept"}, openid=None)
    assert (answer["error"], answer["errcode"]) == ("invalid_request", 990400)
    answer = record(invoke, {demo.TEMPLATE_ID: "accept"}, openid=None, touser=NEWCOMER)
    assert answer["balances"] == {demo.TEMPLATE_ID: 1}


def test_a_failed_popup_records_nothing(callback_env, invoke) -> None:  # type: ignore[no-untyped-def]
    answer = record(invoke, {"errMsg": "requestSubscribeMessage:fail", "errCode": 20004})
    assert (answer["errcode"], answer["recorded"]) == (0, {})


@pytest.mark.parametrize(
    ("result", "field"),
    [
        ("accept", None),
        ({demo.TEMPLATE_ID: "maybe"}, f"result.{demo.TEMPLATE_ID}"),
        ({demo.TEMPLATE_ID: 1}, f"result.{demo.TEMPLATE_ID}"),
        ({"": "accept"}, "result"),
        ({"has space": "accept"}, "result"),
        ({f"t{i}": "accept" for i in range(11)}, "result"),
    ],
)
def test_bad_results_are_refused_before_any_write(callback_env, invoke, result, field) -> None:  # type: ignore[no-untyped-def]
    good = {demo.LONG_TERM_TEMPLATE_ID: "accept"}
    answer = record(invoke, {**good, **result} if isinstance(result, dict) else result)
    assert (answer["error"], answer["errcode"], answer.get("field")) == (
        "invalid_request",
        990400,
        field,
    )
    assert balance(template_id=demo.LONG_TERM_TEMPLATE_ID) is None


def test_an_unknown_template_is_refused_once_the_registry_is_synced(callback_env, invoke) -> None:  # type: ignore[no-untyped-def]
    assert invoke("refresh_code", {"Type": "Timer", "TriggerName": "t"})["errcode"] == 0
    answer = record(invoke, {demo.TEMPLATE_ID: "accept", "MadeUp-Template": "accept"})
    assert (answer["error"], answer["errcode"]) == ("invalid_template", 40037)
    assert balance() is None
    assert record(invoke, {demo.TEMPLATE_ID: "accept"})["balances"] == {demo.TEMPLATE_ID: 1}


def test_off_records_nothing(callback_env, invoke, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    policy(monkeypatch, "off")
    answer = record(invoke, {demo.TEMPLATE_ID: "accept"})
    assert (answer["policy"], answer["balances"]) == ("off", {})
    assert current_app().store.grants.balance(demo.APPID, demo.OPENID, demo.TEMPLATE_ID) is None


def test_an_unknown_action_is_refused(callback_env, invoke) -> None:  # type: ignore[no-untyped-def]
    answer = invoke("send", {"action": "unsubscribe"}, openid=demo.OPENID)
    assert (answer["error"], answer["errcode"]) == ("invalid_request", 990400)
