"""WXAPUSH_RATE_LIMIT between single sends and campaigns: which buckets each class takes from.

The limiter is an in-memory GCRA on a clock the test moves (``bucket_step``, the arithmetic the
real backends share); tests/functional/store/test_traffic_classes.py runs the real stores.
"""

from __future__ import annotations

import time
from typing import Dict, List, Optional, Tuple

import pytest

from wxapush import pacing
from wxapush.config import Settings, load_settings
from wxapush.errors import Misconfigured, RateLimited
from wxapush.store.common import bucket_step

BASE = {"WXAPUSH_APPID": "wx1234567890abcdef", "WXAPUSH_APPSECRET": "appsecret-0123456789abcdef"}


class FakeLimiter:
    """A token bucket per key on ``now`` (seconds), which ``sleep`` moves."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.state: Dict[str, Optional[int]] = {}
        self.granted: List[Tuple[str, float]] = []  # (key, the slot's time)

    def acquire(self, key: str, rate: float, burst: int = 1, max_wait: float = 0.0) -> float:
        wait, tat = bucket_step(self.state.get(key), int(self.now * 1e6), rate, burst, max_wait)
        if tat is not None:
            self.state[key] = tat
            self.granted.append((key, self.now + wait))
        return wait

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def settings(**extra: str) -> Settings:
    return load_settings({**BASE, **extra})


def pace(s: Settings, limiter: FakeLimiter, campaign: bool, budget: float = 60.0) -> None:
    deadline = time.monotonic() + pacing.SEND_TIME + budget
    pacing.pace(s, limiter, deadline, campaign, sleep=limiter.sleep)


def test_the_share_defaults_to_half_and_is_checked() -> None:
    assert settings().broadcast_share == 0.5
    assert settings(WXAPUSH_BROADCAST_SHARE="0.25").broadcast_share == 0.25
    assert settings(WXAPUSH_BROADCAST_SHARE="1").broadcast_share == 1.0
    for bad in ("0", "-0.5", "1.5", "half", "nan", "inf"):
        with pytest.raises(Misconfigured) as caught:
            settings(WXAPUSH_BROADCAST_SHARE=bad)
        result = caught.value.to_result()
        assert (result["error"], result["errcode"]) == ("misconfigured", 990501)
        assert caught.value.extras["setting"] == "WXAPUSH_BROADCAST_SHARE"


def test_a_campaign_send_takes_its_share_then_the_apps_slot_a_single_send_only_the_apps() -> None:
    s, limiter = settings(WXAPUSH_RATE_LIMIT="10"), FakeLimiter()
    app, campaigns = pacing.app_key(s.appid), pacing.campaign_key(s.appid)
    pace(s, limiter, campaign=True)
    pace(s, limiter, campaign=False)
    assert [key for key, _ in limiter.granted] == [campaigns, app, app]


def test_campaigns_alone_go_at_their_share_single_sends_fill_the_rest() -> None:
    s, limiter = settings(WXAPUSH_RATE_LIMIT="10", WXAPUSH_BROADCAST_SHARE="0.5"), FakeLimiter()
    app = pacing.app_key(s.appid)
    for _ in range(5):
        pace(s, limiter, campaign=True)
    campaign_slots = [t for key, t in limiter.granted if key == app]
    # one every 1 / (0.5 × 10) s: 5/s, not the app's 10/s
    assert [round(b - a, 6) for a, b in zip(campaign_slots, campaign_slots[1:])] == [0.2] * 4
    # a single send meanwhile has a slot of its own at once: the campaigns left it free
    limiter.now = campaign_slots[-1] + 0.1
    before = limiter.now
    pace(s, limiter, campaign=False)
    assert limiter.granted[-1] == (app, before)


def test_a_campaign_over_its_share_is_refused_and_leaves_the_apps_bucket_alone() -> None:
    s, limiter = settings(WXAPUSH_RATE_LIMIT="10", WXAPUSH_BROADCAST_SHARE="0.1"), FakeLimiter()
    pace(s, limiter, campaign=True)
    with pytest.raises(RateLimited) as caught:
        pace(s, limiter, campaign=True, budget=0.5)  # its next slot is 1 s away (1/s)
    result = caught.value.to_result()
    assert (result["error"], result["errcode"], result["retryable"]) == (
        "rate_limited",
        990429,
        True,
    )
    assert "WXAPUSH_BROADCAST_SHARE" in result["errmsg"] and 0.5 < result["retry_after"] <= 1.0
    app = pacing.app_key(s.appid)
    assert [key for key, _ in limiter.granted].count(app) == 1


def test_a_share_of_one_is_the_apps_bucket_alone_and_no_rate_limit_paces_nothing() -> None:
    s, limiter = settings(WXAPUSH_RATE_LIMIT="10", WXAPUSH_BROADCAST_SHARE="1"), FakeLimiter()
    pace(s, limiter, campaign=True)
    assert [key for key, _ in limiter.granted] == [pacing.app_key(s.appid)]
    unlimited = FakeLimiter()
    pace(settings(), unlimited, campaign=True)
    assert unlimited.granted == []
