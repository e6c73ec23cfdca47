"""Access tokens shared by every instance: one upstream fetch however many ask at once.

Stable mode (``POST /cgi-bin/stable_token``, normal mode) is the default: WeChat itself returns
the same token to every caller and renews it in its last five minutes, so instances cannot
invalidate each other
(https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-access-token/api_getstableaccesstoken.html).
Classic mode (``GET /cgi-bin/token``) invalidates the previous token five minutes after each
fetch, which is why the fetch is single-flight behind a lock in the shared store
(https://developers.weixin.qq.com/miniprogram/dev/server/API/mp-access-token/api_getaccesstoken.html).
"""

from __future__ import annotations

import os
import random
import time
from typing import Any, Callable, Mapping, Optional, Tuple

from wxapush.errors import NoTimeLeft, UpstreamError
from wxapush.store.base import TokenCache, TokenRecord
from wxapush.wechat.client import Transport
from wxapush.wechat.errcodes import error_for_errcode

#: Refresh this long before WeChat's expiry (WeChat overlaps old and new tokens for 5 minutes).
REFRESH_MARGIN = 300.0
#: WeChat refuses (or ignores) force refreshes closer together than this.
FORCE_REFRESH_INTERVAL = 30.0
#: A fetch holding the lock longer than this is presumed dead; its lock frees itself.
LOCK_TTL = 10.0
#: The longest life a token answer may claim (WeChat's tokens live 7200 s) and the longest
#: token taken (WeChat reserves 512 characters).
MAX_EXPIRES_IN = 86400
MAX_TOKEN_LENGTH = 2048


class TokenManager:
    """Gets, caches and invalidates the access token of one app in one mode."""

    def __init__(
        self,
        *,
        appid: str,
        secret: Callable[[], str],
        mode: str,
        cache: TokenCache,
        transport: Transport,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.appid = appid
        self._secret = secret
        self.mode = mode
        self.cache = cache
        self.transport = transport
        self.clock = clock
        self.key = f"token:{appid}:{mode}"
        self.lock_name = f"token-fetch:{appid}:{mode}"
        # The instance's own copy spares the store a read per call. It is safe to trust: a
        # token replaced elsewhere fails with 40001/42001, which invalidates it here too.
        self._memo: Optional[TokenRecord] = None

    def get(self, *, deadline: float, force_refresh: bool = False) -> TokenRecord:
        """A usable token, from the cache when possible, else fetched once for everyone."""
        if not force_refresh:
            memo = self._memo
            if memo is not None and self._usable(memo):
                return memo
            cached = self.cache.get_token(self.key)
            if cached is not None and self._usable(cached):
                self._memo = cached
                return cached
        owner = os.urandom(16).hex()  # as unique as a uuid4, without importing uuid
        while True:
            if self.cache.acquire_lock(self.lock_name, owner, LOCK_TTL):
                try:
                    self._memo = self._fetch_locked(deadline, force_refresh)
                    return self._memo
                finally:
                    self.cache.release_lock(self.lock_name, owner)
            # Someone else is fetching: wait for their record instead of fetching too.
            time.sleep(random.uniform(0.01, 0.03))
            cached = self.cache.get_token(self.key)
            if cached is not None and self._usable(cached) and not force_refresh:
                self._memo = cached
                return cached
            if time.monotonic() >= deadline:
                if cached is not None and cached.expires_at > self.clock():
                    return cached
                raise NoTimeLeft("timed out waiting for the access token")

    def invalidate(self, token: str) -> bool:
        """Forget ``token`` if it is still the cached one (another instance may have renewed it)."""
        if self._memo is not None and self._memo.token == token:
            self._memo = None
        return self.cache.invalidate_token(self.key, token)

    def _usable(self, record: TokenRecord) -> bool:
        # A token WeChat handed out with little life left (stable mode near renewal) is still
        # used for half of that life, so callers do not refetch on every call.
        now = self.clock()
        margin = min(REFRESH_MARGIN, (record.expires_at - record.fetched_at) / 2)
        return record.expires_at - now > margin

    def _fetch_locked(self, deadline: float, force_refresh: bool) -> TokenRecord:
        cached = self.cache.get_token(self.key)
        now = self.clock()
        if cached is not None:
            if not force_refresh and self._usable(cached):
                return cached  # fetched by the instance that held the lock before us
            if force_refresh and now - cached.fetched_at < FORCE_REFRESH_INTERVAL:
                return cached  # WeChat would not refresh again so soon; keep its budget
        record = self._fetch(deadline, force_refresh)
        self.cache.put_token(self.key, record)
        return record

    def _fetch(self, deadline: float, force_refresh: bool) -> TokenRecord:
        if self.mode == "classic":
            params = {
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self._secret(),
            }
            answer = self.transport.request(
                "GET", "/cgi-bin/token", deadline=deadline, params=params
            )
        else:
            body = {
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self._secret(),
                "force_refresh": force_refresh,
            }
            answer = self.transport.request(
                "POST", "/cgi-bin/stable_token", deadline=deadline, json=body
            )
        errcode = answer.get("errcode", 0)
        if errcode:
            raise error_for_errcode(errcode, str(answer.get("errmsg", "")))
        token, expires_in = _checked(answer)
        now = self.clock()
        return TokenRecord(token=token, expires_at=now + expires_in, fetched_at=now)


def _checked(answer: Mapping[str, Any]) -> Tuple[str, int]:
    """The token and its life from WeChat's answer, refused unless both are plausible: a token
    of printable ASCII, a life of 1 s to a day (a negative one would fetch on every call, one
    of 400 digits would overflow the clock)."""
    token, expires_in = answer.get("access_token"), answer.get("expires_in")
    if (
        not isinstance(token, str)
        or not 0 < len(token) <= MAX_TOKEN_LENGTH
        or not token.isascii()
        or not token.isprintable()
        or " " in token
    ):
        raise UpstreamError("token answer without a usable access_token", retryable=True)
    if (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, int)
        or not 0 < expires_in <= MAX_EXPIRES_IN
    ):
        raise UpstreamError(
            f"token answer's expires_in is not 1 to {MAX_EXPIRES_IN} seconds", retryable=True
        )
    return token, expires_in
