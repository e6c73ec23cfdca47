"""``/sns/jscode2session`` and the openApi quota APIs."""

from __future__ import annotations

from typing import Any

from .. import ids
from ..call import Call
from ..errors import WeChatError
from ..quota import DEFAULT_RATE_LIMIT, RATE_LIMITS, charge, daily_limit, used_today

#: clear_quota resets allowed per account (WeChat: 10 a month, shared with clear_quota/v2).
QUOTA_CLEARS_MAX = 10


def code_to_session(call: Call) -> dict[str, Any]:
    """Trade a ``wx.login`` code (minted by ``/__wxemu__/logincodes``) for openid + session_key.

    https://developers.weixin.qq.com/miniprogram/dev/server/API/user-login/api_code2session.html
    """
    query = call.query
    appid = query.get("appid")
    if not appid:
        raise WeChatError(41002)
    app = call.emulator.app(appid)
    secret = query.get("secret")
    if not secret:
        raise WeChatError(41004)
    if secret != app.secret:
        raise WeChatError(40125)
    if query.get("grant_type") != "authorization_code":
        raise WeChatError(40002)
    code = query.get("js_code")
    if not code:
        raise WeChatError(41008)
    charge(app, call.path, call.emulator.clock)
    login = call.emulator.redeem_login_code(app.appid, code)
    return {"session_key": ids.session_key(), "openid": login.openid}


def _cgi_path(call: Call) -> str:
    # Imported here: the route table imports this module.
    from ..routes import WECHAT_ROUTES

    cgi_path = call.json_object().get("cgi_path")
    if not isinstance(cgi_path, str) or cgi_path not in WECHAT_ROUTES:
        raise WeChatError(76021)
    if cgi_path.startswith("/sns/"):
        raise WeChatError(76022)
    return cgi_path


def get_api_quota(call: Call) -> dict[str, Any]:
    """Today's quota of one API for the calling app.

    https://developers.weixin.qq.com/miniprogram/dev/server/API/openApi-mgnt/api_getapiquota.html
    """
    app = call.caller
    cgi_path = _cgi_path(call)
    limit = daily_limit(app, cgi_path)
    used = used_today(app, cgi_path, call.emulator.clock)
    count, seconds = RATE_LIMITS.get(cgi_path, DEFAULT_RATE_LIMIT)
    return {
        "errcode": 0,
        "errmsg": "ok",
        "quota": {"daily_limit": limit, "used": used, "remain": max(limit - used, 0)},
        "rate_limit": {"call_count": count, "refresh_second": seconds},
        "component_rate_limit": {"call_count": count, "refresh_second": seconds},
    }


def clear_api_quota(call: Call) -> dict[str, Any]:
    """Reset one API's daily counter for the calling app.

    https://developers.weixin.qq.com/miniprogram/dev/server/API/openApi-mgnt/api_clearapiquota.html
    """
    app = call.caller
    app.counters.pop(_cgi_path(call), None)
    return {"errcode": 0, "errmsg": "ok"}


def clear_quota(call: Call) -> dict[str, Any]:
    """Reset every daily counter of the app; 10 times at most (48006 after).

    https://developers.weixin.qq.com/miniprogram/dev/server/API/openApi-mgnt/api_clearquota.html
    """
    app = call.caller
    appid = call.json_object().get("appid")
    if not appid:
        raise WeChatError(41002)
    if appid != app.appid:
        raise WeChatError(40013)
    if app.quota_clears >= QUOTA_CLEARS_MAX:
        raise WeChatError(48006)
    app.quota_clears += 1
    app.counters.clear()
    return {"errcode": 0, "errmsg": "ok"}
