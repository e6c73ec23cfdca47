"""Refusals that say what to do: the field, the rule, what was wrong, and the next step."""

from __future__ import annotations

from typing import Any

import pytest

from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import Invoke, send_event
from .test_send import assert_error


@pytest.fixture
def synced(invoke: Invoke) -> None:
    """refresh_code has synced the template registry: keys and types are the template's."""
    assert invoke("refresh_code", {})["errcode"] == 0


def refused(invoke: Invoke, idempotency_key: Any = None, **data: Any) -> dict[str, Any]:
    event = send_event() if idempotency_key is None else send_event(idempotency_key=idempotency_key)
    event["data"].update(data)
    result: dict[str, Any] = invoke("send", event)
    return result


@pytest.mark.parametrize("registry", [False, True], ids=["by-prefix", "synced"])
def test_a_keyword_refusal_names_field_rule_and_value(
    invoke: Invoke, wxemu: RunningServer, registry: bool
) -> None:
    if registry:
        invoke("refresh_code", {})
    result = refused(invoke, thing1="字" * 21)
    assert_error(result, "invalid_argument", 47003)
    assert result["errmsg"] == "argument invalid! data.thing1.value invalid"  # WeChat's form
    assert result["field"] == "data.thing1.value"
    assert result["hint"] == "thing1: at most 20 characters, got 21"

    result = refused(invoke, amount6="128 yuan")
    assert_error(result, "invalid_argument", 47003)
    assert result["field"] == "data.amount6.value"
    assert result["hint"].startswith("amount6: a number with an optional currency symbol")
    assert result["hint"].endswith("got '128 yuan'")
    assert wxemu.messages(demo.APPID) == []


@pytest.mark.usefixtures("synced")
def test_a_key_the_template_lacks_is_named_with_the_keys_it_has(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    event = send_event()
    event["data"]["thing9"] = event["data"].pop("thing1")  # a misspelt key
    result = invoke("send", event)
    assert_error(result, "invalid_argument", 47003)
    # WeChat names the template's missing keyword (observed); the hint names the stray key.
    assert result["field"] == "data.thing1.value"
    assert result["errmsg"] == "argument invalid! data.thing1.value is empty"
    assert result["hint"].endswith(
        "; thing9 is not in this template (it has thing1, character_string2, date3, amount6)"
    )


@pytest.mark.usefixtures("synced")
def test_a_key_the_template_lacks_beside_every_keyword_is_left_out_with_a_warning(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    event = send_event()
    event["data"]["thing9"] = "多余"
    result = invoke("send", event)
    assert result["errcode"] == 0, result
    assert result["warnings"] == [
        f"data.thing9 is not a keyword of template {demo.TEMPLATE_ID} and was left out"
    ]
    [message] = wxemu.messages(demo.APPID)
    assert "thing9" not in message["data"]


@pytest.mark.usefixtures("synced")
def test_a_missing_key_and_a_control_character_are_explained(invoke: Invoke) -> None:
    event = send_event()
    del event["data"]["date3"]
    result = invoke("send", event)
    assert_error(result, "invalid_argument", 47003)
    assert result["errmsg"] == "argument invalid! data.date3.value is empty"
    assert result["hint"].startswith("date3: required by the template (a date such as")
    result = refused(invoke, thing1="line\nbreak")
    assert result["hint"].endswith("which holds the control character U+000A")


def test_data_that_is_not_an_object_is_explained(invoke: Invoke) -> None:
    result = invoke("send", send_event(data='{"thing1": {"value": "x"}}'))
    assert_error(result, "invalid_argument", 47003)
    assert result["hint"].startswith('data must be an object such as {"thing1": "…"}, got ')


@pytest.mark.parametrize(
    ("first", "fate"),
    [
        ({}, "was sent (msgid "),
        ({"thing1": "字" * 21}, "was refused locally with errcode 47003: never sent"),
    ],
)
def test_a_reused_key_says_what_became_of_the_first_request(
    invoke: Invoke, first: dict[str, str], fate: str
) -> None:
    original = refused(invoke, idempotency_key="order-7", **first)
    other = send_event(idempotency_key="order-7")
    other["data"]["thing1"] = "另一件商品"
    result = invoke("send", other)
    assert_error(result, "conflict", 990409)
    assert f"the first request (log {original['log_id']}) {fate}" in result["errmsg"]
    assert result["log_id"] == original["log_id"]
    assert "new idempotency_key" in result["hint"]
