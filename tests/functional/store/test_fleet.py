"""The fleet's guarantees on every store, through the real entry points against wxemu.

Many cold instances at once: one upstream token fetch, and exactly one WeChat message per
idempotency key however many instances race to send it (issue 5's done-when, bounded here).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.conftest import ADMIN_KEY, send_event, token_fetches
from tests.functional.store._fleet import run_cold
from wxapush.services.send_claim import NEVER_SENT
from wxapush.store import LogQuery, open_store
from wxemu import demo
from wxemu.testing import RunningServer


def fleet_env(wxemu: RunningServer, store_url: str, **more: str) -> dict[str, str]:
    return {
        "WXAPUSH_APPID": demo.APPID,
        "WXAPUSH_APPSECRET": demo.SECRET,
        "WXAPUSH_API_BASE": wxemu.base_url,
        "WXAPUSH_STORE": store_url,
        "WXAPUSH_ADMIN_KEY": ADMIN_KEY,
        **more,
    }


def test_64_cold_instances_fetch_one_token(wxemu: RunningServer, store_url: str) -> None:
    # classic mode: every upstream fetch would mint a different token, so one token seen by
    # all 64 proves one fetch, and wxemu counts the fetches too
    env = fleet_env(wxemu, store_url, WXAPUSH_TOKEN_MODE="classic")
    results = run_cold(env, "get_token", [[{}]] * 64)
    tokens = {result["access_token"] for [result] in results}
    assert all(result["errcode"] == 0 for [result] in results)
    assert len(tokens) == 1
    assert token_fetches(wxemu, "/cgi-bin/token") == 1


def test_12_instances_racing_20_keys_send_20_messages(wxemu: RunningServer, store_url: str) -> None:
    keys = [f"order-{k}" for k in range(20)]

    def event(key: str) -> dict[str, Any]:
        return send_event(idempotency_key=key, data={**send_event()["data"], "thing1": key})

    # each instance walks the keys from another starting point, so every key is contested
    per_process = [[event(keys[(i + k) % 20]) for k in range(20)] for i in range(12)]
    results = [r for rs in run_cold(fleet_env(wxemu, store_url), "send", per_process) for r in rs]
    assert len(wxemu.messages(demo.APPID)) == 20
    assert sorted(m["data"]["thing1"]["value"] for m in wxemu.messages(demo.APPID)) == sorted(keys)
    fresh = [r for r in results if r["errcode"] == 0 and r["duplicate"] is False]
    assert len(fresh) == 20
    # the others replayed the first outcome, or were told to retry while it was in flight
    for r in results:
        assert r["errcode"] == 0 or (r["error"], r["errcode"], r["retryable"]) == (
            "conflict",
            990409,
            True,
        )
    store = open_store(store_url)
    try:
        page = store.log.query(LogQuery(demo.APPID, 0, 4e9, count=100))
        total, records = page.total, page.records
    finally:
        store.close()
    sent = [r for r in records if r.status == "sent"]
    assert sorted(r.idempotency_key or "" for r in sent) == sorted(keys)
    # the rest: racing claims taken over before they called WeChat (never sent, key freed)
    others = [r for r in records if r.status != "sent"]
    assert total == len(records) == 20 + len(others)
    assert all((r.status, r.attempts, r.idempotency_key) == ("rejected", 0, None) for r in others)
    assert all(r.errmsg == NEVER_SENT for r in others)


@pytest.fixture(autouse=True)
def _no_stray_state(wxemu: RunningServer) -> None:
    assert wxemu.messages(demo.APPID) == []
