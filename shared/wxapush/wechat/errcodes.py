"""WeChat's errcodes mapped to wxapush's typed errors (by number, never by message text).

The codes and their meanings are WeChat's, from the tables of the subscribe-message and token
pages (https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_sendmessage.html).
The error keeps WeChat's errcode and errmsg (with its ``rid``, which WeChat support asks for).
"""

from __future__ import annotations

from wxapush.errors import (
    InvalidArgument,
    InvalidRequest,
    InvalidTemplate,
    Misconfigured,
    NotSubscribed,
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
    45009: RateLimited,  # daily quota: only clear_quota or tomorrow helps
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
RETRY_LATER = frozenset({-1, 45011, 43108})


def error_for_errcode(errcode: int, errmsg: str) -> WxapushError:
    """The typed error for WeChat's non-zero ``errcode``; unknown codes are upstream errors."""
    cls = _BY_ERRCODE.get(errcode, UpstreamError)
    return cls(errmsg or f"errcode {errcode}", errcode=errcode, retryable=errcode in RETRY_LATER)
