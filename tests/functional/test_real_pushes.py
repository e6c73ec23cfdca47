"""WeChat's real push bodies (tests/fixtures/real/pushes.json) through receive_event and its parser.

Real pushes carry CreateTime as an integer (the documentation's JSON samples write a string) and
List as one object for one template, an array for several: receive_event takes every form.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.test_receive_event import call, use
from tests.real_corpus import load
from wxapush.wechat.callback import sign
from wxapush.wechat.events import parse_document, parse_push

CASES = load("pushes")
TOKEN = "real-pushes-token"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_a_real_push_parses_as_posted(case: dict[str, Any]) -> None:
    document = parse_document(case["request"]["body"].encode("utf-8"))
    want = case["answer"]
    if case["request"]["format"] == "json":  # XML has no types: its CreateTime is bare digits
        is_int = isinstance(document["CreateTime"], int)
        assert is_int == (want["create_time_type"] == "integer")
    push = parse_push(document)
    assert push.event == want["event"]
    assert isinstance(push.create_time, int) and push.create_time > 1_600_000_000
    if push.deliveries:
        got = [[d.template_id, str(d.msgid)] for d in push.deliveries]
    else:
        got = [[c.template_id, c.status] for c in push.choices]
    assert got == want["items"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_receive_event_acknowledges_a_real_push(
    callback_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, case: dict[str, Any]
) -> None:
    use(monkeypatch, CALLBACK_TOKEN=TOKEN, ENCODING_AES_KEY=None, CALLBACK_MAX_AGE="0")
    query = {"signature": sign(TOKEN, "1625575518", "42"), "timestamp": "1625575518", "nonce": "42"}
    answer = call(query, case["request"]["body"])
    assert (answer["statusCode"], answer["body"]) == (200, "success"), answer
