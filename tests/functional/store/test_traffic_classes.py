"""While a campaign saturates its share of WXAPUSH_RATE_LIMIT, single sends have the rest.

The real entry points against wxemu, on the embedded store and Redis (the shared limiter):
twelve broadcast workers drain a long campaign while two threads send single messages as fast
as they can. Counted on the limiter's own reservations (the slot each send was given), over a
window of three seconds: the campaigns get at most their share (what the limiter guarantees),
the single sends the rest (more than half of it; without the share they would get 2 slots in 14,
the workers being 12 of the 14 waiting).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from tests.functional.conftest import Invoke, send_event
from tests.functional.store.conftest import BACKENDS
from wxapush import pacing
from wxapush.app import current_app, reset_app
from wxapush.config import reset_settings
from wxapush.store.base import RateLimiter
from wxemu import demo
from wxemu.testing import RunningServer

RATE, SHARE = 20.0, 0.5
WORKERS, SENDERS = 12, 2
WINDOW = 3.0  # seconds of slots counted, from 1 s after the start


class RecordingLimiter:
    """The store's limiter, noting each slot it gives: (thread name, key, its wall time)."""

    def __init__(self, inner: RateLimiter) -> None:
        self.inner = inner
        self.slots: List[Tuple[str, str, float]] = []
        self.lock = threading.Lock()

    def acquire(self, key: str, rate: float, burst: int = 1, max_wait: float = 0.0) -> float:
        wait = self.inner.acquire(key, rate, burst, max_wait)
        if wait <= max_wait:
            with self.lock:
                self.slots.append((threading.current_thread().name, key, time.time() + wait))
        return wait


class RecordingStore:
    """The store under test, its limiter recorded."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.limiter = RecordingLimiter(inner.limiter)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture(params=["sqlite", "redis"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    return BACKENDS[request.param](request, tmp_path)


@pytest.fixture
def recorded(
    invoke: Invoke, shared_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RecordingLimiter]:
    for name, value in {
        "WXAPUSH_STORE": shared_url,
        "WXAPUSH_RATE_LIMIT": str(RATE),
        "WXAPUSH_BROADCAST_SHARE": str(SHARE),
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    reset_app()
    app = current_app()
    store = RecordingStore(app.store)
    app.store = store
    yield store.limiter


def granted(wxemu: RunningServer, stem: str, n: int) -> List[str]:
    openids = [f"o{stem}-{i:05d}-xxxxxxxxxxxxxxxxxxxx"[:28] for i in range(n)]
    for openid in openids:
        wxemu.emulator.grant(demo.APPID, openid, demo.TEMPLATE_ID, 1)
    return openids


def test_single_sends_keep_the_rest_of_the_rate_while_a_campaign_saturates_its_share(
    invoke: Invoke, wxemu: RunningServer, recorded: RecordingLimiter
) -> None:
    data = dict(send_event()["data"])
    created = invoke(
        "broadcast",
        {"template_id": demo.TEMPLATE_ID, "data": data, "recipients": granted(wxemu, "C", 400)},
    )
    assert created["errcode"] == 0, created
    start = time.time()
    t0, t1 = start + 1.0, start + 1.0 + WINDOW
    answers: Dict[str, List[Any]] = {"work": [], "send": []}

    def work() -> None:
        answers["work"].append(invoke("broadcast", {"action": "work"}, time_limit_ms=9000))

    def send(openids: List[str]) -> None:
        for openid in openids:
            if time.time() > t1 + 0.3:
                return
            answers["send"].append(invoke("send", send_event(touser=openid)))

    singles = granted(wxemu, "S", 400)
    threads = [threading.Thread(target=work, name=f"worker-{i}") for i in range(WORKERS)]
    threads += [
        threading.Thread(target=send, args=(singles[i::SENDERS],), name=f"single-{i}")
        for i in range(SENDERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(a["errcode"] == 0 for a in answers["send"]), answers["send"]
    assert all(a["errcode"] == 0 for a in answers["work"]), answers["work"]

    app_key = pacing.app_key(demo.APPID)
    in_window = [(who, key) for who, key, at in recorded.slots if t0 <= at < t1]
    campaign = sum(1 for who, key in in_window if who.startswith("worker") and key == app_key)
    single = sum(1 for who, key in in_window if who.startswith("single") and key == app_key)
    # The campaigns: at most their share (each app slot follows a slot of their own bucket).
    assert campaign <= SHARE * RATE * WINDOW + 2, (campaign, single)
    assert campaign >= 0.5 * SHARE * RATE * WINDOW, (campaign, single)  # they were saturating
    # The single sends: the rest of the rate (30 in the window), not 2 slots in 14 (about 9).
    assert single >= 0.5 * (1 - SHARE) * RATE * WINDOW, (campaign, single)
