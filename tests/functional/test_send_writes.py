"""The send path's durable writes: the claim and the door's mark before the call to WeChat,
one after it.

Every seam method that writes is wrapped to note its call, and so is the call to WeChat: a
warm send under the default ``track`` policy must claim once, mark the call as started (the
compare-and-set that lets a retry tell a claim that never reached WeChat from one that did:
``services/send_claim``), call, then record the outcome and the grant it used in one write
(``SendLog.update(use_grant=...)``), not two.
"""

from __future__ import annotations

from typing import Any

import pytest

from wxapush.app import current_app
from wxemu import demo

from .conftest import Invoke, balance, log_records, send_event

#: Seam methods that write, by seam.
WRITES = {
    "log": ("claim", "update", "prune", "expire_idempotency"),
    "grants": ("grant", "revoke", "consume"),
    "tokens": ("put_token", "invalidate_token", "acquire_lock", "release_lock"),
    "counters": ("take", "give_back"),
    "limiter": ("acquire",),
    "events": ("first_seen", "forget"),
}


def trace_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Note each store write and each call to WeChat of the running App, in order."""
    app = current_app()
    calls: list[str] = []

    def wrap(owner: Any, name: str, label: str) -> None:
        real = getattr(owner, name)

        def traced(*args: Any, **kwargs: Any) -> Any:
            grant = kwargs.get("use_grant")
            calls.append(label + ("+grant" if grant is not None else ""))
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, traced)

    for seam, names in WRITES.items():
        for name in names:
            wrap(getattr(app.store, seam), name, f"{seam}.{name}")
    wrap(app.transport, "request", "wechat")
    return calls


def test_a_warm_send_writes_once_before_the_call_and_once_after(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke("send", send_event())["errcode"] == 0  # warm: token fetched and stored
    current_app().store.grants.grant(demo.APPID, demo.OPENID, demo.TEMPLATE_ID, 2)
    calls = trace_writes(monkeypatch)
    result = invoke("send", send_event(idempotency_key="order-1"))
    assert result["errcode"] == 0, result
    assert calls == ["log.claim", "log.update", "wechat", "log.update+grant"]
    assert balance() == 1  # the grant was used, in the outcome's write
    [record] = log_records(status="sent", touser=demo.OPENID)[:1]
    assert (record.log_id, record.msgid) == (result["log_id"], result["msgid"])


def test_with_the_ledger_off_the_outcome_is_written_alone(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WXAPUSH_GRANT_POLICY", "off")  # read when the App is first built
    assert invoke("send", send_event())["errcode"] == 0
    calls = trace_writes(monkeypatch)
    assert invoke("send", send_event())["errcode"] == 0
    assert calls == ["log.claim", "log.update", "wechat", "log.update"]
