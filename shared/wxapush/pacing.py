"""``WXAPUSH_RATE_LIMIT`` between two traffic classes: single sends and campaigns.

Every send takes a slot of the app's bucket (``WXAPUSH_RATE_LIMIT`` per second, shared by every
instance). A campaign's send first takes a slot of a second bucket, the campaigns' own, filled at
``WXAPUSH_BROADCAST_SHARE`` × the rate, and only then its slot of the app's bucket. So all the
campaigns together never take more than their share of the app's slots, and single sends (an
order paid, a code to sign in) always have the rest of the rate, whatever the campaigns do; when
no single send wants them, the campaigns still take only their share.

Both buckets are the store's :class:`~wxapush.store.base.RateLimiter` (GCRA, burst 1, atomic
across processes), under two keys. A campaign slot taken whose app slot then cannot be had in
time is lost: the campaign sends a little less than its share, never more.
"""

from __future__ import annotations

import time
from typing import Callable

from wxapush.config import Settings
from wxapush.errors import RateLimited
from wxapush.store.base import RateLimiter

#: Time kept for the send itself after waiting for a slot.
SEND_TIME = 1.0


def app_key(appid: str) -> str:
    """The bucket every send of the app takes a slot of."""
    return f"send:{appid}"


def campaign_key(appid: str) -> str:
    """The bucket only campaigns' sends take a slot of (first), at the share of the rate."""
    return f"send:{appid}:broadcast"


def pace(
    settings: Settings,
    limiter: RateLimiter,
    deadline: float,
    campaign: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Take this send's slots, waiting for them while ``SEND_TIME`` is left before
    ``deadline`` (a ``time.monotonic()`` instant); else raise :class:`RateLimited` (retryable),
    the app's bucket untouched. ``campaign``: a broadcast worker's send."""
    rate = settings.rate_limit
    if rate is None:
        return
    appid = settings.appid
    share = settings.broadcast_share
    if campaign and share < 1.0:
        _slot(
            limiter,
            campaign_key(appid),
            rate * share,
            deadline,
            sleep,
            f"WXAPUSH_BROADCAST_SHARE ({share:g} of {rate:g}/s) reached by the campaigns",
        )
    _slot(
        limiter, app_key(appid), rate, deadline, sleep, f"WXAPUSH_RATE_LIMIT ({rate:g}/s) reached"
    )


def _slot(
    limiter: RateLimiter,
    key: str,
    rate: float,
    deadline: float,
    sleep: Callable[[float], None],
    what: str,
) -> None:
    budget = max(0.0, deadline - time.monotonic() - SEND_TIME)
    wait = limiter.acquire(key, rate, 1, max_wait=budget)
    if wait > budget:
        raise RateLimited(f"{what}; retry in {wait:.1f}s", retry_after=round(wait, 3))
    if wait > 0:
        sleep(wait)
