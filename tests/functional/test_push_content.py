"""What a valid signature covers is held to the limits of every request: a signed, encrypted
push whose content no store can hold is an invalid request, never an internal error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.functional.test_receive_event import POPUP, call, refused, secure


def popup_with(**fields: Any) -> str:
    item = {**POPUP["List"], **fields}
    return json.dumps({**POPUP, "CreateTime": "1700000000", "List": item})


def nested(depth: int) -> str:
    return (
        json.dumps({**POPUP, "CreateTime": "1700000000"})[:-1]
        + ',"Deep":'
        + ("[" * depth + "]" * depth)
        + "}"
    )


@pytest.mark.parametrize(
    "message",
    [
        popup_with(TemplateId="\\ud83d").replace("\\\\ud83d", "\\ud83d"),
        popup_with(PopupScene="0").replace('"0"', '"\\udc00x"'),
        json.dumps({**POPUP, "CreateTime": "1700000000"}).replace(
            '"FromUserName"', '"From\\ud800UserName"'
        ),
        popup_with(PopupScene="a\\u0000b").replace("\\\\u0000", "\\u0000"),
        nested(40),
    ],
    ids=["template-id", "popup-scene", "key", "nul", "deep"],
)
def test_a_signed_push_with_unstorable_content_is_an_invalid_request(
    callback_env: dict,
    message: str,  # type: ignore[type-arg]
) -> None:
    query, body = secure(message)
    refused(call(query, body), 400, "invalid_request", 990400)


def test_a_signed_plaintext_push_is_held_to_the_same_limits(
    callback_env: dict,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[type-arg]
) -> None:
    from tests.functional.test_receive_event import use
    from wxapush.wechat.callback import sign

    use(monkeypatch, ENCODING_AES_KEY=None)
    query = {"timestamp": "1700000000", "nonce": "5", "signature": ""}
    query["signature"] = sign("test-callback-token", "1700000000", "5")
    use(monkeypatch, CALLBACK_MAX_AGE="0")
    message = popup_with(TemplateId="x").replace('"x"', '"\\ud83d"')
    refused(call(query, message), 400, "invalid_request", 990400)
