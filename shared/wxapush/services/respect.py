"""Respect for the user: a daily cap per user and quiet hours, both in ``WXAPUSH_TZ``.

``WXAPUSH_USER_CAP`` (``3/day``) bounds the messages one user gets in a day — whatever sends
them, so it also keeps one user from spending the app's whole ``WXAPUSH_RATE_LIMIT`` —
counted in the shared store (``Store.counters``) so every instance sees the same count.
``WXAPUSH_QUIET_HOURS`` (``22:00-08:00``) holds messages back at night: a campaign defers them
to the end of the quiet hours; a single send is refused with ``quiet_hours``. Both hold for
campaigns, and for single sends too under ``WXAPUSH_RESPECT_SCOPE=all``; ``"urgent": true`` on
a service's single send bypasses both. A message that is then not sent gives its count back.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from typing import TYPE_CHECKING, Optional

from wxapush.errors import Capped, QuietHours

if TYPE_CHECKING:
    from wxapush.app import App
    from wxapush.config import Settings

#: A day's counter outlives its day by one, whatever the zone's offset.
COUNTER_TTL = 2 * 86400.0


def applies(settings: Settings, broadcast: bool, urgent: bool) -> bool:
    """Whether the cap and quiet hours hold for this send."""
    if urgent:
        return False
    return broadcast or settings.respect_scope == "all"


def quiet_until(settings: Settings, now: float) -> Optional[float]:
    """When the quiet hours around ``now`` end, or None if ``now`` is outside them."""
    if settings.quiet_hours is None:
        return None
    start, end = settings.quiet_hours
    local = datetime.fromtimestamp(now, timezone.utc).astimezone(settings.tzinfo)
    minute = local.hour * 60 + local.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    day = local.date() if minute < end else local.date() + timedelta(days=1)
    return _at(day, end, settings)


def next_day(settings: Settings, now: float) -> float:
    """When the day after ``now``'s (in ``WXAPUSH_TZ``) begins."""
    local = datetime.fromtimestamp(now, timezone.utc).astimezone(settings.tzinfo)
    return _at(local.date() + timedelta(days=1), 0, settings)


def _at(day: date, minute: int, settings: Settings) -> float:
    moment = datetime.combine(day, dtime(minute // 60, minute % 60), tzinfo=settings.tzinfo)
    return moment.timestamp()


def before_send(app: App, touser: str, broadcast: bool, urgent: bool) -> Optional[str]:
    """Refuse inside quiet hours, else take one of the user's messages for today.

    Returns the counter taken (for :func:`give_back`), or None when nothing was taken.
    """
    settings = app.settings
    if not applies(settings, broadcast, urgent):
        return None
    now = app.clock()
    until = quiet_until(settings, now)
    if until is not None:
        raise QuietHours(
            "inside the quiet hours (WXAPUSH_QUIET_HOURS); nothing was sent",
            retry_after=round(until - now, 3),
        )
    if settings.user_cap is None:
        return None
    local_day = datetime.fromtimestamp(now, timezone.utc).astimezone(settings.tzinfo).date()
    key = f"cap:{settings.appid}:{touser}:{local_day.isoformat()}"
    if not app.store.counters.take(key, settings.user_cap, COUNTER_TTL):
        raise Capped(
            f"this user got {settings.user_cap} messages today (WXAPUSH_USER_CAP); "
            "nothing was sent",
            retry_after=round(next_day(settings, now) - now, 3),
        )
    return key


def give_back(app: App, key: Optional[str]) -> None:
    """Return a counter taken by :func:`before_send` for a message that was not sent."""
    if key is not None:
        app.store.counters.give_back(key)
