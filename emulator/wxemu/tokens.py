"""Issuing access tokens: the classic ``/cgi-bin/token`` and the stable ``/cgi-bin/stable_token``.

The two kinds are isolated: each has its own current token per app, and neither call touches the
other's. Decisions where WeChat's docs are silent are listed in
docs/wxemu.md.
"""

from __future__ import annotations

from . import ids
from .clock import day_of
from .errors import WeChatError
from .models import OVERLAP_SECONDS, TOKEN_LIFETIME, App, Token
from .state import Emulator

FORCE_REFRESHES_PER_DAY = 20
FORCE_REFRESH_GAP = 30


def _new_token(emulator: Emulator, app: App, kind: str) -> Token:
    now = emulator.clock.now()
    token = Token(ids.access_token(), app.appid, kind, now, now + TOKEN_LIFETIME)
    emulator.remember(token)
    return token


def _supersede(old: Token, now: float) -> None:
    if old.superseded_at is None:
        old.superseded_at = now


def issue_classic(emulator: Emulator, app: App) -> Token:
    """A fresh classic token; the previous one keeps working 5 more minutes.

    https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-access-token/api_getaccesstoken.html
    """
    with emulator.lock:
        old = app.classic_token
        token = _new_token(emulator, app, "classic")
        if old is not None:
            _supersede(old, token.issued_at)
        app.classic_token = token
        return token


def stable(emulator: Emulator, app: App, force_refresh: bool) -> Token:
    """The stable token: the same one while it has over 5 minutes left, else a new one.

    ``force_refresh`` replaces it at once (the old one keeps 5 minutes, and any token an earlier
    force refresh replaced dies now, so two refreshes 30 s apart kill a leaked token). At most 20
    force refreshes count a day (the 21st answers 45009); one within 30 s of the last is ignored
    and answers like normal mode, as the minigame page says ("否则不会刷新").
    https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-access-token/api_getstableaccesstoken.html
    """
    with emulator.lock:
        now = emulator.clock.now()
        current = app.stable_token
        usable = current is not None and current.problem(now) is None
        if force_refresh and current is not None:
            day = emulator.clock.day()
            # The 30 s gap holds across midnight; only the count of 20 restarts with the day.
            recent = [
                t for t in app.force_refreshes if day_of(t) == day or now - t < FORCE_REFRESH_GAP
            ]
            app.force_refreshes = recent
            too_soon = bool(recent) and now - recent[-1] < FORCE_REFRESH_GAP
            if not too_soon:
                if sum(day_of(t) == day for t in recent) >= FORCE_REFRESHES_PER_DAY:
                    raise WeChatError(45009)
                recent.append(now)
                for token in emulator.tokens.values():
                    if token.appid == app.appid and token.kind == "stable" and token.superseded_at:
                        token.revoked = True
                fresh = _new_token(emulator, app, "stable")
                _supersede(current, now)
                app.stable_token = fresh
                return fresh
        if current is not None and usable and current.expires_at - now > OVERLAP_SECONDS:
            return current
        # Renewal in the last 5 minutes: the old token simply runs out, so both work meanwhile.
        fresh = _new_token(emulator, app, "stable")
        app.stable_token = fresh
        return fresh
