"""get_token: the shared access token, for services only.

https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-access-token/api_getstableaccesstoken.html
"""

from __future__ import annotations

import time
from typing import Any

from wxapush.app import current_app
from wxapush.dates import iso
from wxapush.errors import Forbidden, ok
from wxapush.runtime import Invocation
from wxapush.services.fields import flag


def run(inv: Invocation) -> dict[str, Any]:
    """``{}`` or ``{"force_refresh": true}`` -> the token, its remaining life and its expiry."""
    if inv.caller.kind != "service":
        raise Forbidden("get_token is for services only")
    app = current_app()
    force = flag(inv.request, "force_refresh", "forceRefresh")
    record = app.tokens.get(deadline=inv.deadline, force_refresh=force)
    return ok(
        access_token=record.token,
        expires_in=max(0, int(record.expires_at - time.time())),
        expires_at=iso(record.expires_at, app.settings.tzinfo),
    )
