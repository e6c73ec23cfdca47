"""Values reach WeChat as text: WeChat refuses a JSON number (47003), so send writes its text."""

from __future__ import annotations

import pytest

from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import Invoke, log_records, send_event


def test_plain_numbers_reach_wechat_as_their_json_text(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    data = {"thing1": "手机保护壳", "character_string2": 1234567890, "date3": "2026-11-27"}
    event = send_event(data={**data, "amount6": 12.5}, idempotency_key="order-1-paid")
    result = invoke("send", event)
    assert result["errcode"] == 0, result
    [message] = wxemu.messages(demo.APPID, demo.OPENID)
    assert message["data"]["amount6"] == {"value": "12.5"}
    assert message["data"]["character_string2"] == {"value": "1234567890"}
    [record] = log_records()
    assert record.data["amount6"] == {"value": "12.5"}
    # The same message written with text values is the same request: a duplicate, not a conflict.
    again = send_event(
        data={**data, "character_string2": "1234567890", "amount6": "12.5"},
        idempotency_key="order-1-paid",
    )
    replayed = invoke("send", again)
    assert replayed["duplicate"] is True and replayed["msgid"] == result["msgid"]
    assert len(wxemu.messages(demo.APPID, demo.OPENID)) == 1


def test_wrapped_number_values_are_sent_as_text_too(invoke: Invoke, wxemu: RunningServer) -> None:
    event = send_event()
    event["data"]["amount6"] = {"value": 128}
    assert invoke("send", event)["errcode"] == 0
    [message] = wxemu.messages(demo.APPID, demo.OPENID)
    assert message["data"]["amount6"] == {"value": "128"}


@pytest.mark.parametrize("value", [True, False])
def test_a_bool_is_refused_locally_and_never_sent(
    invoke: Invoke, wxemu: RunningServer, value: bool
) -> None:
    event = send_event()
    event["data"]["thing1"] = value
    result = invoke("send", event)
    assert (result["error"], result["errcode"]) == ("invalid_argument", 47003), result
    assert result["field"] == "data.thing1.value"
    assert wxemu.messages(demo.APPID, demo.OPENID) == []


def test_a_campaigns_numbers_reach_wechat_as_text(invoke: Invoke, wxemu: RunningServer) -> None:
    openid = "oBroadcast-Numbers-000000000"
    wxemu.emulator.grant(demo.APPID, openid, demo.TEMPLATE_ID, 1)
    data = {"thing1": "限时降价", "character_string2": 42, "date3": "2026-11-27", "amount6": 99.5}
    event = {"template_id": demo.TEMPLATE_ID, "data": data, "recipients": [openid]}
    assert invoke("broadcast", event)["errcode"] == 0
    assert invoke("broadcast", {"action": "work"})["worked"] == {"sent": 1}
    [message] = wxemu.messages(demo.APPID, openid)
    assert message["data"]["amount6"] == {"value": "99.5"}
    assert message["data"]["character_string2"] == {"value": "42"}
