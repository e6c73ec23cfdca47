"""The per-user limit of user-initiated sends (``WXAPUSH_USER_RATE_LIMIT``).

A mini-program user may send itself messages (``send`` with its own ``WX_OPENID`` or session):
without a limit of its own, one user calling in a loop takes every slot of
``WXAPUSH_RATE_LIMIT`` and WeChat's daily quota with them. Each user has a token bucket in the
shared store's rate limiter (the fleet shares it): ``N`` at once, then ``N`` per period, evenly.
An over-limit send is refused before anything is claimed, logged or sent, so a retry after
``retry_after`` seconds can send it. Services' sends and campaigns are not counted here.
"""

from __future__ import annotations

from wxapush.app import App
from wxapush.errors import RateLimited


def take_user_slot(app: App, openid: str) -> None:
    """Take one of the user's sends, or raise :class:`RateLimited` (retryable, ``retry_after``)."""
    limit = app.settings.user_rate_limit
    if limit is None:
        return
    count, period = limit
    bucket = f"user-send:{app.settings.appid}:{openid}"
    wait = app.store.limiter.acquire(bucket, count / period, count, max_wait=0.0)
    if wait > 0:
        raise RateLimited(
            f"WXAPUSH_USER_RATE_LIMIT ({count} per {period:g} s) reached for this user; "
            f"retry in {wait:.1f}s",
            retry_after=round(wait, 3),
        )
