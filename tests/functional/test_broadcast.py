"""broadcast through its real entry point, against wxemu over HTTP (embedded store)."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from wxapush.app import current_app, reset_app
from wxapush.config import reset_settings
from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import Invoke, log_records, send_event

DATA = {
    "thing1": "限时降价",
    "character_string2": "SF1234567890",
    "date3": "2026-11-27 10:30",
    "amount6": "¥99.00",
}


def users(wxemu: RunningServer, n: int, granted: bool = True) -> List[str]:
    openids = [f"oBroadcast-{i:05d}-xxxxxxxxxxxxx"[:28] for i in range(n)]
    for openid in openids:
        wxemu.emulator.grant(demo.APPID, openid, demo.TEMPLATE_ID, 1 if granted else 0)
    return openids


def create(invoke: Invoke, recipients: Any, **more: Any) -> Dict[str, Any]:
    event = {"template_id": demo.TEMPLATE_ID, "data": DATA, "recipients": recipients, **more}
    result: Dict[str, Any] = invoke("broadcast", event)
    return result


def status(invoke: Invoke, bid: str) -> Dict[str, Any]:
    result: Dict[str, Any] = invoke("broadcast", {"action": "status", "broadcast_id": bid})
    assert result["errcode"] == 0, result
    return result


def assert_error(result: Dict[str, Any], slug: str, errcode: int) -> None:
    assert (result["error"], result["errcode"]) == (slug, errcode), result


def configure(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    reset_app()


def test_a_campaign_is_queued_drained_and_reported(invoke: Invoke, wxemu: RunningServer) -> None:
    openids = users(wxemu, 5)
    stranger = "oNeverSubscribed-000000000000"[:28]
    wxemu.emulator.grant(demo.APPID, stranger, demo.TEMPLATE_ID, 0)
    listed = [*openids, openids[0], {"touser": openids[1], "data": {"thing1": "专属价"}}, stranger]
    created = create(invoke, listed, broadcast_id="price-drop-1")
    assert created["errcode"] == 0, created
    assert (created["broadcast_id"], created["total"], created["status"]) == (
        "price-drop-1",
        6,  # duplicates count once (the first occurrence)
        "queued",
    )
    assert status(invoke, "price-drop-1")["counts"]["queued"] == 6
    worked = invoke("broadcast", {"action": "work"})
    assert worked["errcode"] == 0 and worked["worked"] == {"sent": 5, "not_subscribed": 1}
    report = status(invoke, "price-drop-1")
    assert report["status"] == "done" and report["eta_seconds"] == 0
    assert report["counts"]["sent"] == 5 and report["counts"]["not_subscribed"] == 1
    assert report["counts"]["queued"] == 0 and report["rate"] > 0
    messages = wxemu.messages(demo.APPID)
    assert sorted(m["touser"] for m in messages) == sorted(openids)
    assert all(m["data"]["thing1"]["value"] == "限时降价" for m in messages)
    # again: nothing left, nothing sent twice
    assert invoke("broadcast", {"action": "work"})["worked"] == {}
    assert len(wxemu.messages(demo.APPID)) == 5
    logged = invoke(
        "send_log",
        {"begin_date": "2000-01-01", "end_date": "2099-12-31", "broadcast_id": "price-drop-1"},
    )
    assert logged["total"] == 6
    assert {r["broadcast_id"] for r in logged["list"]} == {"price-drop-1"}
    assert invoke("send_log", {"begin_date": "2000-01-01", "end_date": "2099-12-31",
                               "broadcast_id": "other"})["total"] == 0  # fmt: skip


def test_create_is_idempotent_by_broadcast_id(invoke: Invoke, wxemu: RunningServer) -> None:
    openids = users(wxemu, 2)
    first = create(invoke, openids, broadcast_id="b-1")
    again = create(invoke, openids, broadcast_id="b-1")
    assert first["duplicate"] is False and again["duplicate"] is True
    assert again["total"] == 2
    other = create(invoke, openids[:1], broadcast_id="b-1")
    assert_error(other, "conflict", 990409)


@pytest.mark.parametrize(
    ("event", "slug", "errcode"),
    [
        ({"recipients": []}, "invalid_request", 990400),
        ({"recipients": "oUser"}, "invalid_request", 990400),
        ({"recipients": [42]}, "invalid_request", 990400),
        ({"recipients": [{"touser": "o1", "extra": 1}]}, "invalid_request", 990400),
        ({"recipients": ["o1"], "broadcast_id": "has space"}, "invalid_request", 990400),
        ({"recipients": ["o1"], "audience": {"granted": True}}, "invalid_request", 990400),
        ({"audience": {"granted": "maybe"}}, "invalid_request", 990400),
        ({"recipients": ["o1"], "data": {}}, "invalid_request", 990400),
        ({"recipients": ["o1"], "action": "explode"}, "invalid_request", 990400),
        ({"recipients": [{"touser": "o1", "data": {"thing1": "字" * 21}}]}, "invalid_argument",
         47003),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_before_anything_is_queued(
    invoke: Invoke, wxemu: RunningServer, event: Dict[str, Any], slug: str, errcode: int
) -> None:
    base: Dict[str, Any] = {"template_id": demo.TEMPLATE_ID, "data": DATA}
    result = invoke("broadcast", {**base, **event})
    assert_error(result, slug, errcode)
    assert invoke("broadcast", {"action": "work"})["worked"] == {}


def test_a_bad_value_names_the_field_and_the_recipient(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    result = create(invoke, ["o1", {"touser": "o2", "data": {"thing1": "字" * 21}}])
    assert_error(result, "invalid_argument", 47003)
    assert result["field"] == "data.thing1.value" and result["recipient"] == "o2"


def test_only_services_may_broadcast(invoke: Invoke, wxemu: RunningServer) -> None:
    result = invoke("broadcast", {"action": "work"}, openid=demo.OPENID)
    assert_error(result, "forbidden", 990403)


def test_status_and_cancel_of_an_unknown_campaign(invoke: Invoke, wxemu: RunningServer) -> None:
    assert_error(invoke("broadcast", {"action": "status"}), "invalid_request", 990400)
    missing = invoke("broadcast", {"action": "cancel", "broadcast_id": "nope"})
    assert_error(missing, "invalid_request", 990400)


def test_cancel_stops_what_has_not_been_sent(invoke: Invoke, wxemu: RunningServer) -> None:
    created = create(invoke, users(wxemu, 3))
    bid = created["broadcast_id"]
    cancelled = invoke("broadcast", {"action": "cancel", "broadcast_id": bid})
    assert cancelled["status"] == "cancelled" and cancelled["counts"]["cancelled"] == 3
    assert invoke("broadcast", {"action": "work"})["worked"] == {}
    assert wxemu.messages(demo.APPID) == []
    again = invoke("broadcast", {"action": "cancel", "broadcast_id": bid})
    assert_error(again, "conflict", 990409)


def test_audience_granted_reaches_everyone_the_ledger_says_can_receive(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    openids = users(wxemu, 3)
    grants = current_app().store.grants
    for openid in openids[:2]:
        grants.grant(demo.APPID, openid, demo.TEMPLATE_ID)
    grants.revoke(demo.APPID, openids[2], demo.TEMPLATE_ID)
    created = invoke(
        "broadcast", {"template_id": demo.TEMPLATE_ID, "data": DATA, "audience": {"granted": True}}
    )
    assert created["total"] == 2, created
    invoke("broadcast", {"action": "work"})
    assert sorted(m["touser"] for m in wxemu.messages(demo.APPID)) == sorted(openids[:2])


def test_a_granted_campaign_repeated_by_id_is_a_no_op_after_it_sent(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    """The granted audience shrinks as the campaign uses the grants; the repeat still matches."""
    openids = users(wxemu, 3)
    for openid in openids:
        current_app().store.grants.grant(demo.APPID, openid, demo.TEMPLATE_ID)
    request = {
        "template_id": demo.TEMPLATE_ID,
        "data": DATA,
        "audience": {"granted": True},
        "broadcast_id": "g-1",
    }
    assert invoke("broadcast", request)["total"] == 3
    invoke("broadcast", {"action": "work"})
    again = invoke("broadcast", request)
    assert again["errcode"] == 0, again
    assert (again["duplicate"], again["total"], again["broadcast_id"]) == (True, 3, "g-1")
    assert len(wxemu.messages(demo.APPID)) == 3
    other = invoke("broadcast", {**request, "page": "pages/other"})
    assert_error(other, "conflict", 990409)


def test_a_timer_runs_a_worker(invoke: Invoke, wxemu: RunningServer) -> None:
    create(invoke, users(wxemu, 2))
    timer = {"Type": "Timer", "TriggerName": "broadcast", "Time": "2026-12-01T00:00:00Z"}
    result = invoke("broadcast", timer)
    assert result["worked"] == {"sent": 2} and result["workers_started"] == 0


def test_a_service_key_may_not_take_a_campaigns_scope(invoke: Invoke, wxemu: RunningServer) -> None:
    result = invoke("send", send_event(idempotency_key="b:price-drop-1:0"))
    assert_error(result, "invalid_request", 990400)
    assert [r.broadcast_id for r in log_records()] == []


FANOUT = {
    "WXAPUSH_BROADCAST_FANOUT": "2",
    "WXAPUSH_BROADCAST_FUNCTION": "wxapush-broadcast",
    "WXAPUSH_SCF_REGION": "ap-guangzhou",
    "TENCENTCLOUD_SECRETID": "AKIDfanouttest",
    "TENCENTCLOUD_SECRETKEY": "fanout-test-key",
}


def test_create_fans_out_through_scf_invoke(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .conftest import context, handler, wait_for

    configure(monkeypatch, **FANOUT, WXAPUSH_SCF_ENDPOINT=wxemu.base_url)
    worker = handler("broadcast")
    wxemu.emulator.scf_functions["wxapush-broadcast"] = lambda event: worker(event, context())
    try:
        openids = users(wxemu, 6)
        created = create(invoke, openids)
        assert created["errcode"] == 0 and created["workers_started"] == 2, created
        assert wait_for(lambda: len(wxemu.messages(demo.APPID)) == 6)
        assert wait_for(lambda: status(invoke, created["broadcast_id"])["status"] == "done")
    finally:
        del wxemu.emulator.scf_functions["wxapush-broadcast"]
    calls = wxemu.emulator.scf_invocations
    assert [(c["function"], c["type"], c["event"]) for c in calls] == [
        ("wxapush-broadcast", "Event", {"action": "work", "fanned_out": True})
    ] * 2  # the fanned-out workers do not fan out again
    assert sorted(m["touser"] for m in wxemu.messages(demo.APPID)) == sorted(openids)


def test_fan_out_without_a_function_name_is_misconfigured_and_writes_nothing(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, WXAPUSH_BROADCAST_FANOUT="2")
    result = create(invoke, users(wxemu, 1), broadcast_id="never")
    assert_error(result, "misconfigured", 990501)
    assert result["setting"] == "WXAPUSH_BROADCAST_FANOUT"
    monkeypatch.delenv("WXAPUSH_BROADCAST_FANOUT")
    reset_settings()
    missing = invoke("broadcast", {"action": "status", "broadcast_id": "never"})
    assert_error(missing, "invalid_request", 990400)


def test_a_failing_invoke_is_logged_and_the_campaign_still_queued(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, **FANOUT, WXAPUSH_SCF_ENDPOINT=wxemu.base_url)
    created = create(invoke, users(wxemu, 2))  # no such function in wxemu's SCF
    assert created["errcode"] == 0 and created["workers_started"] == 0
    assert invoke("broadcast", {"action": "work"})["worked"] == {"sent": 2}


def test_status_counts_the_deliveries_wechat_pushes(
    invoke: Invoke, wxemu: RunningServer, receiver: str
) -> None:
    from .conftest import wait_for

    created = create(invoke, users(wxemu, 3))
    assert invoke("broadcast", {"action": "work"})["worked"] == {"sent": 3}
    bid = created["broadcast_id"]
    assert wait_for(lambda: status(invoke, bid)["counts"]["delivered"] == 3)
    assert status(invoke, bid)["counts"]["sent"] == 3


def test_a_direct_create_may_carry_more_than_an_http_body(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    many = [f"oMany{i:07d}".ljust(28, "x") for i in range(12_000)]  # ~400 KB of JSON
    created = create(invoke, many)
    assert created["errcode"] == 0 and created["total"] == 12_000, created
    too_many = [f"o{i:027d}" for i in range(230_000)]  # over 6 MiB
    assert_error(create(invoke, too_many), "invalid_request", 990413)
