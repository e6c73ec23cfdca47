"""A campaign drained by several worker processes, one killed mid-run, on every store.

Issue 12's done-when: the campaign ends ``done`` with every recipient accounted for exactly
once and one WeChat message per subscribed recipient. The send the killed worker had in flight
may end ``unknown`` (at most one per dead worker) and is never sent twice.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from typing import Any, Dict, Iterator, List

import pytest

from tests.functional.conftest import ADMIN_KEY, handler
from tests.functional.store import _broadcast_workers, _workers
from wxapush.app import reset_app
from wxapush.config import reset_settings
from wxapush.store import open_store
from wxemu import demo
from wxemu.testing import RunningServer

RECIPIENTS = 2000
WORKERS = 3
DATA = {
    "thing1": "限时降价",
    "character_string2": "SF1234567890",
    "date3": "2026-11-27 10:30",
    "amount6": "¥99.00",
}


@pytest.fixture
def fleet_env(
    wxemu: RunningServer, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Dict[str, str]]:
    env = {
        "WXAPUSH_APPID": demo.APPID,
        "WXAPUSH_APPSECRET": demo.SECRET,
        "WXAPUSH_API_BASE": wxemu.base_url,
        "WXAPUSH_STORE": store_url,
        "WXAPUSH_ADMIN_KEY": ADMIN_KEY,
        "WXAPUSH_BROADCAST_LEASE": "8",  # longer than an invocation (6 s): see _broadcast_workers
    }
    for name in [n for n in os.environ if n.startswith("WXAPUSH_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    reset_app()
    yield env
    reset_app()
    reset_settings()


def _counts(store_url: str, bid: str) -> Dict[str, int]:
    store = open_store(store_url)
    try:
        return store.campaigns.counts(demo.APPID, bid)
    finally:
        store.close()


def log_of(store_url: str) -> List[Any]:
    from wxapush.store import LogQuery

    store = open_store(store_url)
    try:
        return store.log.query(LogQuery(demo.APPID, 0, 4e9, count=10_000)).records
    finally:
        store.close()


def test_a_killed_worker_loses_and_duplicates_nothing(
    wxemu: RunningServer, store_url: str, fleet_env: Dict[str, str]
) -> None:
    openids = [f"oFleet{i:06d}".ljust(28, "x") for i in range(RECIPIENTS)]
    for openid in openids:
        wxemu.emulator.grant(demo.APPID, openid, demo.TEMPLATE_ID, 1)
    broadcast = handler("broadcast")
    event = {"template_id": demo.TEMPLATE_ID, "data": DATA, "recipients": openids}
    created = broadcast({**event, "broadcast_id": "fleet-1"}, {})
    assert created["errcode"] == 0 and created["total"] == RECIPIENTS, created

    ctx = _workers.context()
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_broadcast_workers.drain, args=(fleet_env, "fleet-1", i, results, 90.0))
        for i in range(WORKERS)
    ]
    for p in procs:
        p.start()
    victim = procs[0]
    try:
        deadline = time.monotonic() + 60
        while _counts(store_url, "fleet-1").get("sent", 0) < RECIPIENTS // 5:
            assert time.monotonic() < deadline, "the workers never got going"
            assert results.empty(), results.get()  # a worker that ended early failed
            time.sleep(0.02)
        os.kill(victim.pid or 0, signal.SIGKILL)  # mid-run: it holds a batch, maybe a send
        reports: List[Any] = [results.get(timeout=120) for _ in procs[1:]]
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    assert all(status == "ok" for status, _, _ in reports), reports
    assert victim.exitcode == -signal.SIGKILL

    report = broadcast({"action": "status", "broadcast_id": "fleet-1"}, {})
    counts = report["counts"]
    assert report["status"] == "done", report
    assert sum(counts[k] for k in counts if k != "delivered") == RECIPIENTS  # each once
    assert counts["sent"] + counts["unknown"] == RECIPIENTS, counts
    unknown = [r for r in log_of(store_url) if r.status == "pending"]
    assert counts["unknown"] <= 1, unknown  # one dead worker: at most its one send in flight
    per_user = Counter(m["touser"] for m in wxemu.messages(demo.APPID))
    assert max(per_user.values()) == 1  # never sent twice
    assert counts["sent"] <= len(per_user) <= RECIPIENTS
    assert set(per_user) <= set(openids)
