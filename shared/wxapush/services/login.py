"""login: a ``wx.login`` code in, a wxapush session out (for front ends reached over HTTP).

``POST {"code": "<wx.login code>"}`` -> ``/sns/jscode2session``
(https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-login/code2Session.html) ->
``{"session": <token>, "expires_in": <s>, "openid": <openid>}``. The session (see
:mod:`wxapush.session`) is then sent as ``Authorization: Session <token>`` and makes the request
that user's, with the rights of a CloudBase ``WX_OPENID`` caller. WeChat's ``session_key`` is
dropped here: it is never answered, logged or stored.

WeChat's refusals of the code keep WeChat's errcode: ``40029`` (invalid or expired code) and
``40163`` (code already used) are ``unauthorized`` (call ``wx.login`` again), ``40226`` (a
high-risk user, blocked by WeChat) is ``forbidden``, ``45011`` (too many logins a minute) is
``rate_limited``; an AppID/AppSecret refusal is ``misconfigured``.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict

from wxapush import session
from wxapush.app import current_app
from wxapush.errors import (
    UPSTREAM_TIMEOUT,
    Forbidden,
    InvalidRequest,
    OutcomeUnknown,
    Unauthorized,
    UpstreamError,
    WxapushError,
)
from wxapush.invocation import Invocation
from wxapush.wechat.errcodes import error_for_errcode

log = logging.getLogger("wxapush.login")

PATH = "/sns/jscode2session"
#: A wx.login code is 32 characters of base64-like text in practice; allow room, no spaces.
_CODE = re.compile(r"^[A-Za-z0-9_\-+/=.]{1,128}$")
#: WeChat's answers about the code itself (jscode2session's errcodes): log in again.
_CODE_REFUSED = frozenset({40029, 40163})
_RISKY_USER = 40226


def run(inv: Invocation) -> Dict[str, Any]:
    """Exchange the request's ``code`` for a signed session of its openid."""
    code = inv.request.get("code")
    if not isinstance(code, str) or not code:
        raise InvalidRequest("code is required: the code wx.login() resolved with", field="code")
    if not _CODE.match(code):
        raise InvalidRequest("code is not a wx.login code", field="code")
    app = current_app()
    settings = app.settings
    # Before WeChat: a code is good for one exchange, and must not be spent on a login that
    # cannot sign its session.
    secret = settings.resolve_session_secrets()[0]
    params = {
        "appid": settings.appid,
        "secret": settings.resolve_appsecret(),
        "js_code": code,
        "grant_type": "authorization_code",
    }
    try:
        # Not idempotent: a code is spent by the first exchange WeChat sees.
        answer = app.transport.request(
            "GET", PATH, deadline=inv.deadline, params=params, idempotent=False
        )
    except OutcomeUnknown:
        raise UpstreamError(
            "WeChat's answer to the login was lost; call wx.login() again for a new code",
            errcode=UPSTREAM_TIMEOUT,  # the outcome is unknown: the code may be spent
            retryable=False,
        ) from None
    errcode = answer.get("errcode", 0)
    if errcode:
        raise _refusal(errcode, str(answer.get("errmsg", "")))
    openid = answer.get("openid")
    if not isinstance(openid, str) or not session.is_openid(openid):
        raise UpstreamError("WeChat's login answer has no usable openid", retryable=False)
    ttl = settings.session_ttl
    token = session.issue(settings.appid, openid, secret, ttl)
    log.info("login: session issued for an openid (ttl %ss)", ttl)
    return {"errcode": 0, "errmsg": "ok", "session": token, "expires_in": ttl, "openid": openid}


def _refusal(errcode: Any, errmsg: str) -> WxapushError:
    if not isinstance(errcode, int) or isinstance(errcode, bool):
        return UpstreamError("WeChat answered the login unusably", retryable=True)
    if errcode in _CODE_REFUSED:
        what = "already used" if errcode == 40163 else "invalid or expired"
        return Unauthorized(
            f"the wx.login code is {what} ({errmsg})",
            errcode=errcode,
            hint="a code is good for one login within about 5 minutes: call wx.login() again",
        )
    if errcode == _RISKY_USER:
        return Forbidden(
            f"WeChat refuses this user's login ({errmsg})",
            errcode=errcode,
            hint="WeChat's risk control blocks this user; the server cannot lift it",
        )
    return error_for_errcode(errcode, errmsg)
