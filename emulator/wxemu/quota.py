"""Daily API quotas: defaults per path, and the rate limits ``getApiQuota`` reports.

WeChat counts each API's calls per app per day and answers 45009 once the daily limit is passed
(https://developers.weixin.qq.com/miniprogram/dev/server/API/openApi-mgnt/api_getapiquota.html).
The defaults below are WeChat's documented or observed figures where one exists and a generous
round number otherwise; tests lower them through the control plane.
"""

from __future__ import annotations

from .clock import Clock
from .errors import WeChatError
from .models import App

DEFAULT_DAILY_LIMIT = 100_000

DAILY_LIMITS: dict[str, int] = {
    "/cgi-bin/token": 2000,
    "/cgi-bin/stable_token": 500_000,
    "/cgi-bin/message/subscribe/send": 10_000_000,
    "/sns/jscode2session": 10_000_000,
}

#: (call_count, refresh_second) as getApiQuota reports them.
RATE_LIMITS: dict[str, tuple[int, int]] = {
    "/cgi-bin/stable_token": (10_000, 60),
}
DEFAULT_RATE_LIMIT = (5000, 60)


def daily_limit(app: App, path: str) -> int:
    """The daily limit of ``path`` for ``app`` (a control-plane override, else the default)."""
    return app.daily_limits.get(path, DAILY_LIMITS.get(path, DEFAULT_DAILY_LIMIT))


def used_today(app: App, path: str, clock: Clock) -> int:
    """Calls to ``path`` counted today."""
    day, used = app.counters.get(path, (-1, 0))
    return used if day == clock.day() else 0


def charge(app: App, path: str, clock: Clock) -> None:
    """Count one call to ``path``; 45009 (and nothing counted) once today's limit is used up."""
    used = used_today(app, path, clock)
    if used >= daily_limit(app, path):
        raise WeChatError(45009)
    app.counters[path] = (clock.day(), used + 1)
    app.calls[path] = app.calls.get(path, 0) + 1


def calls_made(app: App, path: str) -> int:
    """Calls to ``path`` counted since the app was made, across days and quota clearing."""
    return app.calls.get(path, 0)
