"""WeChat's error answers: the errcode/errmsg pairs wxemu can give, and the exception carrying one.

Texts are the ones WeChat answers today (as observed in real answers);
the dispatcher appends the `` rid: …`` suffix, as WeChat does to every error
(https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-access-token/api_getaccesstoken.html).
Codes whose text was never observed carry a plain description; docs/wxemu.md lists them.
"""

from __future__ import annotations

from typing import Optional

ERRMSG: dict[int, str] = {
    -1: "system error",
    40001: (
        "invalid credential, access_token is invalid or not latest, could get access_token by "
        "getStableAccessToken, more details at https://mmbizurl.cn/s/JtxxFh33r"
    ),
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40014: "invalid access_token",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40163: "code been used",
    40226: "invalid user, high risk user",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41008: "missing code",
    41030: "invalid page",
    42001: "access_token expired",
    43002: "require POST method",
    43101: "user refuse to accept the msg",
    44002: "empty post data",
    40066: "invalid url",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit mustslower retry next minute",
    45103: "This API has been unsupported",
    45109: (
        "This API has been unsupported. For more details, please view "
        "https://developers.weixin.qq.com/community/develop/doc/000ae8d6348af08e7030bc2546bc01"
        "?blockType=1"
    ),
    47001: "data format error",
    47003: "argument invalid!",
    48006: "forbid to clear quota because of reaching the limit",
    76021: "cgi_path not found, please check",
    76022: "could not use this cgi_path，no permission",
    200012: "private template count reach limit",
    200014: "invalid tid or template id",
    200016: "invalid start",
    200017: "invalid limit",
    200018: "ids missing",
    200019: "invalid ids",
    200020: "invalid kidList",
    200021: "invalid sceneDesc",
    200022: "template with the same title and keywords already exists",
}


class WeChatError(Exception):
    """A WeChat error answer: ``errcode`` plus ``errmsg`` (without the ``rid`` suffix)."""

    def __init__(self, errcode: int, errmsg: Optional[str] = None) -> None:
        self.errcode = errcode
        self.errmsg = errmsg if errmsg is not None else ERRMSG.get(errcode, "system error")
        super().__init__(f"{self.errcode} {self.errmsg}")


def argument_invalid(field: str) -> WeChatError:
    """47003 naming a request field, in WeChat's ``argument invalid! <field> invalid`` form."""
    return WeChatError(47003, f"argument invalid! {field} invalid")
