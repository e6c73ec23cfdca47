"""Hostile input is answered precisely — ``invalid_request``/``invalid_argument``/``unauthorized``
naming the field — never ``internal`` (990500), never a store outage (990503), and writes nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.functional.conftest import (
    ADMIN_KEY,
    Invoke,
    context,
    gateway_event,
    handler,
    log_records,
    send_event,
)
from tests.functional.test_send import assert_error
from wxapush.limits import MAX_DATA_VALUE, MAX_REQUEST_BYTES
from wxemu import demo

EVER = {"begin_date": "2020-01-01", "end_date": "2099-12-31"}


def _recursive() -> dict[str, Any]:
    data: dict[str, Any] = {"thing1": {"value": "x"}}
    data["thing1"]["self"] = data
    return data


def _deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    "overrides, slug, errcode",
    [
        # data items are exactly {"value": …} or a scalar: nothing else is stored
        ({"data": {"thing1": {"value": "ok", "color": "#173177"}}}, "invalid_argument", 47003),
        ({"data": {"thing1": {"value": "x", "pad": "y" * 200_000}}}, "invalid_argument", 47003),
        ({"data": {"thing1": {"value": {"nested": 1}}}}, "invalid_argument", 47003),
        ({"data": {"thing1": "y" * (MAX_DATA_VALUE + 1)}}, "invalid_argument", 47003),
        ({"data": {f"thing{i}": "x" for i in range(100)}}, "invalid_argument", 47003),
        ({"data": ["thing1"]}, "invalid_argument", 47003),
        # a direct call is bounded as an HTTP body is
        ({"note": "z" * (MAX_REQUEST_BYTES + 1)}, "invalid_request", 990413),
        ({"data": _recursive()}, "invalid_request", 990400),
        ({"data": {"thing1": {"value": _deep(5000)}}}, "invalid_request", 990400),
        ({"data": {"thing1": float("nan")}}, "invalid_request", 990400),
        ({"data": {"number1": float("inf")}}, "invalid_request", 990400),
        ({"data": {"number1": 10**5000}}, "invalid_request", 990400),
        ({"touser": "o\ud800user"}, "invalid_request", 990400),
        ({"data": {"thing1": "lone \udfff"}}, "invalid_request", 990400),
        ({"idempotency_key": "nul\x00key"}, "invalid_request", 990400),
        ({"page": "pages/a\x00b"}, "invalid_request", 990400),
        ({"data": {"thing\ud83d": "x"}}, "invalid_request", 990400),
    ],
    ids=lambda v: repr(v)[:40] if not isinstance(v, dict) else None,
)
def test_a_hostile_send_is_refused_precisely_and_writes_nothing(
    invoke: Invoke, overrides: dict[str, Any], slug: str, errcode: int
) -> None:
    result = invoke("send", send_event(**overrides))
    assert_error(result, slug, errcode)
    json.dumps(result, allow_nan=False)
    assert log_records() == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"begin_date": "9999-12-31", "end_date": "9999-12-31"},
        {"begin_date": "0001-01-01"},
        {"begin_date": "２０２６-01-01"},
        {"count": "²"},
        {"count": "9" * 5000},
        {"offset": "٣"},
        {"offset": 2**63},
        {"offset": 10**30},
        {"touser": "\ud800"},
    ],
    ids=repr,
)
def test_send_log_refuses_out_of_range_input_as_invalid_request(
    invoke: Invoke, overrides: dict[str, Any]
) -> None:
    result = invoke("send_log", {**EVER, **overrides})
    assert_error(result, "invalid_request", 990400)


def test_a_user_with_a_malformed_identity_is_unauthorized(env: dict[str, str]) -> None:
    for environment in ('{"WX_OPENID": ' + "[" * 100_000, json.dumps({"WX_OPENID": "o\ud800"})):
        ctx = {**context(), "environment": environment}
        result = handler("send")(send_event(), ctx)
        assert_error(result, "unauthorized", 990401)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e["headers"].update(authorization=f"Bearer {ADMIN_KEY}\ud800"),
        lambda e: e["headers"].update(authorization="Bearer \udcff"),
        lambda e: e["queryString"].update(begin_date="\ud800"),
        lambda e: e.update(path="/\x00"),
    ],
)
def test_lone_surrogates_before_authentication_are_invalid_requests(
    env: dict[str, str], mutate: Any
) -> None:
    event = gateway_event("GET", "/send_log", query=dict(EVER))
    mutate(event)
    answer = handler("send_log")(event, {})
    assert answer["statusCode"] == 400, answer
    body = json.loads(answer["body"])
    assert (body["error"], body["errcode"]) == ("invalid_request", 990400)


def test_a_push_query_with_a_lone_surrogate_is_an_invalid_request(
    callback_env: dict[str, str],
) -> None:
    from tests.functional.test_receive_event import call

    answer = call({"signature": "\ud800", "timestamp": "1", "nonce": "2"}, "{}")
    assert answer["statusCode"] == 400, answer
    body = json.loads(answer["body"])
    assert (body["error"], body["errcode"]) == ("invalid_request", 990400)


def test_a_send_within_the_limits_still_goes_through(invoke: Invoke) -> None:
    result = invoke("send", send_event(data={**send_event()["data"], "thing1": "界" * 20}))
    assert result["errcode"] == 0, result
    assert [r.touser for r in log_records()] == [demo.OPENID]
