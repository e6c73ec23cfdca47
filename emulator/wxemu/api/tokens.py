"""``/cgi-bin/token`` and ``/cgi-bin/stable_token``."""

from __future__ import annotations

from typing import Any

from ..call import Call
from ..errors import WeChatError
from ..models import App, Token
from ..quota import charge
from ..tokens import issue_classic, stable


def _credentials(call: Call, params: dict[str, Any]) -> App:
    if params.get("grant_type") != "client_credential":
        raise WeChatError(40002)
    appid = params.get("appid")
    if not appid or not isinstance(appid, str):
        raise WeChatError(41002)
    app = call.emulator.app(appid)
    secret = params.get("secret")
    if not secret or not isinstance(secret, str):
        raise WeChatError(41004)
    if secret != app.secret:
        raise WeChatError(40125)
    charge(app, call.path, call.emulator.clock)
    return app


def _answer(call: Call, token: Token) -> dict[str, Any]:
    remaining = round(token.expires_at - call.emulator.clock.now())
    return {"access_token": token.value, "expires_in": remaining}


def get_access_token(call: Call) -> dict[str, Any]:
    """A new classic token, 7200 s; the previous one works 5 more minutes.

    https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-access-token/api_getaccesstoken.html
    """
    app = _credentials(call, dict(call.query))
    return _answer(call, issue_classic(call.emulator, app))


def get_stable_access_token(call: Call) -> dict[str, Any]:
    """The stable token (POST JSON only); ``force_refresh`` must be JSON ``true`` to count.

    https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-access-token/api_getstableaccesstoken.html
    """
    try:
        body = call.json_object()
    except WeChatError as error:
        if error.errcode != 47001:
            raise
        # A body that is not JSON (a form, observed) reads as no fields: 41002 appid missing.
        raise WeChatError(41002) from None
    app = _credentials(call, body)
    return _answer(call, stable(call.emulator, app, body.get("force_refresh") is True))
