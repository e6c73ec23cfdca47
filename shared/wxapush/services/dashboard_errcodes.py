"""What an errcode in the send log means, in a few words, for the dashboard's top-errcodes list.

WeChat's codes are from the subscribe-message and token pages
(https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-message-management/subscribe-message/api_sendmessage.html);
the project's own are the table in ``wxapush.errors``.
"""

from __future__ import annotations

from wxapush.errors import PROJECT_ERRCODES

WECHAT_ERRCODES = {
    -1: "WeChat was busy; the send may be retried",
    40001: "the access token was invalid or not the latest",
    40003: "touser is not an openid of this mini program",
    40037: "template_id is wrong or belongs to another mini program",
    41030: "page is malformed or not in the released mini program",
    42001: "the access token had expired",
    43101: "the user has not subscribed, or used up the one-time subscription",
    43107: "subscribe messages are banned for this account or template",
    43108: "several messages at once to the same user",
    45009: "the daily quota of the API is used up",
    45011: "the per-minute quota of the API is used up",
    45168: "the content hit a sensitive word",
    47001: "the request body was not a JSON object",
    47003: "a data value broke its keyword's rule (length, format, empty)",
    48001: "the mini program may not call this API",
}


def meaning(errcode: int) -> str:
    """A short explanation of ``errcode`` (WeChat's or the project's), or a neutral default."""
    if errcode in WECHAT_ERRCODES:
        return WECHAT_ERRCODES[errcode]
    if errcode in PROJECT_ERRCODES:
        return PROJECT_ERRCODES[errcode][1]
    return "see WeChat's errcode table (or the delivery result's ErrorStatus)"
