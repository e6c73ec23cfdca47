"""The local gateway: Function URL events by default, the API gateway's on request, 404s that
list what is served."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from wxemu.gateway import APIGW, Gateway


class Recording:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        return {"statusCode": 201, "headers": {"X-Seen": "yes"}, "body": "done"}


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, Recording]]:
    recording = Recording()
    shape = getattr(request, "param", None)
    kwargs = {"shape": shape} if shape else {}
    gateway = Gateway(("127.0.0.1", 0), {"send": recording, "login": recording}, **kwargs)
    gateway.start()
    yield gateway.base_url, recording
    gateway.shutdown()
    gateway.server_close()


def test_a_request_becomes_a_function_url_event(served: tuple[str, Recording]) -> None:
    base, recording = served
    answer = requests.post(
        f"{base}/send?a=1&b=2&b=3", json={"x": 1}, headers={"X-Custom": "v"}, timeout=5
    )
    assert (answer.status_code, answer.text, answer.headers["X-Seen"]) == (201, "done", "yes")
    (event,) = recording.events
    assert set(event) == {"body", "headers", "httpMethod", "path", "queryString"}
    assert event["httpMethod"] == "POST" and event["path"] == "/send"
    assert event["queryString"] == {"a": "1", "b": ["2", "3"]}
    assert event["headers"]["x-custom"] == "v" and event["body"] == '{"x": 1}'


@pytest.mark.parametrize("served", [APIGW], indirect=True)
def test_the_api_gateway_shape_on_request(served: tuple[str, Recording]) -> None:
    base, recording = served
    requests.get(f"{base}/send?a=1", timeout=5)
    (event,) = recording.events
    assert event["requestContext"]["httpMethod"] == "GET"
    assert event["isBase64Encoded"] is False and event["queryStringParameters"] == {"a": "1"}


def test_an_unknown_path_lists_the_functions(served: tuple[str, Recording]) -> None:
    base, recording = served
    answer = requests.get(f"{base}/nothing", timeout=5)
    assert answer.status_code == 404
    assert "/nothing" in answer.text and "/login" in answer.text and "/send" in answer.text
    assert not recording.events


def test_every_method_reaches_the_function(served: tuple[str, Recording]) -> None:
    base, recording = served
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS"):
        assert requests.request(method, f"{base}/send", timeout=5).status_code == 201
    assert [e["httpMethod"] for e in recording.events] == [
        "GET",
        "PUT",
        "DELETE",
        "PATCH",
        "OPTIONS",
    ]


def test_an_unknown_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        Gateway(("127.0.0.1", 0), {}, shape="lambda")
