"""refresh_code's rollups step through the real function: it counts the closed buckets of the
store that keeps rollups, then only what changed; a store without them has nothing to do."""

from __future__ import annotations

import uuid
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from tests.functional.conftest import Invoke, send_event
from tests.functional.store import _namespaces
from wxapush.app import reset_app
from wxapush.config import reset_settings
from wxapush.services import dashboard_rollups

TIMER = {"Type": "Timer", "TriggerName": "refresh", "Time": "2026-11-27T02:00:00Z", "Message": ""}
#: 10:30 in Shanghai: ten hours of today are closed
NOW = datetime(2026, 11, 27, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def test_a_store_without_rollups_has_nothing_to_do(invoke: Invoke) -> None:
    result = invoke("refresh_code", TIMER)
    assert result["rollups"] == {"ok": True, "buckets": 0}  # sqlite counts its own file


def test_the_step_counts_the_window_once_then_what_changed(
    invoke: Invoke,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    request.addfinalizer(lambda: _namespaces.drop_redis(redis_url, prefix))
    monkeypatch.setenv("WXAPUSH_STORE", f"{redis_url}?prefix={prefix}")
    monkeypatch.setenv("WXAPUSH_TZ", "Asia/Shanghai")
    reset_settings()
    reset_app()
    monkeypatch.setattr(dashboard_rollups, "time", SimpleNamespace(time=lambda: NOW))
    assert invoke("send", send_event())["errcode"] == 0
    first = invoke("refresh_code", TIMER)
    # 31 days (the 30 kept and the one prune cuts into) and today's 10 closed hours
    assert first["rollups"] == {"ok": True, "buckets": 41}
    assert invoke("refresh_code", TIMER)["rollups"] == {"ok": True, "buckets": 0}
