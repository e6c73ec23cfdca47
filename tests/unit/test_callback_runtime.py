"""The runtime's raw-body option and RawResponse, which receive_event needs (XML, plain text)."""

from __future__ import annotations

from typing import Any

import pytest

from wxapush import runtime
from wxapush.runtime import Invocation, RawResponse


def _event(body: str, method: str = "POST") -> dict[str, Any]:
    return {
        "httpMethod": method,
        "path": "/receive_event",
        "headers": {"content-type": "text/xml"},
        "queryString": {"nonce": "42"},
        "body": body,
        "isBase64Encoded": False,
    }


def echo(inv: Invocation) -> RawResponse:
    assert inv.http is not None
    return RawResponse(f"{inv.request['nonce']}:{inv.http.body.decode()}")


def test_a_raw_body_reaches_the_service_unparsed_and_the_answer_is_plain_text() -> None:
    answer = runtime.invoke(echo, _event("<xml/>"), {}, auth="none", raw_body=True)
    assert answer == {
        "isBase64Encoded": False,
        "statusCode": 200,
        "headers": {"Content-Type": "text/plain; charset=utf-8"},
        "body": "42:<xml/>",
    }


def test_without_raw_body_xml_is_still_refused_as_json() -> None:
    answer = runtime.invoke(echo, _event("<xml/>"), {}, auth="none")
    assert answer["statusCode"] == 400
    assert '"error": "invalid_request"' in answer["body"] and "990400" in answer["body"]


def plain(inv: Invocation) -> RawResponse:
    return RawResponse("success")


def test_a_raw_response_to_a_direct_call_is_an_internal_error() -> None:
    # Only an HTTP answer can be plain text; a direct caller expects the JSON envelope.
    answer = runtime.invoke(plain, {"nonce": "1"}, {}, auth="none", raw_body=True)
    assert (answer["error"], answer["errcode"]) == ("internal", 990500)


def test_raw_body_needs_a_service_that_authenticates_by_itself() -> None:
    with pytest.raises(ValueError, match="raw_body"):
        runtime.invoke(echo, _event(""), {}, raw_body=True)
