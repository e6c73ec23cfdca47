"""WeChat's errcodes mapped to wxapush's typed errors (by number, never by message text).

The codes and their meanings are WeChat's, from the tables of the subscribe-message and token
pages (https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_sendmessage.html).
The error keeps WeChat's errcode and errmsg (with its ``rid``, which WeChat support asks for).
"""

from __future__ import annotations

import time
from typing import Optional

from wxapush.errors import (
    InvalidArgument,
    InvalidRequest,
    InvalidTemplate,
    Misconfigured,
    NotSubscribed,
    QuotaExhausted,
    RateLimited,
    UpstreamError,
    WxapushError,
)

_BY_ERRCODE: dict[int, type[WxapushError]] = {
    40003: InvalidRequest,  # touser is not an openid of this app
    40037: InvalidTemplate,
    41030: InvalidArgument,  # invalid page
    43101: NotSubscribed,
    45168: InvalidArgument,  # sensitive word in the content
    47001: InvalidRequest,
    47003: InvalidArgument,
    45009: QuotaExhausted,  # daily quota: only clear_quota or WeChat's next day helps
    45011: RateLimited,
    43108: RateLimited,  # concurrent sends to one user
    40002: Misconfigured,
    40013: Misconfigured,  # bad AppID
    40125: Misconfigured,  # bad AppSecret
    40164: Misconfigured,  # caller IP not whitelisted
    40243: Misconfigured,  # AppSecret frozen
    41002: Misconfigured,
    41004: Misconfigured,
    43107: Misconfigured,  # subscribe messages banned for this account or template
    48001: Misconfigured,  # api unauthorized
    50004: Misconfigured,
    50007: Misconfigured,
}

#: Codes after which the same request may succeed later, with nothing sent this time.
RETRY_LATER = frozenset({-1, 45011, 43108, 45009})

#: WeChat's days — the daily quotas' — run from midnight to midnight Beijing time (UTC+8, no
#: daylight saving since 1991), whatever WXAPUSH_TZ or the machine's zone say.
WECHAT_UTC_OFFSET = 8 * 3600


def wechat_day_end(now: float) -> float:
    """The moment (epoch seconds) WeChat's day containing ``now`` ends: the next midnight in
    Beijing time."""
    return ((now + WECHAT_UTC_OFFSET) // 86400 + 1) * 86400 - WECHAT_UTC_OFFSET


def quota_retry(error: WxapushError, now: float) -> WxapushError:
    """``error`` with ``retry_after`` (seconds) and ``retry_at`` (epoch seconds) set to the end of
    WeChat's day, if it is the daily quota's; other errors are returned as they are."""
    if isinstance(error, QuotaExhausted):
        end = wechat_day_end(now)
        error.extras.update(retry_after=round(end - now, 3), retry_at=end)
        error.extras.setdefault(
            "hint",
            "WeChat's daily quota of this API is used up: nothing was sent. It renews at "
            "midnight Beijing time (retry_at); POST /cgi-bin/clear_quota renews it at once "
            "(10 times a month)",
        )
    return error


def error_for_errcode(errcode: int, errmsg: str, now: Optional[float] = None) -> WxapushError:
    """The typed error for WeChat's non-zero ``errcode``; unknown codes are upstream errors.
    ``now`` (default: the wall clock) dates a daily-quota answer's ``retry_after``."""
    cls = _BY_ERRCODE.get(errcode, UpstreamError)
    error = cls(errmsg or f"errcode {errcode}", errcode=errcode, retryable=errcode in RETRY_LATER)
    return quota_retry(error, time.time() if now is None else now)
