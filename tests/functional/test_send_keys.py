"""Idempotency keys: a service's are the app's, a mini-program user's are its own."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_cold_imports import probe
from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import Invoke, log_records, send_event
from .test_send import assert_error

OTHER = "oWxEmu-OtherUser-00000000000"
KEY = "order-1001-paid"


def mine(**overrides: object) -> dict[str, object]:
    """A user's send to itself (touser omitted, as a mini program sends it)."""
    event = send_event(**overrides)
    del event["touser"]
    return event


def test_a_users_key_does_not_squat_a_services(invoke: Invoke, wxemu: RunningServer) -> None:
    wxemu.grant(demo.APPID, OTHER, demo.TEMPLATE_ID)
    assert invoke("send", mine(idempotency_key=KEY), openid=demo.OPENID)["errcode"] == 0
    # The service's later send with that key, to someone else, is its own: it is sent.
    result = invoke("send", send_event(touser=OTHER, idempotency_key=KEY))
    assert result["errcode"] == 0 and result["duplicate"] is False, result
    assert len(wxemu.messages(demo.APPID, OTHER)) == 1
    # The log shows each key as stored: a user's scoped to it, a service's as given.
    assert {r.touser: r.idempotency_key for r in log_records()} == {
        demo.OPENID: f"u:{demo.OPENID}:{KEY}",
        OTHER: KEY,
    }


def test_two_users_keys_are_independent(invoke: Invoke, wxemu: RunningServer) -> None:
    wxemu.grant(demo.APPID, OTHER, demo.TEMPLATE_ID)
    first = invoke("send", mine(idempotency_key=KEY), openid=demo.OPENID)
    other = mine(idempotency_key=KEY)
    other["data"]["thing1"] = "另一件商品"  # another payload would be a conflict if shared
    second = invoke("send", other, openid=OTHER)
    assert second["errcode"] == 0 and second["duplicate"] is False, second
    assert first["log_id"] != second["log_id"]
    assert len(wxemu.messages(demo.APPID)) == 2


def test_a_users_repeat_is_still_a_duplicate(invoke: Invoke, wxemu: RunningServer) -> None:
    first = invoke("send", mine(idempotency_key=KEY), openid=demo.OPENID)
    again = invoke("send", mine(idempotencyKey=KEY), openid=demo.OPENID)
    assert again["duplicate"] is True and again["log_id"] == first["log_id"]
    changed = mine(idempotency_key=KEY)
    changed["data"]["thing1"] = "另一件商品"
    assert_error(invoke("send", changed, openid=demo.OPENID), "conflict", 990409)
    assert len(wxemu.messages(demo.APPID)) == 1


def test_a_cold_send_does_not_load_the_event_parser(tmp_path: Path) -> None:
    event = {"touser": demo.OPENID, "template_id": demo.TEMPLATE_ID, "data": {}}
    report = probe("send", tmp_path, {"event": event, "context": {}})
    assert report["result"]["error"] == "upstream_error"  # WeChat is a closed port here
    assert "xml" not in report["modules"]


def test_a_service_cannot_use_a_users_key_scope(invoke: Invoke, wxemu: RunningServer) -> None:
    result = invoke("send", send_event(idempotency_key=f"u:{demo.OPENID}:order-1"))
    assert (result["error"], result["errcode"]) == ("invalid_request", 990400)
    assert wxemu.messages(demo.APPID) == []
