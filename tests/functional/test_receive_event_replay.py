"""receive_event against replays: plaintext signatures that sign no body, and WeChat's 5 s."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from tests.functional.conftest import CALLBACK_TOKEN, Invoke, balance, log_records, send_event
from tests.functional.test_receive_event import call, popup, refused, secure, sent_event, use
from wxapush.wechat.callback import sign


def plaintext_query(nonce: str = "31") -> dict[str, str]:
    stamp = str(int(time.time()))
    return {"signature": sign(CALLBACK_TOKEN, stamp, nonce), "timestamp": stamp, "nonce": nonce}


@pytest.fixture
def plaintext(callback_env: dict, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    """Plaintext mode (no EncodingAESKey) under the enforce policy."""
    use(monkeypatch, ENCODING_AES_KEY=None, GRANT_POLICY="enforce")


# -- plaintext mode: one signature, one body ----------------------------------------------------


@pytest.mark.parametrize("max_age", ["300", "0"])
def test_a_plaintext_signature_signs_one_body_only(  # type: ignore[no-untyped-def]
    plaintext, invoke: Invoke, monkeypatch, max_age: str
) -> None:
    use(monkeypatch, CALLBACK_MAX_AGE=max_age)
    query = plaintext_query()
    pushed = json.dumps(popup())
    assert call(query, pushed)["body"] == "success"
    # WeChat's retry, byte for byte: answered, handled once.
    assert call(query, pushed)["body"] == "success"
    assert balance() == 1
    # Whoever saw the query string forges other bodies with it: each is refused.
    for created in range(1700000001, 1700000011):
        refused(call(query, json.dumps(popup(created=created))), 401, "unauthorized", 990401)
    # The signature is compared case-insensitively, and so is its claim.
    shouted = {**query, "signature": query["signature"].upper()}
    refused(call(shouted, json.dumps(popup(created=1700000099))), 401, "unauthorized", 990401)
    assert balance() == 1
    sent = invoke("send", send_event())
    assert sent["errcode"] == 0
    forged_report = json.dumps(sent_event(sent["msgid"], -1, "forged"))
    for _ in range(2):  # a refused body stays refused when posted again
        refused(call(query, forged_report), 401, "unauthorized", 990401)
    assert [r.status for r in log_records()] == ["sent"]
    # The one accept let exactly one message through.
    second = invoke("send", send_event())
    assert (second["error"], second["errcode"]) == ("not_subscribed", 43101)
    assert balance() == 0


def test_a_url_checks_signature_cannot_sign_a_push(plaintext) -> None:  # type: ignore[no-untyped-def]
    query = {**plaintext_query(), "echostr": "1234"}
    assert call(query, method="GET")["body"] == "1234"
    assert call(query, method="GET")["body"] == "1234"  # the console may check again
    refused(call(query, json.dumps(popup())), 401, "unauthorized", 990401)
    assert balance() is None


def test_fresh_signatures_still_carry_pushes(plaintext) -> None:  # type: ignore[no-untyped-def]
    # WeChat signs each push (and each retry) with its own nonce: all of them are handled.
    for nonce, created in (("1", 1700000001), ("2", 1700000002), ("3", 1700000002)):
        assert call(plaintext_query(nonce), json.dumps(popup(created=created)))["body"] == "success"
    assert balance() == 2


# -- one wait for msgids per push, inside WeChat's 5 s --------------------------------------------


def test_a_push_of_unknown_msgids_answers_in_time_and_reports_them(  # type: ignore[no-untyped-def]
    callback_env, invoke: Invoke, caplog
) -> None:
    sent = invoke("send", send_event())
    unknown = [sent["msgid"] + n for n in range(1, 6)]
    items = [sent_event(msgid)["List"] for msgid in [*unknown, sent["msgid"]]]
    push: dict[str, Any] = {**sent_event(0), "List": items}
    caplog.set_level(logging.INFO, logger="wxapush.receive_event")
    started = time.monotonic()
    # A generous time limit, so that only receive_event's own budget bounds the waits.
    answer = call(*secure(push), time_limit_ms=60000)
    elapsed = time.monotonic() - started
    assert (answer["statusCode"], answer["body"]) == (200, "success")
    # The known msgid, last in the push, is still matched once the budget is spent.
    assert [r.status for r in log_records()] == ["delivered"]
    for msgid in unknown:  # reported as not matched
        assert str(msgid) in caplog.text
    # WeChat hangs up after 5 s. The budget is 2 s for the whole push; waiting 2 s per
    # unknown msgid took 10 s. 5 s leaves 3 s of slack for a loaded machine.
    assert elapsed < 5.0


def test_a_failed_plaintext_push_keeps_its_signature_bound_to_its_body(  # type: ignore[no-untyped-def]
    plaintext, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from wxapush.services import subscriptions

    real = subscriptions.apply_event
    failures = []

    def flaky(app: Any, push: Any, *args: Any) -> bool:
        if not failures:
            failures.append(push)
            raise sqlite3.OperationalError("database is locked")
        return real(app, push, *args)

    monkeypatch.setattr(subscriptions, "apply_event", flaky)
    query = plaintext_query("77")
    pushed = json.dumps(popup())
    refused(call(query, pushed), 502, "upstream_error", 990503)  # the store failed: retry
    # While the timestamp is fresh, the failed push's signature carries no other body...
    refused(call(query, json.dumps(popup(created=1700000077))), 401, "unauthorized", 990401)
    assert balance() is None
    # ...and WeChat's retry of the same bytes is handled, once.
    assert call(query, pushed)["body"] == "success"
    assert call(query, pushed)["body"] == "success"
    assert balance() == 1
